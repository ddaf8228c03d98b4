// Imagor.handle: the core's request handling (the server's) from Node.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { imagor, readTestdata, testdata } from './helpers.mjs'

const { Imagor, sign } = imagor
const header = (res, name) => res.headers.find(([k]) => k.toLowerCase() === name)?.[1]

test('handle answers images, errors and endpoints as responses', async () => {
  const i = new Imagor({ secret: 's3cret', fileLoaderBaseDir: testdata })
  const path = 'fit-in/20x20/filters:format(webp)/gopher.png'
  const ok = await i.handle({ path: `/${sign(path, 's3cret')}/${path}` })
  assert.equal(ok.status, 200)
  assert.equal(header(ok, 'content-type'), 'image/webp')
  assert.equal(Number(header(ok, 'content-length')), ok.body.length)
  assert.ok(Buffer.isBuffer(ok.body))

  const head = await i.handle({ method: 'head', path: `/${sign(path, 's3cret')}/${path}` })
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)

  const bad = await i.handle({ path: `/${sign(path, 'wrong')}/${path}` })
  assert.equal(bad.status, 403)
  assert.deepEqual(JSON.parse(bad.body), { message: 'url signature mismatch', status: 403 })

  const put = await i.handle({ method: 'PUT', path: '/unsafe/a.jpg' })
  assert.equal(put.status, 405)

  const params = await i.handle({ path: '/params/unsafe/10x20/a.jpg?x=1' })
  assert.equal(params.status, 200)
  assert.equal(JSON.parse(params.body).width, 10)

  const health = await i.handle({ path: '/' })
  assert.equal(health.status, 200)
  assert.match(header(health, 'content-type'), /text\/html/)
})

test('handle bodies are copies; uploads go through the upload loader', async () => {
  const i = new Imagor({ unsafe: true, uploadLoaderEnable: true })
  const body = new Uint8Array(readTestdata('gopher.png'))
  const pending = i.handle({ method: 'POST', path: '/unsafe/fit-in/10x10/', headers: { 'Content-Type': 'image/png' }, body })
  body.fill(0) // after the call: the request already holds its own copy
  const res = await pending
  assert.equal(res.status, 200, res.body.toString())
  assert.equal(header(res, 'content-type'), 'image/png')
})

test('a request body is counted against maxTotalMemory before it is copied', async () => {
  const i = new Imagor({ unsafe: true, uploadLoaderEnable: true, maxTotalMemory: 1 << 20 })
  const body = new Uint8Array(2 << 20)
  const res = await i.handle({ method: 'POST', path: '/unsafe/fit-in/10x10/', headers: { 'Content-Type': 'image/png' }, body })
  assert.equal(res.status, 422, res.body.toString())
  assert.match(res.body.toString(), /the input image needs about 2 MiB/)
})

test('handle checks its argument', () => {
  const i = new Imagor({ unsafe: true })
  // Wrong types are TypeErrors naming the field, before any work, as for
  // the other methods.
  assert.throws(() => i.handle(), TypeError)
  assert.throws(() => i.handle({ path: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /"request\.path"/ })
  assert.throws(() => i.handle({ path: '/', body: 'text' }), { name: 'TypeError', message: /"request\.body"/ })
})
