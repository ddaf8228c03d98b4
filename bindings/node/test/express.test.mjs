// imagor/express with a real Express app on 127.0.0.1 (ephemeral ports):
// file loader, the core's HTTP loader against a local origin, headers and
// error bodies as imagor's server answers, and the URL helper for templates.
// (ssrf.test.mjs has the SSRF matrix.)
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, get as httpGet } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import { imagor, readTestdata, require, testdata } from './helpers.mjs'

const express = require('express')
const { imagorMiddleware, imagorLocals, imagorUrl } = require('imagor/express')
const { sign, meta } = imagor

const secret = 'express-secret'
let app, server, base, origin, originBase, originHits, resultDir

function listen(handler) {
  return new Promise((resolve) => {
    const s = createServer(handler).listen(0, '127.0.0.1', () => resolve(s))
  })
}

before(async () => {
  // An HTTP origin with one image (and a broken path).
  originHits = 0
  origin = await listen((req, res) => {
    originHits++
    if (req.url === '/photos/gopher.png') {
      res.writeHead(200, { 'Content-Type': 'image/png' }).end(readTestdata('gopher.png'))
    } else if (req.url === '/photos/redirect-out.png') {
      res.writeHead(302, { Location: 'http://localhost:1/photos/gopher.png' }).end()
    } else if (req.url === '/photos/redirect-in.png') {
      res.writeHead(302, { Location: '/photos/gopher.png' }).end()
    } else if (req.url === '/photos/broken.png') {
      res.writeHead(500).end('boom')
    } else {
      res.writeHead(404).end()
    }
  })
  originBase = `http://127.0.0.1:${origin.address().port}`

  app = express()
  app.set('views', testdata)
  app.use('/img', imagorMiddleware({ secret, fileLoaderBaseDir: testdata }))
  // The local origin is on loopback, which the HTTP loader refuses unless
  // told otherwise; the allowed sources keep it to that one origin.
  const local = { httpLoaderBlockLoopbackNetworks: false, httpLoaderAllowedSources: [originBase.slice(7)] }
  app.use('/origin', imagorMiddleware({ unsafe: true, ...local, httpLoaderBaseUrl: `${originBase}/photos`, cacheHeaderTtl: 60, cacheHeaderSwr: 0 }))
  app.use('/any', imagorMiddleware({ unsafe: true, ...local }))
  app.use('/auto', imagorMiddleware({ unsafe: true, fileLoaderBaseDir: testdata, autoWebp: true, disableErrorBody: true }))
  resultDir = mkdtempSync(join(tmpdir(), 'imagor-express-rs-'))
  app.use('/rs', imagorMiddleware({ unsafe: true, fileLoaderBaseDir: testdata, fileResultStorageBaseDir: resultDir }))
  app.use('/up', imagorMiddleware({ unsafe: true, uploadLoaderEnable: true, uploadLoaderMaxAllowedSize: 200000 }))
  // Body parsers in front: a body they read is gone from the stream.
  app.use('/parsed', express.json(), express.text(), imagorMiddleware({ unsafe: true, uploadLoaderEnable: true }))
  app.use(imagorLocals({ secret, baseUrl: '/img' }))
  app.get('/page', (req, res) => {
    res.send(`<img src="${res.locals.imagorUrl('fit-in/100x100/filters:format(webp)/gopher.png')}">` +
      `<img src="${res.locals.imagorUrl({ image: 'demo1.jpg', width: 50, height: 50, smart: true })}">`)
  })
  server = await listen(app)
  base = `http://127.0.0.1:${server.address().port}`
})

after(() => {
  server?.close()
  origin?.close()
  if (resultDir) rmSync(resultDir, { recursive: true, force: true })
})

const signed = (path) => `/img/${sign(path, secret)}/${path}`

