// Error codes per kind (ImagorError .code/.status), TypeErrors for bad
// arguments and options, and panics caught at the boundary.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { imagor, nativeAddon, pkgDir, readTestdata, testdata } from './helpers.mjs'

const { process, processSync, meta, Imagor, ImagorError, sign, parse, generate } = imagor
const gopher = readTestdata('gopher.png')

/** The codes index.d.ts promises (the ImagorErrorCode union). */
const declaredCodes = new Set(
  [...readFileSync(join(pkgDir, 'index.d.ts'), 'utf8').matchAll(/\| '(ERR_IMAGOR_[A-Z_]+)'/g)].map((m) => m[1]),
)
const seen = new Set()

async function expectImagorError(promiseOrFn, code, status) {
  let err
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn)
  } catch (e) {
    err = e
  }
  assert.ok(err, `expected ${code}`)
  assert.ok(err instanceof ImagorError, `${code}: not an ImagorError: ${err}`)
  assert.ok(err instanceof Error)
  assert.equal(err.name, 'ImagorError')
  assert.equal(err.code, code, err.message)
  assert.equal(err.status, status, err.message)
  assert.deepEqual(JSON.parse(JSON.stringify(err)), { message: err.message, status })
  assert.ok(declaredCodes.has(code), `${code} missing from index.d.ts`)
  seen.add(code)
  return err
}

test('errors of imagor itself', async () => {
  const server = new Imagor({ secret: 's', fileLoaderBaseDir: testdata })
  await expectImagorError(process(Buffer.from('not an image'), '10x10/'), 'ERR_IMAGOR_UNSUPPORTED_FORMAT', 406)
  await expectImagorError(() => processSync(Buffer.from('not an image'), '10x10/'), 'ERR_IMAGOR_UNSUPPORTED_FORMAT', 406)
  await expectImagorError(meta(Buffer.alloc(0)), 'ERR_IMAGOR_NOT_FOUND', 404)
  await expectImagorError(process(gopher, '10x10/', { maxResolution: 100 }), 'ERR_IMAGOR_MAX_RESOLUTION_EXCEEDED', 422)
  const e = await expectImagorError(
    process(gopher, '10x10/filters:nosuch()', { strictFilters: true }),
    'ERR_IMAGOR_INVALID',
    400,
  )
  assert.match(e.message, /nosuch/)
  await expectImagorError(server.serve('unsafe/gopher.png'), 'ERR_IMAGOR_SIGNATURE_MISMATCH', 403)
  await expectImagorError(server.serve(`${server.sign('nope.png')}/nope.png`), 'ERR_IMAGOR_NOT_FOUND', 404)
  await expectImagorError(() => new Imagor().sign('a.jpg'), 'ERR_IMAGOR_INVALID', 400)
})

test("a loader's statuses map onto imagor's errors", async () => {
  const errors = {
    'forbidden.png': [403, 'http source not allowed'],
    'slow.png': [408, 'timeout'],
    'large.png': [400, 'maximum size exceeded'],
    'busy.png': [429, 'too many requests'],
    'corrupt.png': [406, 'VipsJpeg: premature end of input file'],
    'gone.png': [410, 'expired'],
    'upstream.png': [502, 'Bad Gateway'],
  }
  const server = new Imagor({
    unsafe: true,
    loader(key) {
      if (key === 'plain.png') throw new Error('socket hang up')
      const [status, message] = errors[key]
      throw Object.assign(new Error(message), { status })
    },
  })
  const expected = {
    'forbidden.png': 'ERR_IMAGOR_SOURCE_NOT_ALLOWED',
    'slow.png': 'ERR_IMAGOR_TIMEOUT',
    'large.png': 'ERR_IMAGOR_MAX_SIZE_EXCEEDED',
    'busy.png': 'ERR_IMAGOR_TOO_MANY_REQUESTS',
    'corrupt.png': 'ERR_IMAGOR_PROCESSING',
    'gone.png': 'ERR_IMAGOR_EXPIRED',
    'upstream.png': 'ERR_IMAGOR_STATUS',
  }
  for (const [key, code] of Object.entries(expected)) {
    const err = await expectImagorError(server.serve(`unsafe/${key}`), code, errors[key][0])
    assert.equal(err.message, errors[key][1])
  }
  const err = await expectImagorError(server.serve('unsafe/plain.png'), 'ERR_IMAGOR_INTERNAL', 500)
  assert.equal(err.message, 'socket hang up')
})

test('a loader that never answers is given up at the load timeout', async () => {
  const server = new Imagor({
    unsafe: true,
    loadTimeout: '500ms',
    loader: () => new Promise(() => {}),
  })
  const started = Date.now()
  await expectImagorError(server.serve('unsafe/fit-in/10x10/a.png'), 'ERR_IMAGOR_TIMEOUT', 408)
  const took = Date.now() - started
  assert.ok(took < 5000, `answered after ${took} ms (it waited 60 s)`)
})

test('calls whose loader stalls do not hold other instances\' calls', async () => {
  // Every thread of the loader pool (2x the cores, at least 4) held by a
  // loader that never answers: another instance's call waited until those
  // timed out (20 s), far past its own budget.
  const stalled = new Imagor({ unsafe: true, loadTimeout: '3s', loader: () => new Promise(() => {}) })
  const held = Array.from({ length: 16 }, (_, i) => stalled.serve(`unsafe/10x10/held-${i}.png`).catch((e) => e.code))
  const gopher = readFileSync(join(testdata, 'gopher.png'))
  const other = new Imagor({ unsafe: true, loader: async () => gopher })
  const started = Date.now()
  const out = await other.serve('unsafe/fit-in/10x10/a.png')
  const took = Date.now() - started
  assert.ok(out.data.length > 0)
  assert.ok(took < 2000, `answered after ${took} ms`)
  assert.deepEqual(new Set(await Promise.all(held)), new Set(['ERR_IMAGOR_TIMEOUT']))
})

