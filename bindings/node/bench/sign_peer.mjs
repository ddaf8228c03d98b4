// Signing side of `make bench`: imagor.sign against node:crypto's
// createHmac, single-threaded, on the same paths and secret. Prints one
// JSON line per implementation.
import { createHmac } from 'node:crypto'
import { createRequire } from 'node:module'

const { sign } = createRequire(import.meta.url)('..')
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 2)
const secret = 'my-imagor-secret-key'
const paths = Array.from({ length: 64 }, (_, i) => `fit-in/${100 + i}x${200 + i}/filters:format(webp):quality(${50 + i})/uploads/2024/photo-${i}.jpg`)

const sides = {
  // Same output as imagor (padded base64url), the usual hand-written form.
  'crypto.createHmac (padded base64url)': (p) => createHmac('sha1', secret).update(p).digest('base64').replace(/\+/g, '-').replace(/\//g, '_'),
  // The cheapest createHmac form (unpadded: not imagor's signature).
  'crypto.createHmac (digest base64url)': (p) => createHmac('sha1', secret).update(p).digest('base64url'),
  'imagor.sign': (p) => sign(p, secret),
  'imagor.sign (sha256, truncate 40)': (p) => sign(p, secret, { signerType: 'sha256', truncate: 40 }),
  'crypto.createHmac (sha256, truncate 40)': (p) => createHmac('sha256', secret).update(p).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').slice(0, 40),
}

function run(fn) {
  let sink = 0
  for (let i = 0; i < 20000; i++) sink += fn(paths[i & 63]).length // warm-up
  let ops = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) sink += fn(paths[i & 63]).length
    ops += 1000
  }
  const wall = (performance.now() - t0) / 1000
  if (sink === 0) throw new Error('unreachable')
  return { ops, wall_s: Number(wall.toFixed(3)), ops_per_s: Math.round(ops / wall), ns_per_op: Math.round((wall * 1e9) / ops) }
}

const only = process.argv[process.argv.indexOf('--side') + 1]
for (const [name, fn] of Object.entries(sides)) {
  if (process.argv.includes('--side') && name !== only) continue
  console.log(JSON.stringify({ impl: name, ...run(fn) }))
}
