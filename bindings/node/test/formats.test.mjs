// formats(): what this build loads and saves. A format missing from it (the
// prebuilt package's libvips has no JPEG XL, JPEG 2000, PDF or HEIC) is
// refused with ERR_IMAGOR_UNSUPPORTED_FORMAT (406) naming it; a listed one works.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { imagor, readTestdata } from './helpers.mjs'

const { formats, Imagor, process, meta, versions } = imagor

const inputs = {
  jxl: 'jxl-isobmff.jxl',
  jp2: 'gopher.jp2',
  pdf: 'sample.pdf',
  heif: 'gopher-front.heif',
  avif: 'gopher-front.avif',
  tiff: 'gopher.tiff',
  webp: 'demo3.webp',
}

function refused(name) {
  return (e) => {
    assert.equal(e.code, 'ERR_IMAGOR_UNSUPPORTED_FORMAT', e.message)
    assert.equal(e.status, 406)
    assert.ok(e.message.includes(` ${name} `), e.message)
    if (formats().flavour === 'bundled') assert.ok(e.message.includes('system libvips'), e.message)
    return true
  }
}

test('formats() lists the common formats, its libvips and flavour', () => {
  const f = formats()
  assert.deepEqual(Object.keys(f).sort(), ['av1Decoder', 'flavour', 'libvips', 'load', 'save'])
  assert.ok(['dav1d', 'libheif'].includes(f.av1Decoder), f.av1Decoder)
  assert.ok(['system', 'bundled'].includes(f.flavour), f.flavour)
  assert.equal(f.libvips, versions().vips)
  for (const name of ['jpeg', 'png', 'gif', 'webp', 'avif', 'tiff', 'bmp', 'svg']) assert.ok(f.load.includes(name), name)
  for (const name of ['jpeg', 'png', 'gif', 'webp', 'avif', 'tiff']) assert.ok(f.save.includes(name), name)
  for (const name of ['bmp', 'svg', 'pdf']) assert.ok(!f.save.includes(name), name)
  if (f.flavour === 'bundled') {
    for (const name of ['jxl', 'jp2', 'pdf', 'heif']) assert.ok(!f.load.includes(name), name)
  }
})

test('inputs follow formats(): decoded when listed, 406 naming the format when not', async () => {
  const im = new Imagor({ blockUntrustedLoaders: false })
  for (const [name, file] of Object.entries(inputs)) {
    const data = readTestdata(file)
    if (formats().load.includes(name)) {
      assert.ok(['jp2k', name].includes((await im.meta(data)).format), name)
    } else {
      await assert.rejects(im.process(data, 'fit-in/40x40/filters:format(png)'), refused(name))
    }
  }
})

test('outputs follow formats(): encoded when listed, 406 naming the format when not', async () => {
  const gopher = readTestdata('gopher.png')
  for (const name of ['jxl', 'jp2', 'heif', 'avif', 'webp', 'gif']) {
    const path = `fit-in/32x32/filters:format(${name})`
    if (formats().save.includes(name)) {
      assert.ok((await process(gopher, path)).length > 0, name)
    } else {
      await assert.rejects(process(gopher, path), refused(name))
    }
  }
})