test('serves signed paths from the file loader with imagor headers', async () => {
  const res = await fetch(base + signed('fit-in/120x120/filters:format(webp)/gopher.png'))
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'image/webp')
  assert.equal(res.headers.get('cache-control'), 'public, s-maxage=604800, max-age=604800, no-transform, stale-while-revalidate=86400')
  assert.equal(res.headers.get('content-disposition'), 'inline')
  const expires = Date.parse(res.headers.get('expires'))
  assert.ok(Math.abs(expires - (Date.now() + 604800e3)) < 5000)
  const body = Buffer.from(await res.arrayBuffer())
  assert.equal(Number(res.headers.get('content-length')), body.length)
  const m = await meta(body)
  assert.equal(m.format, 'webp')
  assert.equal(Math.max(m.width, m.height), 120)
})

test('HEAD, meta/ JSON, params endpoint, filters that set headers', async () => {
  const head = await fetch(base + signed('50x50/gopher.png'), { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-type'), 'image/png')
  assert.equal((await head.arrayBuffer()).byteLength, 0)

  const m = await fetch(base + signed('meta/fit-in/100x100/demo1.jpg'))
  assert.equal(m.headers.get('content-type'), 'application/json')
  assert.deepEqual(((json) => [json.format, json.width, json.height])(await m.json()), ['jpeg', 100, 100])

  const params = await fetch(`${base}/img/params/unsafe/fit-in/10x20/filters:format(webp)/a.jpg`)
  assert.equal(params.status, 200)
  assert.equal(await params.text(), JSON.stringify({ path: 'fit-in/10x20/filters:format(webp)/a.jpg', image: 'a.jpg', unsafe: true, fit_in: true, width: 10, height: 20, filters: [{ name: 'format', args: 'webp' }] }, null, 2))

  const maxAge = await fetch(base + signed('10x10/filters:max_age(60):attachment(cute.png)/gopher.png'))
  assert.equal(maxAge.headers.get('cache-control'), 'public, s-maxage=60, max-age=60, no-transform')
  assert.equal(maxAge.headers.get('content-disposition'), 'attachment; filename="cute.png"')

  const noCache = await fetch(base + signed('10x10/gopher.png'), { headers: { 'Cache-Control': 'no-cache' } })
  assert.equal(noCache.headers.get('cache-control'), 'private, no-cache, no-store, must-revalidate')
  const priv = await fetch(base + signed('10x10/gopher.png'), { headers: { 'Cache-Control': 'private' } })
  assert.equal(priv.headers.get('cache-control'), 'private, max-age=604800, no-transform, stale-while-revalidate=86400')
})

test('errors answer with imagor JSON bodies and statuses', async () => {
  const cases = [
    [`/img/unsafe/fit-in/10x10/gopher.png`, 403, 'url signature mismatch'],
    [`/img/${sign('10x10/gopher.png', 'wrong')}/10x10/gopher.png`, 403, 'url signature mismatch'],
    [signed('10x10/missing.png'), 404, 'not found'],
    [signed('10x10/README.md'), 406, 'unsupported format'],
  ]
  for (const [url, status, message] of cases) {
    const res = await fetch(base + url)
    assert.equal(res.status, status, url)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(await res.text(), JSON.stringify({ message, status }), url)
  }
  const post = await fetch(base + signed('10x10/gopher.png'), { method: 'POST' })
  assert.equal(post.status, 405)
  // Outside the mount, Express goes on as usual.
  assert.equal((await fetch(`${base}/nothing-here`)).status, 404)
})

test('an HTTP origin through the core\'s HTTP loader', async () => {
  const res = await fetch(`${base}/origin/unsafe/fit-in/64x64/filters:format(png)/gopher.png`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('cache-control'), 'public, s-maxage=60, max-age=60, no-transform')
  const m = await meta(Buffer.from(await res.arrayBuffer()))
  assert.equal(Math.max(m.width, m.height), 64)
  assert.ok(originHits >= 1)

  const missing = await fetch(`${base}/origin/unsafe/10x10/missing.png`)
  assert.equal(missing.status, 404)
  // The origin's 404 in Go's status text, as imagor's HTTP loader answers it.
  assert.deepEqual(await missing.json(), { message: 'Not Found', status: 404 })
  const broken = await fetch(`${base}/origin/unsafe/10x10/broken.png`)
  assert.equal(broken.status, 500)
  // Redirects are followed to allowed sources only.
  assert.equal((await fetch(`${base}/origin/unsafe/10x10/redirect-in.png`)).status, 200)
  const out = await fetch(`${base}/origin/unsafe/10x10/redirect-out.png`)
  assert.equal(out.status, 403)
  assert.deepEqual(await out.json(), { message: 'http source not allowed', status: 403 })

  // A full URL as the key, checked against allowedSources.
  const ok = await fetch(`${base}/any/unsafe/10x10/${originBase}/photos/gopher.png`)
  assert.equal(ok.status, 200)
  const refused = await fetch(`${base}/any/unsafe/10x10/http://localhost:1/photos/gopher.png`)
  assert.equal(refused.status, 403)
  assert.deepEqual(await refused.json(), { message: 'http source not allowed', status: 403 })
})

test('the middleware answers what Imagor.handle answers, header for header', async () => {
  const direct = new imagor.Imagor({ secret, fileLoaderBaseDir: testdata })
  for (const path of [signed('fit-in/40x40/filters:attachment()/gopher.png').slice(4), '/unsafe/10x10/gopher.png', '/params/unsafe/1x2/a.jpg', signed('10x10/missing.png').slice(4)]) {
    const want = await direct.handle({ path })
    const got = await fetch(`${base}/img${path}`)
    assert.equal(got.status, want.status, path)
    for (const [name, value] of want.headers) {
      if (name.toLowerCase() === 'expires') continue // a clock read on each answer
      assert.equal(got.headers.get(name), value, `${path}: ${name}`)
    }
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), want.body, path)
  }
})

