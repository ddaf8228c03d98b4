// The per-call budget (processTimeout, maxMemory), the memory all calls
// share (maxTotalMemory), untrusted formats, the
// secret kept out of `options`, and input bytes copied before the call
// leaves the JavaScript thread.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { imagor, readTestdata, testdata } from './helpers.mjs'

const { Imagor, process: run } = imagor

test('a blur over the time budget is ERR_IMAGOR_TIMEOUT naming processTimeout', async () => {
  for (const [timeout, shown] of [[0.3, '300ms'], ['300ms', '300ms']]) {
    await assert.rejects(
      run(Buffer.alloc(0), '2000x2000/filters:blur(0,1000)/color:red', { processTimeout: timeout }),
      (e) => e.code === 'ERR_IMAGOR_TIMEOUT' && e.status === 408 && e.message.includes(`process_timeout (${shown})`),
    )
  }
})

test('memory over the budget is ERR_IMAGOR_LIMIT_EXCEEDED naming max_memory', async () => {
  const im = new Imagor({ maxMemory: 1_000_000 })
  await assert.rejects(
    im.process(readTestdata('gopher.png'), 'filters:format(webp)'),
    (e) => e.code === 'ERR_IMAGOR_LIMIT_EXCEEDED' && e.status === 422 && e.message.includes('max_memory'),
  )
  // An input over maxMemory is refused before it is copied.
  const padded = Buffer.concat([readTestdata('demo1.jpg'), Buffer.alloc(2 << 20)])
  for (const call of [() => im.process(padded, '10x10'), () => im.meta(padded)]) {
    await assert.rejects(call(), (e) => e.status === 422 && e.message.includes('the input image is larger than max_memory'))
  }
  assert.throws(() => new Imagor({ processTimeout: true }), TypeError)
  assert.throws(() => new Imagor({ processTimeout: 'soon' }))
})

test('a source file counts against maxTotalMemory before it is read', async () => {
  const im = new Imagor({ unsafe: true, fileLoaderBaseDir: testdata, maxTotalMemory: 1 << 20 })
  await assert.rejects(
    im.serve('unsafe/50x50/jpg-24bit-icc-adobe-rgb.jpg'),
    (e) =>
      e.code === 'ERR_IMAGOR_LIMIT_EXCEEDED' &&
      e.message.includes('the image file needs about 1.2 MiB') &&
      e.message.includes('max_total_memory (1 MiB)'),
  )
  const served = await im.serve('unsafe/50x50/gopher.png')
  assert.equal(served.data.subarray(1, 4).toString(), 'PNG')
})

test('calls together share maxTotalMemory: over it alone is a 422, a flood waits or is a 429', async () => {
  const png = readTestdata('gopher.png')
  await assert.rejects(
    new Imagor({ maxTotalMemory: 1000 }).process(png, 'filters:format(webp)'),
    (e) => e.code === 'ERR_IMAGOR_LIMIT_EXCEEDED' && e.status === 422 && e.message.includes('max_total_memory'),
  )
  const im = new Imagor({ maxTotalMemory: 1 << 20, processTimeout: 60 })
  const results = await Promise.allSettled(
    Array.from({ length: 32 }, () => im.process(png, 'fit-in/300x300/filters:format(webp)')),
  )
  const done = results.filter((r) => r.status === 'fulfilled')
  assert.ok(done.length >= 1)
  for (const r of done) assert.equal(r.value.subarray(8, 12).toString(), 'WEBP')
  for (const r of results.filter((r) => r.status === 'rejected')) {
    assert.equal(r.reason.code, 'ERR_IMAGOR_TOO_MANY_REQUESTS', r.reason.message)
  }
})

test('untrusted formats are refused unless blockUntrustedLoaders is false', async () => {
  const pdf = readTestdata('sample.pdf')
  if (!imagor.formats().load.includes('pdf')) {
    // The prebuilt package's libvips has no PDF loader: refused either way,
    // saying so (formats.test.mjs checks the message).
    for (const im of [new Imagor(), new Imagor({ blockUntrustedLoaders: false })]) {
      await assert.rejects(im.meta(pdf), (e) => e.code === 'ERR_IMAGOR_UNSUPPORTED_FORMAT' && e.message.includes(' pdf '))
    }
    return
  }
  await assert.rejects(imagor.meta(pdf), (e) => e.code === 'ERR_IMAGOR_UNSUPPORTED_FORMAT' && e.message.includes('untrusted'))
  const meta = await new Imagor({ blockUntrustedLoaders: false }).meta(pdf)
  assert.equal(meta.format, 'pdf')
})

test('options never return the secret', () => {
  assert.equal(new Imagor({ secret: 'topsecret' }).options.secret, '<redacted>')
  assert.equal(new Imagor({}).options.secret, '')
})

test('input bytes are copied before the call leaves the JavaScript thread', async () => {
  const png = new Uint8Array(readTestdata('gopher.png'))
  const expected = await run(png.slice(), 'fit-in/40x40/filters:format(png)')
  const pending = run(png, 'fit-in/40x40/filters:format(png)')
  png.fill(0) // the caller reuses its buffer at once
  assert.deepEqual(await pending, expected)
})

test('inputs waiting for a thread count against maxTotalMemory: a flood is refused before it is copied', async () => {
  const jpeg = readTestdata('jpg-24bit-icc-adobe-rgb.jpg') // 1.24 MiB
  const im = new Imagor({ maxTotalMemory: 32 << 20, processTimeout: 60 })
  // Queued in one go: the inputs may fill three quarters of the pool (24 MiB).
  const calls = Array.from({ length: 60 }, () => im.process(jpeg, 'fit-in/16x16'))
  const results = await Promise.allSettled(calls)
  const refused = results.filter((r) => r.status === 'rejected')
  for (const r of refused) assert.equal(r.reason.code, 'ERR_IMAGOR_TOO_MANY_REQUESTS', r.reason.message)
  assert.ok(refused.length >= 60 - 19, `${refused.length} of 60 refused`)
  assert.ok(results.some((r) => r.status === 'fulfilled'))
  await assert.rejects(
    new Imagor({ maxTotalMemory: 1 << 20 }).meta(jpeg),
    (e) => e.code === 'ERR_IMAGOR_LIMIT_EXCEEDED' && e.message.includes('the input image needs about 1.2 MiB'),
  )
})
