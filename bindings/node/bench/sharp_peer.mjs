// sharp side of `make bench`: the same cover resize with its own bundled
// libvips, encoder options set to ours (libvips defaults: JPEG Q75 without
// optimised coding, PNG compression 6 with adaptive row filtering as we write
// it, WebP Q75 effort 4, AVIF Q50 effort 1 with 4:2:0 chroma) and metadata
// kept as imagor keeps it.
import { createRequire } from 'node:module'

import { args, corpus, drive } from './common.mjs'

const sharp = createRequire(import.meta.url)('sharp')
sharp.cache(false)
const a = args()
const encoders = {
  jpeg: (s) => s.jpeg({ quality: 75, optimiseCoding: false }),
  png: (s) => s.png({ compressionLevel: 6, adaptiveFiltering: true }),
  webp: (s) => s.webp({ quality: 75, effort: 4 }),
  avif: (s) => s.avif({ quality: 50, effort: 1, chromaSubsampling: '4:2:0' }),
}
const encode = encoders[a.format]
await drive(
  'sharp',
  corpus(a.corpus),
  (buf) => encode(sharp(buf).resize(a.size, a.size, { fit: 'cover' }).keepMetadata()).toBuffer(),
  a,
)