test('auto format, Vary, ETag and conditional requests, bodiless errors', async () => {
  const webp = await fetch(`${base}/auto/unsafe/fit-in/30x30/gopher.png`, { headers: { Accept: 'image/webp,*/*' } })
  assert.equal(webp.status, 200)
  assert.equal(webp.headers.get('content-type'), 'image/webp')
  assert.equal(webp.headers.get('vary'), 'Accept')
  const png = await fetch(`${base}/auto/unsafe/fit-in/30x30/gopher.png`)
  assert.equal(png.headers.get('content-type'), 'image/png')
  const missing = await fetch(`${base}/auto/unsafe/10x10/nope.png`)
  assert.equal(missing.status, 404)
  assert.equal((await missing.arrayBuffer()).byteLength, 0)
  // ETag and Last-Modified come with result-storage hits, as in imagor.
  const url = `${base}/rs/unsafe/fit-in/30x30/gopher.png`
  const first = await fetch(url)
  assert.equal(first.status, 200)
  assert.equal(first.headers.get('etag'), null)
  const hit = await fetch(url)
  const etag = hit.headers.get('etag')
  assert.match(etag ?? '', /^[0-9a-f]+-[0-9a-f]+$/)
  assert.ok(hit.headers.get('last-modified'))
  assert.deepEqual(Buffer.from(await hit.arrayBuffer()), Buffer.from(await first.arrayBuffer()))
  // node:http, because fetch adds `Cache-Control: no-cache` to conditional
  // requests (imagor then never answers 304).
  const again = await new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { 'If-None-Match': etag } }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
  })
  assert.equal(again.status, 304)
  assert.equal(again.headers.etag, etag)
  assert.equal(again.body.length, 0)
})

