// Raw pixels out (toPixels) and in (processPixels), checked against sharp's
// own raw decode of the same images.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { imagor, readTestdata, require } from './helpers.mjs'

const sharp = require('sharp')
const gopher = readTestdata('gopher.png')

test('toPixels: the pixels of the result, as sharp decodes its PNG', async () => {
  const px = await imagor.toPixels(gopher, 'fit-in/60x60')
  assert.deepEqual([px.width, px.height, px.bands, px.pages], [44, 60, 4, 1])
  assert.ok(Buffer.isBuffer(px.data))
  assert.equal(px.data.length, 44 * 60 * 4)
  const png = await imagor.process(gopher, 'fit-in/60x60/filters:format(png)')
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
  assert.deepEqual([info.width, info.height, info.channels], [44, 60, 4])
  assert.ok(data.equals(px.data), 'same samples as sharp reads from our PNG')
  // Per-call options and an ArrayBuffer input.
  const ab = gopher.buffer.slice(gopher.byteOffset, gopher.byteOffset + gopher.byteLength)
  await assert.rejects(imagor.toPixels(ab, 'fit-in/400x400', { maxMemory: 100000 }), {
    code: 'ERR_IMAGOR_LIMIT_EXCEEDED',
    status: 422,
  })
  const anim = await imagor.toPixels(readTestdata('dancing-banana.gif'), 'fit-in/20x20')
  assert.ok(anim.pages > 1 && anim.height % anim.pages === 0)
})

test('processPixels: raw pixels in, an encoded image out', async () => {
  const width = 6
  const height = 4
  const rgb = Buffer.alloc(width * height * 3)
  for (let i = 0; i < width * height; i++) rgb[i * 3] = 255
  const png = await imagor.processPixels(rgb, { width, height, bands: 3 }, 'filters:format(png)')
  const m = await imagor.meta(png)
  assert.deepEqual([m.format, m.width, m.height], ['png', 6, 4])
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
  assert.deepEqual([...data.subarray(0, 3)], [255, 0, 0])
  // Round trip: toPixels of what processPixels wrote, mirrored by the path.
  const px = await imagor.toPixels(gopher, 'fit-in/30x30')
  const raw = { width: px.width, height: px.height, bands: px.bands }
  const flipped = await imagor.toPixels(await imagor.processPixels(px.data, raw, '-0x0/filters:format(png)'))
  const row = px.width * px.bands
  assert.deepEqual([...flipped.data.subarray(0, 4)], [...px.data.subarray(row - 4, row)])
})

test('processPixels: wrong layouts are TypeErrors or typed errors', async () => {
  const px = Buffer.alloc(48)
  assert.throws(() => imagor.processPixels(px, undefined, ''), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => imagor.processPixels(px, { width: 4, height: 4 }, ''), { code: 'ERR_INVALID_ARG_TYPE', message: /raw\.bands/ })
  assert.throws(() => imagor.processPixels(px, { width: 4, height: 4, bands: 5 }, ''), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => imagor.processPixels(px, { width: 1.5, height: 4, bands: 3 }, ''), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => imagor.toPixels('not bytes'), { code: 'ERR_INVALID_ARG_TYPE' })
  // 48 bytes are not 8x8 RGB: the core says so.
  await assert.rejects(imagor.processPixels(px, { width: 8, height: 8, bands: 3 }, ''), { code: 'ERR_IMAGOR_INVALID', status: 400 })
  await assert.rejects(imagor.toPixels(gopher, 'meta/'), { code: 'ERR_IMAGOR_INVALID' })
  await assert.rejects(imagor.toPixels(Buffer.from('not an image')), { status: 406 })
})

test('fastShrinkOnLoad: the same size, nearly the same pixels', async () => {
  const jpeg = await imagor.process(readTestdata('faces-astronaut.jpg'), '3000x2000/filters:quality(92)')
  const exact = await imagor.toPixels(jpeg, '512x512')
  const fast = await imagor.toPixels(jpeg, '512x512', { fastShrinkOnLoad: true })
  assert.deepEqual([fast.width, fast.height, fast.bands], [exact.width, exact.height, exact.bands])
  let sum = 0
  for (let i = 0; i < exact.data.length; i++) sum += Math.abs(exact.data[i] - fast.data[i])
  const mad = sum / exact.data.length
  assert.ok(mad > 0 && mad < 4, `mean absolute difference ${mad}`)
})
