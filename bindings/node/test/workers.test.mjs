// The addon in worker_threads: each worker loads its own copy of the
// bindings (its own ImagorError class), works concurrently with the main
// thread, and terminating busy workers does not disturb anyone else.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { imagor, pkgDir, readTestdata, testdata } from './helpers.mjs'

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const imagor = require(workerData.pkgDir)
const gopher = readFileSync(join(workerData.testdata, 'gopher.png'))
async function main() {
  if (workerData.mode === 'loader') {
    // Many serves whose loader answers slowly: terminated while they wait.
    const server = new imagor.Imagor({ unsafe: true, loader: async () => { await new Promise((r) => setTimeout(r, 300)); return gopher } })
    for (let i = 0; i < 8; i++) server.serve('unsafe/fit-in/50x50/gopher.png').catch(() => {})
    parentPort.postMessage('started')
    return
  }
  if (workerData.mode === 'busy') {
    parentPort.postMessage('started')
    for (;;) await imagor.process(gopher, 'fit-in/200x200/filters:format(webp)')
  }
  const sizes = []
  for (let i = 0; i < 10; i++) {
    const out = await imagor.process(gopher, (30 + i) + 'x' + (30 + i) + '/filters:format(png)')
    sizes.push((await imagor.meta(out)).width)
  }
  const server = new imagor.Imagor({ unsafe: true, fileLoaderBaseDir: workerData.testdata })
  const served = await server.serve('unsafe/fit-in/50x50/gopher.png')
  let error
  try { await imagor.process(Buffer.from('nope'), '10x10/') } catch (e) {
    error = { isImagorError: e instanceof imagor.ImagorError, code: e.code, status: e.status }
  }
  parentPort.postMessage({
    sign: imagor.sign('500x500/top/a.png', 'mysecret'),
    sizes,
    served: served.contentType,
    error,
  })
}
main().catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }))
`

function startWorker(mode) {
  return new Worker(workerSource, { eval: true, workerData: { pkgDir, testdata, mode } })
}

test('worker threads use the addon concurrently', async () => {
  const results = await Promise.all(
    Array.from({ length: 4 }, () => {
      const w = startWorker('work')
      return new Promise((resolve, reject) => {
        w.once('message', resolve)
        w.once('error', reject)
      }).finally(() => w.terminate())
    }),
  )
  for (const r of results) {
    assert.equal(r.failed, undefined, r.failed)
    assert.equal(r.sign, imagor.sign('500x500/top/a.png', 'mysecret'))
    assert.deepEqual(r.sizes, [30, 31, 32, 33, 34, 35, 36, 37, 38, 39])
    assert.equal(r.served, 'image/png')
    assert.deepEqual(r.error, { isImagorError: true, code: 'ERR_IMAGOR_UNSUPPORTED_FORMAT', status: 406 })
  }
})

test('terminating busy workers leaves the main thread working', async () => {
  const gopher = readTestdata('gopher.png')
  for (let round = 0; round < 3; round++) {
    const workers = Array.from({ length: 3 }, () => startWorker('busy'))
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))))
    await new Promise((r) => setTimeout(r, 30 + round * 20))
    const codes = await Promise.all(workers.map((w) => w.terminate()))
    assert.deepEqual(codes, [1, 1, 1])
    const out = await imagor.process(gopher, '25x25/filters:format(png)')
    assert.equal((await imagor.meta(out)).width, 25)
  }
})

test('a terminated worker does not hold loads of its JavaScript loader', { timeout: 30000 }, async () => {
  const gopher = readTestdata('gopher.png')
  const workers = Array.from({ length: 2 }, () => startWorker('loader'))
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))))
  await new Promise((r) => setTimeout(r, 50))
  await Promise.all(workers.map((w) => w.terminate()))
  // The loader threads are free again: these complete long before the 60 s load timeout.
  const server = new imagor.Imagor({ unsafe: true, loader: async () => gopher })
  const out = await Promise.all(Array.from({ length: 8 }, () => server.serve('unsafe/20x20/gopher.png')))
  assert.deepEqual(out.map((o) => o.contentType), Array(8).fill('image/png'))
})
