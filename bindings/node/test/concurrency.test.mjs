// Many calls in flight at once: the work runs off the event loop (timers keep
// ticking) and every promise resolves with its own result.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { imagor, readTestdata } from './helpers.mjs'

const { process, meta, Imagor } = imagor
const demo = readTestdata('demo1.jpg')
const gopher = readTestdata('gopher.png')

test('100 concurrent process calls resolve correctly while the event loop ticks', async () => {
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  try {
    const jobs = Array.from({ length: 100 }, (_, i) => {
      const w = 20 + i
      const format = ['jpeg', 'png', 'webp'][i % 3]
      return process(i % 2 ? demo : gopher, `${w}x${w}/filters:format(${format})`).then((out) => ({ out, w, format }))
    })
    const ticksAtStart = ticks
    const results = await Promise.all(jobs)
    assert.ok(ticks > ticksAtStart, `the interval never ticked while 100 calls were in flight (${ticks})`)
    const metas = await Promise.all(results.map(({ out }) => meta(out)))
    results.forEach(({ w, format }, i) => {
      assert.deepEqual([metas[i].format, metas[i].width, metas[i].height], [format, w, w], `call ${i}`)
    })
  } finally {
    clearInterval(timer)
  }
})

test('concurrent serve calls through a JavaScript loader', async () => {
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  let inFlight = 0
  let maxInFlight = 0
  const server = new Imagor({
    unsafe: true,
    loader: async (key) => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      await new Promise((r) => setTimeout(r, 10))
      inFlight--
      return key === 'gopher.png' ? gopher : null
    },
  })
  try {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => server.serve(`unsafe/${10 + i}x${10 + i}/filters:format(png)/gopher.png`)),
    )
    assert.ok(ticks > 0)
    assert.ok(maxInFlight > 1, 'loads did not overlap')
    const metas = await Promise.all(results.map((r) => meta(r.data)))
    metas.forEach((m, i) => assert.deepEqual([m.width, m.height], [10 + i, 10 + i]))
  } finally {
    clearInterval(timer)
  }
})

test('a loader or detector calling back into its instance does not wait for its outer call', async () => {
  // With processConcurrency 1 the outer request holds the only place while
  // its loader (or detector) runs on the JavaScript thread: the serve() or
  // handle() it made on the same instance waited for that place until
  // requestTimeout (a 408 after 30 s by default). It runs under the outer
  // request's place instead. A loader asking for the very request it loads
  // for would wait for its own result; it runs the work again instead (as
  // imagor), and without end stops where requests nest 32 deep.
  let im
  const loader = async (key) => {
    if (key === 'inner.png') return gopher
    if (key === 'itself.png') return (await im.serve('unsafe/20x20/itself.png')).data
    if (key === 'by-handle.png') {
      const res = await im.handle({ method: 'GET', path: '/unsafe/10x10/inner.png' })
      assert.equal(res.status, 200, String(res.body))
      return res.body
    }
    // Off the loader's own tick: the place is still lent after an await.
    await new Promise((resolve) => setTimeout(resolve, 5))
    return (await im.serve('unsafe/10x10/inner.png')).data
  }
  const detector = async () => {
    await im.serve('unsafe/10x10/inner.png')
    return []
  }
  im = new Imagor({ unsafe: true, loader, detectors: [detector], processConcurrency: 1, processQueueSize: 4, requestTimeout: 5, httpLoaderDisable: true })
  const started = Date.now()
  assert.ok((await im.serve('unsafe/20x20/outer.png')).data.length > 0)
  assert.equal((await im.handle({ method: 'GET', path: '/unsafe/20x20/by-handle.png' })).status, 200)
  assert.ok((await im.serve('unsafe/20x20/filters:redact()/inner.png')).data.length > 0)
  await assert.rejects(im.serve('unsafe/20x20/itself.png'), (e) => {
    assert.equal(e.status, 400, e.message)
    assert.match(e.message, /nested more than 32 deep/)
    return true
  })
  const res = await im.handle({ method: 'GET', path: '/unsafe/20x20/itself.png' })
  assert.equal(res.status, 400)
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms: a request timeout`)
  // The place is free again: an ordinary request is served.
  assert.ok((await im.serve('unsafe/10x10/inner.png')).data.length > 0)
})
