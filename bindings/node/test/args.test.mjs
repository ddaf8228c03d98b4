// The first hour of a Node user: the ES module entry, TypeErrors (with
// Node's codes) for every wrong argument type, bytes in every form, and a
// missing secret that is an error rather than a bare or unsafe path.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { join } from 'node:path'
import { types } from 'node:util'

import * as esm from 'imagor'
import imagorDefault, { process as processImage, meta, sign, verify, Imagor, ImagorError } from 'imagor'
import * as esmExpress from 'imagor/express'

import { imagor, pkgDir, readTestdata, require, testdata } from './helpers.mjs'

const gopher = readTestdata('gopher.png')

test('import { process, meta } from "imagor" is the same package as require("imagor")', async () => {
  const cjs = require('imagor')
  assert.equal(imagorDefault, cjs)
  for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], `named export ${name}`)
  assert.deepEqual(Object.keys(esm).filter((k) => k !== 'default').sort(), Object.keys(cjs).sort())
  assert.equal(esmExpress.imagorMiddleware, require('imagor/express').imagorMiddleware)
  assert.equal(esmExpress.default, require('imagor/express'))
  const out = await processImage(gopher, 'fit-in/20x20/filters:format(webp)')
  assert.equal((await meta(out)).format, 'webp')
  assert.ok(new Imagor({ unsafe: true }) instanceof cjs.Imagor)
  assert.equal(ImagorError, cjs.ImagorError)
  assert.equal(typeof sign('a.jpg', 's'), 'string')
})

/** `fn` throws a TypeError with `code` whose message matches `message`. */
function typeError(fn, code, message) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof TypeError, `not a TypeError: ${e}`)
    assert.equal(e.code, code, e.message)
    assert.match(e.message, message)
    assert.doesNotMatch(e.message, /Failed to convert|TypedArray|rust type/)
    return true
  })
}

test('a wrong argument type is a TypeError naming the function and argument', () => {
  const { process, processSync, verify, parse, generate } = imagor
  const T = 'ERR_INVALID_ARG_TYPE'
  typeError(() => sign('a.jpg', undefined), T, /imagor\.sign: the "secret" argument must be of type string \(.*IMAGOR_SECRET.*\)\. Received undefined/)
  typeError(() => sign(undefined, 's'), T, /imagor\.sign: the "path" argument.*Received undefined/)
  typeError(() => sign('a.jpg', 's', 'sha256'), T, /"options" argument must be an object/)
  typeError(() => verify('a.jpg', 5, 's'), T, /imagor\.verify: the "hash" argument must be of type string\. Received type number \(5\)/)
  typeError(() => parse(null), T, /imagor\.parse: the "path" argument.*Received null/)
  typeError(() => generate('a.jpg'), T, /imagor\.generate: the "params" argument must be an object/)
  typeError(() => process('not bytes', '10x10/'), T, /imagor\.process: the "data" argument must be a Buffer, Uint8Array, ArrayBuffer or ArrayBufferView\. Received type string/)
  typeError(() => process(gopher, 10), T, /imagor\.process: the "path" argument.*Received type number \(10\)/)
  typeError(() => process([1, 2, 3], '10x10/'), T, /Received an instance of Array/)
  typeError(() => processSync({}, '10x10/'), T, /imagor\.processSync: the "data"/)
  typeError(() => meta(undefined), T, /imagor\.meta: the "data"/)
  typeError(() => meta(gopher, 7), T, /imagor\.meta: the "path"/)
  const i = new Imagor({ secret: 's', fileLoaderBaseDir: testdata })
  typeError(() => i.process('x', '10x10/'), T, /imagor\.Imagor\.process: the "data"/)
  typeError(() => i.processSync(gopher, undefined), T, /imagor\.Imagor\.processSync: the "path"/)
  typeError(() => i.meta(null), T, /imagor\.Imagor\.meta: the "data"/)
  typeError(() => i.serve(42), T, /imagor\.Imagor\.serve: the "path"/)
  typeError(() => i.sign(undefined), T, /imagor\.Imagor\.sign: the "path"/)
  typeError(() => i.handle('GET /'), T, /imagor\.Imagor\.handle: the "request"/)
  typeError(() => i.handle({ method: 'POST', path: '/x', body: 'text' }), T, /"request\.body" argument/)
  // Every field of the request is checked (napi's own errors were plain
  // Errors, and a null body threw "Failed to create reference").
  typeError(() => i.handle({ path: 42 }), T, /"request\.path" argument/)
  typeError(() => i.handle({ method: 0, path: '/x' }), T, /"request\.method" argument/)
  typeError(() => i.handle({ path: '/x', query: {} }), T, /"request\.query" argument/)
  typeError(() => i.handle({ path: '/x', headers: 'accept' }), T, /"request\.headers" argument/)
  typeError(() => i.handle({ path: '/x', headers: { accept: () => 1 } }), T, /"request\.headers\["accept"\]" argument/)
  typeError(() => i.handle({ path: '/x', headers: { a: ['x', {}] } }), T, /"request\.headers\["a"\]" argument/)
})

