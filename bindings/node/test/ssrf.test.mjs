// The Express middleware loads HTTP origins through the core's loader, so
// it refuses what the server refuses: the SSRF matrix of SECURITY-NOTES
// Appendix A (403, a canary listener on loopback never connected to),
// redirects to refused targets, and names resolving to loopback. Local
// origin and canary on 127.0.0.1; nothing reaches the internet.
import assert from 'node:assert/strict'
import { createServer, request } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { after, before, test } from 'node:test'

import { readTestdata, require } from './helpers.mjs'

const express = require('express')
const { imagorMiddleware } = require('imagor/express')

let canary, canaryHits, canaryPort, origin, originHost, server, base
const servers = []

function listen(s, port = 0, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    s.once('error', reject)
    s.listen(port, host, () => resolve(s))
  })
}

// The matrix as URLs; PORT is the canary's (loopback entries would reach it).
const MATRIX = [
  'http://127.0.0.1:PORT/x.jpg', 'http://127.0.0.2:PORT/x.jpg', 'http://127.1:PORT/x.jpg',
  'http://2130706433:PORT/x.jpg', 'http://0x7f000001:PORT/x.jpg', 'http://0177.0.0.1:PORT/x.jpg',
  'http://0x7f.1:PORT/x.jpg', 'http://0.0.0.0:PORT/x.jpg', 'http://0:PORT/x.jpg',
  'http://localhost:PORT/x.jpg', 'http://LOCALHOST.:PORT/x.jpg', 'http://[::1]:PORT/x.jpg',
  'http://[::]:PORT/x.jpg', 'http://[0:0:0:0:0:0:0:1]:PORT/x.jpg', 'http://[::ffff:127.0.0.1]:PORT/x.jpg',
  'http://[::ffff:7f00:1]:PORT/x.jpg', 'http://[::127.0.0.1]:PORT/x.jpg', 'http://[64:ff9b::7f00:1]:PORT/x.jpg',
  'http://[2002:7f00:1::]:PORT/x.jpg', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:PORT/x.jpg',
  'http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:PORT/x.jpg',
  'http://allowed@127.0.0.1:PORT/x.jpg', 'http://127.0.0.1:PORT#@allowed/x.jpg', 'http://127.0.0.1:PORT\\@allowed/x.jpg',
  'http://169.254.169.254/latest/meta-data/', 'http://169.254.170.2/v2/credentials', 'http://[fe80::1%25eth0]/x.jpg',
  'http://[::ffff:169.254.169.254]/x.jpg', 'http://[64:ff9b::a9fe:a9fe]/x.jpg', 'http://[2002:a9fe:a9fe::]/x.jpg',
  'http://[fd00:ec2::254]/x.jpg', 'http://10.0.0.1/x.jpg', 'http://172.16.0.1/x.jpg', 'http://192.168.1.1/x.jpg',
  'http://100.64.0.1/x.jpg', 'http://[fd00::1]/x.jpg', 'http://[64:ff9b:1:a00:0:100::]/x.jpg',
  'http://[2001:db8::5efe:a00:1]/x.jpg', 'http://224.0.0.1/x.jpg', 'http://255.255.255.255/x.jpg',
]

/** `/unsafe/<url>` with what cannot go raw into a request target %-escaped. */
function target(prefix, url) {
  let out = `${prefix}/unsafe/`
  for (const b of Buffer.from(url, 'utf8')) {
    const c = String.fromCharCode(b)
    out += b >= 0x80 || c === '#' || c === '\\' || c === ' ' ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : c
  }
  return out
}

/** GET a raw request target (fetch would normalise it). */
function get(path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.address().port, path, method: 'GET' }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end()
  })
}

