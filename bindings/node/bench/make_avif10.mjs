// `make bench`'s 10-bit AVIF corpus: the JPEG corpus (core/benches/
// make_corpus.py) saved by sharp as 10-bit AVIF (4:2:0, quality 70, effort
// 1, as the 8-bit AVIFs), since Debian's libaom cannot encode 10 bits.
// Written once: `node make_avif10.mjs CORPUS` fills CORPUS/avif10.
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const sharp = createRequire(import.meta.url)('sharp')
const corpus = process.argv[2]
const out = join(corpus, 'avif10')
mkdirSync(out, { recursive: true })
for (const name of readdirSync(join(corpus, 'jpeg'))) {
  const dest = join(out, name.replace(/\.jpe?g$/, '.avif'))
  if (!existsSync(dest)) {
    await sharp(join(corpus, 'jpeg', name))
      .avif({ bitdepth: 10, quality: 70, effort: 1, chromaSubsampling: '4:2:0' })
      .toFile(dest)
  }
}
console.log(`10-bit AVIF corpus ready in ${out}`)
