// Shared by the node:test files: the package under test, the repository's
// testdata, and the raw addon (for the hidden test hooks).
import { createRequire } from 'node:module'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const require = createRequire(import.meta.url)
export const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const testdata = join(pkgDir, '..', '..', 'testdata')
export const imagor = require(pkgDir)

export function readTestdata(name) {
  return readFileSync(join(testdata, name))
}

export function vectors(name) {
  return JSON.parse(readFileSync(join(testdata, 'vectors', name), 'utf8'))
}

/** The loaded addon itself (exports the hidden `__testPanic` in test builds). */
export function nativeAddon() {
  const file = readdirSync(pkgDir).find((f) => /^imagor\..*\.node$/.test(f))
  return require(join(pkgDir, file))
}
