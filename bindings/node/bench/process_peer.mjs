// imagor (Node) side of `make bench`: process(buf, '512x512/filters:format(F)')
// (cover resize + encode with imagor's encoder settings) on the libuv pool.
import { createRequire } from 'node:module'

import { args, corpus, drive } from './common.mjs'

const { process: imagorProcess } = createRequire(import.meta.url)('..')
const a = args()
const path = `${a.size}x${a.size}/filters:format(${a.format})`
await drive('imagor (Node)', corpus(a.corpus), (buf) => imagorProcess(buf, path), a)
