// Shared by the Node peers of `make bench`: argument parsing, the corpus, and
// the driver loop that keeps N calls in flight for a fixed time and prints
// the JSON line of core/benches/compare.py's protocol.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export function args() {
  const argv = process.argv.slice(2)
  const get = (name, dflt) => {
    const i = argv.indexOf(name)
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt
  }
  return {
    corpus: get('--corpus'),
    format: get('--format', 'jpeg'),
    size: Number(get('--size', '512')),
    threads: Number(get('--threads', '1')),
    seconds: Number(get('--seconds', '4')),
  }
}

export function corpus(dir) {
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f)))
    .sort((a, b) => a.length - b.length)
}

function cpuSeconds() {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Keep `threads` calls of `once(file)` in flight for `seconds`; print the result line. */
export async function drive(name, files, once, { threads, seconds }) {
  // Warm-up (codec init is not measured), and the mean output size.
  let outBytes = 0
  for (const f of files) {
    const out = await once(f)
    outBytes += Buffer.isBuffer(out) ? out.length : 0
  }
  let ops = 0
  let stop = false
  const cpu0 = cpuSeconds()
  const t0 = performance.now()
  const worker = async (t) => {
    for (let i = t; !stop; i++) {
      await once(files[i % files.length])
      ops++
    }
  }
  const timer = setTimeout(() => (stop = true), seconds * 1000)
  await Promise.all(Array.from({ length: threads }, (_, t) => worker(t)))
  clearTimeout(timer)
  const wall = (performance.now() - t0) / 1000
  const cpu = cpuSeconds() - cpu0
  const n = Math.max(ops, 1)
  console.log(JSON.stringify({
    impl: name,
    ops: n,
    wall_s: Number(wall.toFixed(3)),
    ops_per_s: Number((n / wall).toFixed(3)),
    cpu_ms_per_op: Number(((cpu * 1000) / n).toFixed(3)),
    peak_rss_kib: process.resourceUsage().maxRSS,
    bytes_per_op: Math.round(outBytes / Math.max(files.length, 1)),
  }))
}
