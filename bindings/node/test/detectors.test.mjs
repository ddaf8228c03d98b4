// JavaScript detectors: new Imagor({ detectors: [fn] }) steers smart crop,
// redact(), redact_oval(), draw_detections() and /meta. The function runs on
// the JavaScript thread (sync or async), the processing off it; what it
// throws rejects with ERR_IMAGOR_DETECTOR.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { isMainThread, threadId } from 'node:worker_threads'

import { imagor, readTestdata, testdata, vectors } from './helpers.mjs'

const { Imagor, process: plainProcess } = imagor

// imagor's test stub (processor_test.go), as in the golden manifest.
const FACE_EYE = [
  [0.1, 0.1, 0.4, 0.6, 0, 'face'],
  [0.6, 0.05, 0.9, 0.55, 0, 'eye'],
]

function fixed(regions) {
  return (pixels, width, height, bands) => {
    assert.ok(pixels instanceof Uint8Array)
    assert.equal(pixels.length, width * height * bands)
    return regions
  }
}

/** Equal pixels: both re-encoded by libvips with the same settings. */
async function samePixels(a, b) {
  const norm = 'filters:strip_metadata():format(png)'
  return Buffer.compare(await plainProcess(a, norm), await plainProcess(b, norm)) === 0
}

test('goldens through a JavaScript detector', async () => {
  const im = new Imagor({ unsafe: true, fileLoaderBaseDir: testdata, detectors: [async (...a) => fixed(FACE_EYE)(...a)] })
  const plain = new Imagor({ unsafe: true, fileLoaderBaseDir: testdata })
  for (const [golden_, path] of [
    ['draw_detections/filters%3Adraw_detections%28%29', 'filters:draw_detections()/gopher-front.png'],
    ['redact/filters%3Aredact%28black%29', 'filters:redact(black)/gopher-front.png'],
    ['redact_oval/filters%3Aredact_oval%28white%29', 'filters:redact_oval(white)/gopher-front.png'],
  ]) {
    const golden = readFileSync(join(testdata, 'golden', golden_, 'gopher-front.png'))
    const { data } = await im.serve(`unsafe/${path}`)
    assert.ok(await samePixels(data, golden), path)
    assert.ok(!(await samePixels((await plain.serve(`unsafe/${path}`)).data, golden)), `${path} without a detector`)
  }
})

test('meta.json assertions with stub detectors', async () => {
  const cases = vectors('meta.json').assertions.filter((c) => c.config?.detectors)
  assert.ok(cases.length >= 3)
  for (const c of cases) {
    const detectors = c.config.detectors.map((d) =>
      fixed(d.stub_regions.map((r) => [r.left, r.top, r.right, r.bottom, r.score ?? null, r.name ?? null])),
    )
    const im = new Imagor({ unsafe: true, fileLoaderBaseDir: testdata, detectors })
    const m = JSON.parse((await im.serve(`unsafe/${c.path}`)).data)
    for (const f of c.expect_absent ?? []) assert.ok(!(f in m), `${c.id}: ${f}`)
    const regions = m.detected_regions ?? []
    if (c.expect_detected_region_names) assert.deepEqual(regions.map((r) => r.name), c.expect_detected_region_names)
    if (c.expect_detected_region_count !== undefined) assert.equal(regions.length, c.expect_detected_region_count)
  }
})

test('the detector runs on the JavaScript thread, the processing does not block it', async () => {
  const seen = []
  const im = new Imagor({
    detectors: [
      async (pixels, width, height, bands) => {
        seen.push([isMainThread, threadId, width, height, bands])
        await new Promise((r) => setTimeout(r, 5))
        return [[0.2, 0.2, 0.8, 0.8, 7.5, 'thing']]
      },
    ],
  })
  const gopher = readTestdata('gopher.png')
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  const metas = await Promise.all([1, 2, 3].map(() => im.meta(gopher, 'fit-in/100x100/filters:redact(pixelate)')))
  clearInterval(timer)
  // Twice per request: for the redact() filter, then for /meta's regions.
  assert.equal(seen.length, 6)
  assert.ok(seen.every(([main]) => main))
  assert.ok(ticks > 0, 'the event loop kept running')
  assert.deepEqual(metas[0].detected_regions[0].name, 'thing')
  assert.equal(metas[0].detected_regions[0].score, 7.5)
})

