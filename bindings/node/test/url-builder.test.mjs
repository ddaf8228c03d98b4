// ImagorUrlBuilder: the thumbor-url-builder chain, with URLs from the core's
// generate(); cross-checked against the npm thumbor-url-builder package
// itself on generated option sets.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { imagor, require } from './helpers.mjs'

const ThumborUrlBuilder = require('thumbor-url-builder')
const { ImagorUrlBuilder, generate, parse, sign } = imagor

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const IMAGES = [
  'photo.jpg',
  '/00223lsvrnzeaf42.png',
  'raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png',
  'uploads/2024/01/a-b_c.d.webp',
  's.glbimg.com/es/ge/f/original/2011/03/29/orlandosilva_60.jpg',
  'https://example.com/img/cat.jpeg',
]
const FILTERS = [
  'quality(80)',
  'format(webp)',
  'fill(white)',
  'blur(3,2)',
  'grayscale()',
  'watermark(logo.png,10,-10,50)',
  'round_corner(20,20,20)',
  'brightness(-10)',
  'strip_exif()',
  'max_bytes(50000)',
]
const KEYS = ['MY_KEY', 'mysecret', 'a long secret with spaces and ünïcode', '', null]
const SERVERS = ['http://myserver.thumbor.com', 'https://img.example.com', 'http://127.0.0.1:8000/img']

/** One random chain, applied the same way to both builders. */
function randomChain(rand) {
  const pick = (xs) => xs[Math.floor(rand() * xs.length)]
  const int = (n) => Math.floor(rand() * n)
  const steps = [['setImagePath', pick(IMAGES)]]
  if (rand() < 0.7) {
    const size = [rand() < 0.15 ? 0 : int(2000), rand() < 0.15 ? 0 : int(2000)]
    if (rand() < 0.15 && size[0]) size[0] = -size[0]
    steps.push([rand() < 0.5 ? 'resize' : 'fitIn', ...size])
  }
  if (rand() < 0.3) steps.push(['smartCrop', rand() < 0.8])
  const negative = steps.some((s) => (s[0] === 'resize' || s[0] === 'fitIn') && s[1] < 0)
  if (rand() < 0.2 && !negative) steps.push(['flipHorizontally'])
  if (rand() < 0.2) steps.push(['flipVertically'])
  if (rand() < 0.3) steps.push(['halign', pick(['left', 'right'])])
  if (rand() < 0.3) steps.push(['valign', pick(['top', 'bottom'])])
  if (rand() < 0.15) steps.push(['metaDataOnly', rand() < 0.8])
  if (rand() < 0.3) {
    const edge = () => (rand() < 0.1 ? 0 : 1 + int(800))
    steps.push(['crop', edge(), edge(), edge(), edge()])
  }
  for (let i = int(4); i > 0; i--) steps.push(['filter', pick(FILTERS)])
  return { key: pick(KEYS), server: pick(SERVERS), steps }
}

function build(Builder, { key, server, steps }) {
  const b = new Builder(key, server)
  for (const [method, ...args] of steps) b[method](...args)
  return b
}

test('ImagorUrlBuilder equals thumbor-url-builder on 500 generated option sets', () => {
  const rand = prng(20240611)
  const log = console.log
  console.log = () => {} // thumbor-url-builder 0.1.1 logs every halign() call
  try {
    for (let i = 0; i < 500; i++) {
      const chain = randomChain(rand)
      const expected = build(ThumborUrlBuilder, chain).buildUrl()
      const ours = build(ImagorUrlBuilder, chain)
      const url = ours.buildUrl()
      assert.equal(url, expected, `set ${i}: ${JSON.stringify(chain)}`)
      // ...and the URL is the core's generate() for the collected params.
      const opts = chain.key ? { secret: chain.key } : { unsafe: true }
      assert.equal(url, `${chain.server}/${generate(ours.toParams(), opts)}`)
      assert.equal(ours.getOperationPath(), build(ThumborUrlBuilder, chain).getOperationPath())
      // The path parses back to the same image, and verifies.
      const path = url.slice(chain.server.length + 1)
      const p = parse(path)
      assert.equal(p.image, ours.imagePath)
      if (chain.key) assert.equal(p.hash, sign(p.path, chain.key))
    }
  } finally {
    console.log = log
  }
})

test('the README example of thumbor-url-builder', () => {
  const url = new ImagorUrlBuilder('MY_KEY', 'http://myserver.thumbor.com')
    .setImagePath('00223lsvrnzeaf42.png')
    .resize(50, 50)
    .smartCrop(true)
    .buildUrl()
  assert.equal(url, new ThumborUrlBuilder('MY_KEY', 'http://myserver.thumbor.com').setImagePath('00223lsvrnzeaf42.png').resize(50, 50).smartCrop(true).buildUrl())
  assert.equal(url, `http://myserver.thumbor.com/${sign('50x50/smart/00223lsvrnzeaf42.png', 'MY_KEY')}/50x50/smart/00223lsvrnzeaf42.png`)
})

test('imagor extensions and differences', () => {
  const b = () => new ImagorUrlBuilder(null, 'https://img').setImagePath('a.jpg')
  assert.equal(b().trim('bottom-right', 10).stretch().padding(5, 6).fullFitIn(100, 0).buildUrl(), 'https://img/unsafe/trim:bottom-right:10/full-fit-in/stretch/100x0/5x6/a.jpg')
  assert.equal(b().adaptiveFitIn('100', '200').filter('format(webp)').buildUrl(), 'https://img/unsafe/adaptive-fit-in/100x200/filters:format(webp)/a.jpg')
  // imagor leaves out the default alignments (thumbor-url-builder writes them).
  assert.equal(b().halign('center').valign('middle').resize(10, 10).buildUrl(), 'https://img/unsafe/10x10/a.jpg')
  // imagor escapes images that would not parse back (thumbor-url-builder does not).
  assert.equal(new ImagorUrlBuilder(null, '').setImagePath('a(1).jpg').buildUrl(), '/unsafe/a%281%29.jpg')
  assert.equal(new ImagorUrlBuilder('k', '', { signerType: 'sha256', truncate: 10 }).setImagePath('a.jpg').buildUrl(), `/${sign('a.jpg', 'k', { signerType: 'sha256', truncate: 10 })}/a.jpg`)
  assert.throws(() => b().halign('middle'), /Horizontal align/)
  assert.throws(() => b().valign('left'), /Vertical align/)
  assert.throws(() => b().resize(320, 'orig'), { name: 'TypeError', message: /orig/ })
  assert.throws(() => new ImagorUrlBuilder('k', 's').buildUrl(), /can't be null or empty/)
  assert.deepEqual(b().fitIn(10, 20).filter('quality(80)').toParams(), {
    image: 'a.jpg',
    width: 10,
    height: 20,
    fit_in: true,
    filters: [{ name: 'quality', args: '80' }],
  })
})
