// Does the HTTP loader lose time by buffering the origin's body before
// libvips decodes it? For each corpus image, sequentially (one call at a
// time, medians of --runs):
//   process  decode + resize to 512x512 + encode, source already in memory
//   fetch    the source through the HTTP loader, unprocessed (raw())
//   both     fetch then process, as a request does (buffered)
// against a local origin on 127.0.0.1, unthrottled and at --rate MB/s (a
// remote origin). Streaming into libvips could at best overlap the two, so
// min(process, fetch) / both bounds what it could save.
//
//   node bench/http_loader.mjs --corpus ../../target/bench-corpus [--runs 7] [--rate 20] [--formats jpeg,webp]
import { readFileSync, readdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'

import { imagor as im } from '../test/helpers.mjs'

const argv = process.argv.slice(2)
const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt)
const corpus = arg('--corpus', '../../target/bench-corpus')
const runs = Number(arg('--runs', '7'))
const rate = Number(arg('--rate', '20')) * 1e6
const formats = arg('--formats', 'jpeg,webp').split(',')

const files = new Map()
for (const fmt of readdirSync(corpus).filter((f) => formats.includes(f))) {
  for (const f of readdirSync(join(corpus, fmt))) files.set(`${fmt}/${f}`, readFileSync(join(corpus, fmt, f)))
}

// `/fast/<file>` at once; `/slow/<file>` at `rate` bytes per second.
const origin = createServer((req, res) => {
  const [, speed, ...rest] = req.url.split('/')
  const body = files.get(rest.join('/'))
  if (!body) return res.writeHead(404).end()
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length })
  if (speed === 'fast') return res.end(body)
  const chunk = 64 * 1024
  let at = 0
  const start = Date.now()
  const next = () => {
    if (at >= body.length) return res.end()
    res.write(body.subarray(at, at + chunk))
    at += chunk
    setTimeout(next, Math.max(0, start + (at / rate) * 1000 - Date.now()))
  }
  next()
})
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
const host = `127.0.0.1:${origin.address().port}`

const imagor = new im.Imagor({
  unsafe: true,
  processTimeout: '60s',
  httpLoaderBlockLoopbackNetworks: false,
  httpLoaderAllowedSources: [host],
})
const path = 'fit-in/512x512/filters:format(jpeg)'
// process() ignores a trailing image segment: end the bare path with '/'.
const bare = `${path}/`

async function median(fn) {
  await fn()
  const times = []
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint()
    await fn()
    times.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]
}

const rows = []
for (const [name, body] of [...files].sort()) {
  const row = { image: name, mb: +(body.length / 1e6).toFixed(2) }
  row.process = await median(() => imagor.process(body, bare))
  for (const speed of ['fast', 'slow']) {
    const url = `http://${host}/${speed}/${name}`
    row[`fetch_${speed}`] = await median(() => imagor.serve(`unsafe/filters:raw()/${url}`))
    row[`both_${speed}`] = await median(() => imagor.serve(`unsafe/${path}/${url}`))
    // Streaming overlaps transfer and decoding: it saves at most the
    // shorter of the two, as a share of the buffered request.
    const bound = Math.min(row.process, row[`fetch_${speed}`])
    row[`save_${speed}`] = `<= ${((bound / row[`both_${speed}`]) * 100).toFixed(0)}%`
  }
  for (const k of Object.keys(row)) if (typeof row[k] === 'number' && k !== 'mb') row[k] = +row[k].toFixed(1)
  rows.push(row)
}
origin.close()
console.log(`median ms of ${runs} runs; slow origin ${rate / 1e6} MB/s; save_* = the most streaming could save (the shorter of fetch and process, over both)`)
console.table(rows)