test('POST uploads through the upload loader, with the size limit', async () => {
  const png = readTestdata('gopher.png')
  const raw = await fetch(`${base}/up/unsafe/fit-in/20x20/filters:format(webp)/`, { method: 'POST', body: png, headers: { 'Content-Type': 'image/png' } })
  assert.equal(raw.status, 200)
  assert.equal(raw.headers.get('content-type'), 'image/webp')
  const form = new FormData()
  form.append('image', new Blob([png], { type: 'image/png' }), 'g.png')
  const multipart = await fetch(`${base}/up/unsafe/fit-in/20x20/`, { method: 'POST', body: form })
  assert.equal(multipart.status, 200)
  assert.equal((await meta(Buffer.from(await multipart.arrayBuffer()))).width <= 20, true)
  const big = await fetch(`${base}/up/unsafe/fit-in/20x20/`, { method: 'POST', body: Buffer.alloc(300000, 1), headers: { 'Content-Type': 'image/png' } })
  assert.equal(big.status, 400)
  const huge = await fetch(`${base}/up/unsafe/fit-in/20x20/`, { method: 'POST', body: Buffer.alloc(3 << 20, 1), headers: { 'Content-Type': 'image/png' } }).catch((e) => e)
  assert.ok(huge instanceof Error || huge.status === 400)
})

test('an upload an earlier body parser read is answered, not left waiting', async () => {
  for (const [type, body] of [['application/json', '{"a":1}'], ['text/plain', 'hello']]) {
    const res = await fetch(`${base}/parsed/unsafe/fit-in/20x20/`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': type },
      signal: AbortSignal.timeout(5000),
    })
    assert.equal(res.status >= 400 && res.status < 500, true, `${type}: ${res.status}`)
    assert.equal((await res.json()).status, res.status)
  }
  const png = readTestdata('gopher.png')
  const raw = await fetch(`${base}/parsed/unsafe/fit-in/20x20/`, { method: 'POST', body: png, headers: { 'Content-Type': 'image/png' } })
  assert.equal(raw.status, 200)
})

test('res.locals.imagorUrl signs URLs that the middleware serves', async () => {
  const html = await (await fetch(`${base}/page`)).text()
  const urls = [...html.matchAll(/src="([^"]+)"/g)].map((m) => m[1])
  assert.equal(urls.length, 2)
  assert.equal(urls[0], signed('fit-in/100x100/filters:format(webp)/gopher.png'))
  assert.equal(urls[1], signed('50x50/smart/demo1.jpg'))
  for (const url of urls) assert.equal((await fetch(base + url)).status, 200, url)
  assert.equal(imagorUrl({ unsafe: true, baseUrl: 'https://cdn/' })('/a.jpg'), 'https://cdn/unsafe/a.jpg')
  assert.equal(imagorUrl({ unsafe: true })({ image: 'a.jpg', width: 10 }), '/unsafe/10x0/a.jpg')
  assert.equal(imagorUrl({ secret: 's', signerType: 'sha256', signerTruncate: 8 })('a.jpg'), `/${sign('a.jpg', 's', { signerType: 'sha256', truncate: 8 })}/a.jpg`)
})

test('a missing secret is an error at setup, not unsafe/ URLs the middleware refuses', () => {
  const missing = { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /secret.*got undefined: is IMAGOR_SECRET set\?.*unsafe: true/ }
  assert.throws(() => imagorLocals({ secret: undefined, baseUrl: '/img' }), missing)
  assert.throws(() => imagorUrl(), missing)
  assert.throws(() => imagorUrl({ secret: '' }), { name: 'TypeError', message: /got an empty string/ })
  assert.throws(() => imagorUrl({ secret: 's', unsafe: true }), { name: 'TypeError', message: /not both/ })
  assert.throws(() => imagorMiddleware({ secret: undefined, fileLoaderBaseDir: testdata }), missing)
  assert.throws(() => imagorMiddleware({ fileLoaderBaseDir: testdata }), missing)
})

test('middleware options are checked', () => {
  assert.throws(() => imagorMiddleware({ unsafe: true, maxWidht: 1 }), { name: 'TypeError', message: /maxWidht/ })
  assert.throws(() => imagorMiddleware({ unsafe: true, cacheHeaderTtl: -1 }), TypeError)
  assert.throws(() => imagorMiddleware({ imagor: new imagor.Imagor(), secret: 'x' }), TypeError)
  assert.throws(() => imagorMiddleware({ unsafe: true, httpLoaderAllowedSourceRegexp: '(' }), /httpLoaderAllowedSourceRegexp/)
})