test('Rust panics become ERR_IMAGOR_PANIC errors, and the addon keeps working', async (t) => {
  const addon = nativeAddon()
  if (typeof addon.__testPanic !== 'function') {
    t.skip('addon built without the test-hooks feature')
    return
  }
  for (let i = 0; i < 3; i++) {
    await expectImagorError(() => addon.__testPanic('sync'), 'ERR_IMAGOR_PANIC', 500)
    await expectImagorError(addon.__testPanic('async'), 'ERR_IMAGOR_PANIC', 500)
  }
  assert.equal((await meta(await process(gopher, '20x20/'))).width, 20)
})

test('bad arguments are TypeErrors', () => {
  const typeError = (fn, code, message) => assert.throws(fn, (e) => e instanceof TypeError && e.code === code && (!message || message.test(e.message)))
  typeError(() => new Imagor({ maxWidht: 10 }), 'ERR_INVALID_ARG_VALUE', /unknown option "maxWidht".*maxWidth/)
  typeError(() => new Imagor({ max_width: 10 }), 'ERR_INVALID_ARG_VALUE', /unknown option "max_width"/)
  typeError(() => new Imagor({ maxWidth: '10' }), 'ERR_INVALID_ARG_TYPE', /"maxWidth" must be an integer, got string/)
  typeError(() => new Imagor({ maxWidth: 1.5 }), 'ERR_INVALID_ARG_VALUE', /"maxWidth" must be an integer/)
  typeError(() => new Imagor({ unsafe: 'yes' }), 'ERR_INVALID_ARG_TYPE', /"unsafe" must be a boolean/)
  typeError(() => new Imagor({ disableFilters: 'blur' }), 'ERR_INVALID_ARG_TYPE', /"disableFilters" must be an array of strings/)
  typeError(() => new Imagor({ maxWidth: -1 }), 'ERR_INVALID_ARG_VALUE', /maxWidth.*must be positive/)
  typeError(() => new Imagor({ avifSpeed: 10 }), 'ERR_INVALID_ARG_VALUE', /avifSpeed/)
  typeError(() => new Imagor({ signerType: 'md5' }), 'ERR_INVALID_ARG_VALUE', /md5/)
  typeError(() => new Imagor({ signerTruncate: -1 }), 'ERR_INVALID_ARG_VALUE', /signerTruncate/)
  typeError(() => new Imagor({ loader: 'http://origin' }), 'ERR_INVALID_ARG_TYPE', /"loader" must be a function/)
  typeError(() => new Imagor('unsafe'), 'ERR_INVALID_ARG_TYPE', /options must be an object/)
  typeError(() => new Imagor([]), 'ERR_INVALID_ARG_TYPE')
  typeError(() => processSync(gopher, '10x10/', { loader: () => null }), 'ERR_INVALID_ARG_VALUE', /unknown option "loader"/)
  typeError(() => generate({ image: 'a', width: 'x' }), 'ERR_INVALID_ARG_TYPE', /invalid params/)
  // Options that are undefined count as absent.
  assert.equal(new Imagor({ maxWidth: undefined }).options.maxWidth, 9999)
  // Wrong types for plain string arguments are rejected by napi before any work.
  assert.throws(() => sign(1, 's'))
  assert.throws(() => parse(null))
  assert.throws(() => process('not bytes', '10x10/'))
})

test('every error code seen is declared, and the declared set is complete', () => {
  for (const code of seen) assert.ok(declaredCodes.has(code))
  // Codes the library cannot produce (server-only) are still declared.
  for (const code of ['ERR_IMAGOR_METHOD_NOT_ALLOWED', 'ERR_IMAGOR_CANCELLED']) assert.ok(declaredCodes.has(code))
  assert.ok(seen.size >= 13, [...seen].join(', '))
})

test('the addon refuses a second __init, which would free helpers a call still uses', async () => {
  const addon = nativeAddon()
  assert.equal(typeof addon.__init, 'function')
  assert.throws(() => addon.__init(() => 1, () => 2, () => 3), /already initialised/)
  // The helpers index.js registered are still the ones in use.
  await expectImagorError(process(Buffer.from('not an image'), '10x10/'), 'ERR_IMAGOR_UNSUPPORTED_FORMAT', 406)
  assert.equal((await meta(await process(gopher, '20x20/'))).width, 20)
})

test('an ImagorError a loader throws with words of its own comes back as that kind', async () => {
  const thrown = {
    'not-ours.png': new ImagorError('not one of our buckets', 'ERR_IMAGOR_SOURCE_NOT_ALLOWED', 403),
    'bad-key.png': new ImagorError('keys are lower case', 'ERR_IMAGOR_INVALID', 400),
  }
  const im = new Imagor({ unsafe: true, loader: async (key) => { throw thrown[key] } })
  await expectImagorError(im.serve('unsafe/10x10/not-ours.png'), 'ERR_IMAGOR_SOURCE_NOT_ALLOWED', 403)
  const e = await expectImagorError(im.serve('unsafe/10x10/bad-key.png'), 'ERR_IMAGOR_INVALID', 400)
  assert.match(e.message, /keys are lower case/)
})
