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
