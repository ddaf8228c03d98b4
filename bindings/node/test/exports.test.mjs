// The addon's dynamic symbols: Node's entry point and nothing else. A
// dependency's own C exports (crc-fast, behind object_store, put 26
// `crc_fast_*` there) would be a second, unchecked API of the addon, and
// could interpose on another library of the same names in the process.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { pkgDir, require } from './helpers.mjs'

/** The addon file `nativeAddon()` loads: built here, or the platform package's. */
function addonPath() {
  const file = readdirSync(pkgDir).find((f) => /^imagor\..*\.node$/.test(f))
  return file ? join(pkgDir, file) : require.resolve(`imagor-linux-${process.arch}-gnu`)
}

function hasNm() {
  try {
    execFileSync('nm', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

test('the addon exports napi_register_module_v1 only', (t) => {
  if (process.platform !== 'linux') return t.skip('ELF dynamic symbols')
  if (!hasNm()) return t.skip('nm (binutils) is not installed')
  const addon = addonPath()
  const out = execFileSync('nm', ['-D', '--defined-only', addon], { encoding: 'utf8' })
  const exported = out.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/).pop()).sort()
  assert.deepEqual(exported, ['napi_register_module_v1'], `${addon} exports ${exported.join(', ')}`)
})