test('handle takes null fields as absent and header numbers as text', async () => {
  const i = new Imagor({ unsafe: true, fileLoaderBaseDir: testdata })
  const res = await i.handle({
    method: null,
    path: '/unsafe/10x10/gopher.png',
    query: null,
    body: null,
    headers: { accept: ['image/png'], 'x-count': 3, skipped: undefined, gone: null },
  })
  assert.equal(res.status, 200)
})

test('bytes are accepted as Buffer, Uint8Array, ArrayBuffer, DataView and other views', async () => {
  const u8 = new Uint8Array(gopher)
  const ab = u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength)
  // A view into the middle of a larger buffer: the offsets are respected.
  const big = new Uint8Array(gopher.length + 16)
  big.set(gopher, 8)
  const forms = {
    Buffer: gopher,
    Uint8Array: u8,
    ArrayBuffer: ab,
    DataView: new DataView(big.buffer, 8, gopher.length),
    offsetView: big.subarray(8, 8 + gopher.length),
    SharedArrayBuffer: (() => {
      const shared = new Uint8Array(new SharedArrayBuffer(gopher.length))
      shared.set(gopher)
      return shared
    })(),
  }
  const expected = imagor.processSync(gopher, 'fit-in/16x16/filters:format(png)')
  const i = new Imagor({ unsafe: true })
  for (const [name, data] of Object.entries(forms)) {
    assert.deepEqual(await imagor.process(data, 'fit-in/16x16/filters:format(png)'), expected, name)
    assert.deepEqual(imagor.processSync(data, 'fit-in/16x16/filters:format(png)'), expected, name)
    assert.equal((await imagor.meta(data)).width, 1634, name)
    assert.deepEqual(await i.process(data, 'fit-in/16x16/filters:format(png)'), expected, name)
    assert.equal((await i.meta(data)).format, 'png', name)
  }
  // A loader may answer an ArrayBuffer too.
  const loaded = new Imagor({ unsafe: true, loader: async () => ab })
  const served = await loaded.serve('unsafe/fit-in/16x16/filters:format(png)/x.png')
  assert.deepEqual(served.data, expected)
})

test('generate with a secret key whose value is missing is an error, not a bare path', () => {
  const params = { image: 'a.jpg', width: 10 }
  typeError(() => imagor.generate(params, { secret: undefined }), 'ERR_INVALID_ARG_VALUE', /options\.secret is undefined.*IMAGOR_SECRET.*leave the key out for a bare path.*unsafe: true/)
  typeError(() => imagor.generate(params, { secret: null }), 'ERR_INVALID_ARG_VALUE', /options\.secret is null/)
  typeError(() => imagor.generate(params, { secret: '' }), 'ERR_INVALID_ARG_VALUE', /options\.secret is empty/)
  typeError(() => imagor.generate(params, { secret: 5 }), 'ERR_INVALID_ARG_TYPE', /options\.secret/)
  // The documented forms still work.
  assert.equal(imagor.generate(params), '10x0/a.jpg')
  assert.equal(imagor.generate(params, { unsafe: true }), 'unsafe/10x0/a.jpg')
  assert.equal(imagor.generate(params, { secret: 's' }), `${sign('10x0/a.jpg', 's')}/10x0/a.jpg`)
})