before(async () => {
  canaryHits = 0
  canary = await listen(createTcpServer((sock) => {
    canaryHits++
    sock.destroy()
  }))
  canaryPort = canary.address().port
  // The same port on ::1 too, when this host has IPv6 loopback.
  const v6 = createTcpServer((sock) => {
    canaryHits++
    sock.destroy()
  })
  await listen(v6, canaryPort, '::1').then((s) => servers.push(s), () => {})

  origin = await listen(createServer((req, res) => {
    if (req.url === '/gopher.png') {
      res.writeHead(200, { 'Content-Type': 'image/png' }).end(readTestdata('gopher.png'))
    } else if (req.url.startsWith('/to/')) {
      res.writeHead(302, { Location: req.url.slice(4) }).end()
    } else {
      res.writeHead(404).end()
    }
  }))
  originHost = `127.0.0.1:${origin.address().port}`

  const app = express()
  // Defaults: loopback, private and link-local refused.
  app.use('/default', imagorMiddleware({ unsafe: true }))
  // The origin explicitly allowed (loopback lifted, one allowed source).
  app.use('/origin', imagorMiddleware({
    unsafe: true,
    httpLoaderBlockLoopbackNetworks: false,
    httpLoaderAllowedSources: [originHost],
  }))
  // Loopback lifted, any source, but 127.0.0.2 blocked by network.
  app.use('/lifted', imagorMiddleware({
    unsafe: true,
    httpLoaderBlockLoopbackNetworks: false,
    httpLoaderBlockNetworks: ['127.0.0.2/32'],
  }))
  server = await listen(createServer(app))
  base = `http://127.0.0.1:${server.address().port}`
})

after(() => {
  for (const s of [server, origin, canary, ...servers]) s?.close()
})

test('every address of the SSRF matrix is refused with 403, canary untouched', async () => {
  const failures = []
  for (const url of MATRIX.map((u) => u.replace('PORT', String(canaryPort)))) {
    const r = await get(target('/default', url))
    if (r.status !== 403) failures.push(`${url}: ${r.status} ${r.text}`)
  }
  assert.deepEqual(failures, [])
  const r = await get(`/default/unsafe/http://127.0.0.1:${canaryPort}/x.jpg`)
  assert.deepEqual(JSON.parse(r.text), {
    message: `unauthorized request: loopback address blocked: http://127.0.0.1:${canaryPort}/x.jpg`,
    status: 403,
  })
  // A name that resolves to 127.0.0.1 here (/etc/hosts).
  const named = await get(`/default/unsafe/http://localhost:${canaryPort}/x.jpg`)
  assert.equal(named.status, 403)
  for (const url of ['file:///etc/passwd', 'gopher://127.0.0.1:70/x', 'ftp://127.0.0.1/x']) {
    const s = (await get(`/default/unsafe/${url}`)).status
    assert.ok(s === 400 || s === 403, `${url}: ${s}`)
  }
  assert.equal(canaryHits, 0)
})

test('redirects from an allowed origin to loopback are refused', async () => {
  // Allowed: the origin itself, and a redirect that stays on it.
  const ok = await fetch(`${base}/origin/unsafe/fit-in/16x16/http://${originHost}/gopher.png`)
  assert.equal(ok.status, 200)
  assert.equal(ok.headers.get('content-type'), 'image/png')
  const hop = await get(`/origin/unsafe/fit-in/16x16/http://${originHost}/to/http://${originHost}/gopher.png`)
  assert.equal(hop.status, 200)
  // A hop to the canary: not an allowed source.
  const out = await get(`/origin/unsafe/http://${originHost}/to/http://127.0.0.1:${canaryPort}/x.jpg`)
  assert.equal(out.status, 403)
  assert.deepEqual(JSON.parse(out.text), { message: 'http source not allowed', status: 403 })
  // Any source allowed: the address policy still holds at every hop.
  for (const to of [`http://127.0.0.2:${canaryPort}/x.jpg`, `http://[::ffff:127.0.0.2]:${canaryPort}/x.jpg`,
    'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/x.jpg']) {
    const r = await get(`/lifted/unsafe/http://${originHost}/to/${to}`)
    assert.equal(r.status, 403, `${to}: ${r.text}`)
    assert.match(JSON.parse(r.text).message, /^unauthorized request: /)
  }
  // With the defaults the origin itself is refused, before any hop.
  const refused = await get(`/default/unsafe/http://${originHost}/to/http://127.0.0.1:${canaryPort}/x.jpg`)
  assert.equal(refused.status, 403)
  assert.equal(canaryHits, 0)
})