test('a detector that never answers is given up at the process timeout', async () => {
  const im = new Imagor({ processTimeout: '1s', detectors: [() => new Promise(() => {})] })
  const started = Date.now()
  await assert.rejects(im.process(readTestdata('gopher.png'), 'filters:redact()'), (e) => {
    assert.equal(e.code, 'ERR_IMAGOR_TIMEOUT')
    return true
  })
  const took = Date.now() - started
  assert.ok(took < 5000, `answered after ${took} ms (it waited 60 s)`)
})

test('a detector may call back into its own instance, with one processing slot', async () => {
  // The detector's JavaScript runs on the main thread and its call on a
  // worker thread: while the outer call kept its only slot, that call waited
  // for it until the outer call's deadline, every time.
  const gopher = readTestdata('gopher.png')
  const im = new Imagor({
    processSlots: 1,
    requestTimeout: 20,
    detectors: [
      async () => {
        const small = await im.process(gopher, '10x10')
        assert.ok(small.length > 0)
        return []
      },
    ],
  })
  const started = Date.now()
  // More at once than the libuv pool has threads: an instance with
  // JavaScript detectors runs its calls on the addon's own threads, so the
  // detectors' calls always find one.
  const out = await Promise.all([0, 1, 2, 3, 4, 5].map(() => im.process(gopher, '60x60/smart')))
  for (const o of out) assert.ok(o.length > 0)
  const took = Date.now() - started
  assert.ok(took < 10000, `answered after ${took} ms`)
})

test('whatever a detector or loader throws answers the call', async () => {
  // Values whose message or text conversion throws, or that have none: the
  // bridge's own handler threw on them, which ended the process.
  const hostile = [
    () => Object.create(null),
    () => ({ get message() { throw new Error('getter') } }),
    () => ({ toString() { throw new Error('toString') } }),
    () => ({ get status() { throw new Error('status') }, message: 'plain' }),
    () => Symbol('thrown'),
  ]
  const gopher = readTestdata('gopher.png')
  for (const value of hostile) {
    const detecting = new Imagor({ detectors: [async () => { throw value() }] })
    await assert.rejects(detecting.process(gopher, 'filters:redact()'), { code: 'ERR_IMAGOR_DETECTOR' })
    const loading = new Imagor({ unsafe: true, loader: async () => { throw value() } })
    await assert.rejects(loading.serve('unsafe/fit-in/10x10/a.png'), { code: 'ERR_IMAGOR_INTERNAL' })
  }
})

test('detector failures are ImagorErrors with ERR_IMAGOR_DETECTOR', async () => {
  const gopher = readTestdata('gopher.png')
  const expectFail = async (detector, message) => {
    const im = new Imagor({ detectors: [detector] })
    await assert.rejects(im.process(gopher, 'filters:redact()'), (e) => {
      assert.equal(e.name, 'ImagorError')
      assert.equal(e.code, 'ERR_IMAGOR_DETECTOR')
      assert.equal(e.status, 500)
      assert.match(e.message, message)
      return true
    })
  }
  await expectFail(() => {
    throw new Error('model missing')
  }, /model missing/)
  await expectFail(async () => Promise.reject(new Error('async boom')), /async boom/)
  await expectFail(() => 42, /not an array/)
  await expectFail(() => [[0.1, 0.2]], /bad region/)
  await expectFail(() => [[NaN, 0, 1, 1]], /bad region/)
  await expectFail(() => [[0.9, 0, 0.1, 1]], /inverted/)
  await expectFail(() => Array(1000).fill([0, 0, 0.1, 0.1]), /more than/)
  // null: no regions; out of range: clamped.
  const none = await new Imagor({ detectors: [() => null] }).meta(gopher, 'filters:redact()')
  assert.equal(none.detected_regions, undefined)
  const clamped = await new Imagor({ detectors: [() => [[-1, -1, 2, 0.5]]] }).meta(gopher, 'filters:redact()')
  assert.equal(clamped.detected_regions[0].left, 0)
  // A synchronous call cannot wait for JavaScript.
  assert.throws(() => new Imagor({ detectors: [() => []] }).processSync(gopher, 'filters:redact()'), {
    code: 'ERR_IMAGOR_DETECTOR',
  })
  assert.throws(() => new Imagor({ detectors: [1] }), { name: 'TypeError', message: /detectors\[0\] must be a function/ })
  assert.throws(() => new Imagor({ detectors: () => [] }), { name: 'TypeError', message: /array of functions/ })
})