test('a mistyped operation left in the image segment: an error with strictFilters, a warning without', async () => {
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    for (const path of ['fit_in/300x200/', 'fitin/300x200/', '300X200/']) {
      await assert.rejects(imagor.process(gopher, path, { strictFilters: true }), (e) => {
        assert.ok(e instanceof ImagorError)
        assert.equal(e.code, 'ERR_IMAGOR_INVALID')
        assert.equal(e.status, 400)
        assert.match(e.message, /^process: the path has `[^`]+` \(did you mean `(fit-in|300x200)`\?\) where an operation was expected/)
        return true
      })
      assert.throws(() => new Imagor({ unsafe: true, strictFilters: true }).processSync(gopher, path), { code: 'ERR_IMAGOR_INVALID' })
      // Without strictFilters the original comes back, as in imagor, with a warning.
      const out = await imagor.process(gopher, path)
      assert.equal((await meta(out)).width, 1634)
    }
    await new Promise((resolve) => setImmediate(resolve))
    const typos = warnings.filter((w) => w.code === 'IMAGOR_PATH_TYPO')
    assert.equal(typos.length, 3, warnings.map(String).join('\n'))
    assert.equal(typos[0].name, 'ImagorWarning')
    assert.match(typos[0].message, /imagor\.process: the path has `fit_in` \(did you mean `fit-in`\?\)/)
    // A real image name is no typo: no warning.
    warnings.length = 0
    await imagor.process(gopher, 'fit-in/10x10/photos/gopher.png')
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(warnings.filter((w) => w.code === 'IMAGOR_PATH_TYPO'), [])
  } finally {
    process.off('warning', onWarning)
  }
})

test('failOn makes a truncated source an ERR_IMAGOR_UNSUPPORTED_FORMAT (default: what could be decoded, as imagor)', async () => {
  const cut = gopher.subarray(0, 100)
  assert.ok((await imagor.process(cut, 'fit-in/10x10/')).length > 0)
  await assert.rejects(imagor.process(cut, 'fit-in/10x10/', { failOn: 'truncated' }), (e) => {
    assert.equal(e.code, 'ERR_IMAGOR_UNSUPPORTED_FORMAT')
    assert.match(e.message, /png image could not be decoded \(corrupt or truncated; fail_on=truncated\)/)
    return true
  })
  assert.throws(() => new Imagor({ failOn: 'sometimes' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /failOn must be/ })
})

test("meta() adds sharp-style details of the input; imagor's /meta JSON does not", async () => {
  const icc = readTestdata('jpg-24bit-icc-adobe-rgb.jpg')
  const m = await meta(icc)
  assert.deepEqual([m.format, m.size, m.has_alpha, m.space, m.has_profile, m.profile_name, m.density, m.is_progressive],
    ['jpeg', icc.length, false, 'srgb', true, 'Adobe RGB (1998)', 300, true])
  const gif = await new Imagor({ unsafe: true }).meta(readTestdata('dancing-banana.gif'))
  assert.deepEqual([gif.has_alpha, gif.delay, gif.loop, 'density' in gif], [true, Array(8).fill(100), 0, false])
  const served = await new Imagor({ unsafe: true, fileLoaderBaseDir: testdata }).serve('unsafe/meta/dancing-banana.gif')
  assert.deepEqual(Object.keys(JSON.parse(served.data)).sort(), ['bands', 'content_type', 'exif', 'format', 'height', 'orientation', 'pages', 'width'])
})

test('options and params that contain themselves, nest deeply or share one object many times are refused', () => {
  const cyclic = []
  cyclic.push(cyclic)
  let deep = []
  for (let i = 0; i < 200000; i++) deep = [deep]
  let shared = { x: 1 }
  for (let i = 0; i < 40; i++) shared = { a: shared, b: shared } // 2^40 values to walk
  for (const v of [cyclic, deep, shared]) {
    assert.throws(() => new Imagor({ disableFilters: v }), TypeError)
    assert.throws(() => new Imagor({ secret: v }), TypeError)
    assert.throws(() => imagor.generate({ image: 'a.jpg', junk: v }), TypeError)
    assert.throws(() => imagor.processSync(gopher, 'fit-in/10x10/', { maxWidth: v }), TypeError)
  }
})

test('processSync reads a copy of a SharedArrayBuffer, which another worker could rewrite', () => {
  const { syncBytes } = require(join(pkgDir, 'args.js'))
  const shared = new Uint8Array(new SharedArrayBuffer(16))
  shared[3] = 7
  const copy = syncBytes('processSync', 'data', shared.subarray(2, 6))
  assert.equal(types.isSharedArrayBuffer(copy.buffer), false)
  assert.deepEqual([...copy], [0, 7, 0, 0])
  shared[3] = 9
  assert.equal(copy[1], 7)
  // A Buffer over shared memory too (a Buffer's slice() is a view).
  const buffer = Buffer.from(shared.buffer, 2, 4)
  const copied = syncBytes('processSync', 'data', buffer)
  assert.equal(types.isSharedArrayBuffer(copied.buffer), false)
  assert.deepEqual([...copied], [0, 9, 0, 0])
  shared[3] = 5
  assert.equal(copied[1], 9)
  // Memory that cannot change during the call is used in place.
  const own = new Uint8Array(8)
  assert.equal(syncBytes('processSync', 'data', own), own)
})

test('a path given as bytes is signed as its bytes; a lone surrogate is refused', () => {
  // HMAC-SHA1 of the bytes `caf\xE9.png` (what imagor also accepts for `caf%E9.png`).
  const latin1 = Buffer.from('caf\xe9.png', 'latin1')
  const hash = sign(latin1, 'mysecret')
  assert.equal(hash, 'lK5m5Kx0mYPQVuaN4ft_MQk4cgg=')
  assert.equal(verify(new Uint8Array(latin1), hash, 'mysecret'), true)
  assert.equal(verify(latin1.buffer.slice(latin1.byteOffset, latin1.byteOffset + latin1.length), hash, 'mysecret'), true)
  assert.equal(verify('caf\uFFFD.png', hash, 'mysecret'), false)
  assert.equal(sign(Buffer.from('a.jpg'), 's', { signerType: 'sha256' }), sign('a.jpg', 's', { signerType: 'sha256' }))
  typeError(() => sign('a\uD800.jpg', 's'), 'ERR_INVALID_ARG_VALUE', /imagor\.sign: the "path" argument has a lone surrogate/)
  typeError(() => verify('a\uDC00', 'h', 's'), 'ERR_INVALID_ARG_VALUE', /imagor\.verify: .*lone surrogate/)
  typeError(() => sign(42, 's'), 'ERR_INVALID_ARG_TYPE', /"path" argument must be of type string or a Buffer/)
})

test('an option getter or Proxy trap that throws: its exception is what the call throws', () => {
  const boom = new Error('boom from a getter')
  const isBoom = (e) => e === boom
  assert.throws(() => imagor.processSync(gopher, '10x10/', { get processTimeout() { throw boom } }), isBoom)
  assert.throws(() => new Imagor(new Proxy({}, { ownKeys() { throw boom } })), isBoom)
  assert.throws(() => new Imagor({ unsafe: true, get maxWidth() { throw boom } }), isBoom)
  assert.throws(() => sign('a.jpg', 's', { get signerType() { throw boom } }), isBoom)
  assert.throws(() => imagor.generate({ image: 'a.jpg' }, { get unsafe() { throw boom } }), isBoom)
  // The addon keeps working.
  assert.equal(typeof sign('a.jpg', 's'), 'string')
})
