// `make bench` for the Node package: imagor (Node) against sharp (its own
// bundled libvips) and pyvips (the system libvips imagor also uses), in
// alternating rounds of separate processes, 512x512 cover resize per format
// at 1 and 2 calls in flight; then imagor.sign against crypto.createHmac.
// Prints a table with ratios and writes it to target/bench/node.md.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..')
const argv = process.argv.slice(2)
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt)
const python = opt('--python', 'python3')
const corpusDir = opt('--corpus', join(root, 'target', 'bench-corpus'))
const seconds = opt('--seconds', '3')
const rounds = Number(opt('--rounds', '3'))
const threadsList = opt('--threads', '1,2').split(',').map(Number)
const formats = opt('--formats', 'jpeg,png,webp,avif').split(',')
// The Rust core's own driver (core/examples/bench_process), when built: shows the binding's overhead.
const rustDriver = opt('--rust', '')

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (res.status !== 0) throw new Error(`failed: ${cmd} ${args.join(' ')}\n${res.stderr}`)
  const lines = res.stdout.split('\n').filter((l) => l.startsWith('{'))
  return lines.map((l) => JSON.parse(l))
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function sides(format, threads) {
  const dir = join(corpusDir, format)
  const common = ['--corpus', dir, '--format', format, '--threads', String(threads), '--seconds', seconds]
  const rust = rustDriver
    ? { 'imagor-rs (Rust)': () => run(rustDriver, ['--corpus', dir, '--path', `512x512/filters:format(${format})`, '--threads', String(threads), '--seconds', seconds]) }
    : {}
  return {
    'imagor (Node)': () => run('node', [join(here, 'process_peer.mjs'), ...common]),
    ...rust,
    sharp: () => run('node', [join(here, 'sharp_peer.mjs'), ...common]),
    pyvips: () => run(python, [join(root, 'core', 'benches', 'pyvips_peer.py'), ...common]),
  }
}

const lines = []
const out = (s) => {
  console.log(s)
  lines.push(s)
}

const sharpVersions = JSON.parse(
  spawnSync('node', ['-e', "console.log(JSON.stringify(require('sharp').versions))"], { cwd: here, encoding: 'utf8' }).stdout,
)
const ours = JSON.parse(spawnSync('node', ['-e', "console.log(JSON.stringify(require('.').versions()))"], { cwd: join(here, '..'), encoding: 'utf8' }).stdout)
out(`## imagor (Node) vs sharp and pyvips: 512x512 cover resize, ${rounds} rounds of ${seconds}s, medians`)
out('')
out(`imagor-rs ${ours.imagor} on system libvips ${ours.vips} (pyvips uses the same); sharp ${sharpVersions.sharp} on its bundled libvips ${sharpVersions.vips}.`)
out('')
out('| format | in flight | implementation | ops/s | CPU ms/op | vs pyvips | vs sharp |')
out('|---|---|---|---|---|---|---|')
const summary = []
for (const format of formats) {
  for (const threads of threadsList) {
    const results = {}
    const ss = sides(format, threads)
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of Object.entries(ss)) (results[name] ??= []).push(fn()[0])
    }
    const ops = (name) => median(results[name].map((x) => x.ops_per_s))
    for (const name of Object.keys(ss)) {
      const cpu = median(results[name].map((x) => x.cpu_ms_per_op))
      out(`| ${format} | ${threads} | ${name} | ${ops(name).toFixed(2)} | ${cpu.toFixed(1)} | ${(ops(name) / ops('pyvips')).toFixed(3)}x | ${(ops(name) / ops('sharp')).toFixed(3)}x |`)
    }
    summary.push([format, threads, ops('imagor (Node)') / ops('pyvips'), ops('imagor (Node)') / ops('sharp')])
  }
}
out('')
out('| format | in flight | imagor (Node) / pyvips | imagor (Node) / sharp |')
out('|---|---|---|---|')
for (const [f, t, p, s] of summary) out(`| ${f} | ${t} | ${p.toFixed(3)}x | ${s.toFixed(3)}x |`)

out('')
out(`## imagor.sign vs crypto.createHmac (one thread, ${rounds} rounds, medians)`)
out('')
out('| implementation | ops/s | ns/op | imagor.sign / this |')
out('|---|---|---|---|')
const signResults = {}
for (let r = 0; r < rounds; r++) {
  for (const res of run('node', [join(here, 'sign_peer.mjs'), '--seconds', '2'])) (signResults[res.impl] ??= []).push(res)
}
const signOps = Object.fromEntries(Object.entries(signResults).map(([k, v]) => [k, median(v.map((x) => x.ops_per_s))]))
for (const [name, ops] of Object.entries(signOps)) {
  const mine = name.includes('sha256') ? signOps['imagor.sign (sha256, truncate 40)'] : signOps['imagor.sign']
  out(`| ${name} | ${Math.round(ops)} | ${Math.round(1e9 / ops)} | ${(mine / ops).toFixed(2)}x |`)
}

mkdirSync(join(root, 'target', 'bench'), { recursive: true })
writeFileSync(join(root, 'target', 'bench', 'node.md'), lines.join('\n') + '\n')
