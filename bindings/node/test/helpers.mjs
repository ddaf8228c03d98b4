// Shared by the node:test files: the package under test, the repository's
// testdata, and the raw addon (for the hidden test hooks).
import { createRequire } from 'node:module'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const require = createRequire(import.meta.url)
/** This directory (test/). */
export const testDir = dirname(fileURLToPath(import.meta.url))
/**
 * `make test-packages` runs a copy of these files in a fresh app that
 * installed the npm tarballs, with IMAGOR_REPO_ROOT set: the package under
 * test is then the installed `imagor`, not this source tree.
 */
export const installed = Boolean(process.env.IMAGOR_REPO_ROOT)
export const pkgDir = installed ? dirname(require.resolve('imagor/package.json')) : join(testDir, '..')
export const repoRoot = process.env.IMAGOR_REPO_ROOT ?? join(pkgDir, '..', '..')
export const testdata = join(repoRoot, 'testdata')
/** The dev tools (tsc, napi): the app's in a package run. */
export const binDir = join(installed ? join(testDir, '..') : pkgDir, 'node_modules', '.bin')
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
  return file ? require(join(pkgDir, file)) : require(`imagor-linux-${process.arch}-gnu`)
}
