// Jobs queued when the process exits: nobody waits for their results, so
// they are dropped unstarted instead of delaying the exit (libuv runs every
// queued job before the process may end).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { pkgDir, testdata } from './helpers.mjs'

test('process.exit() drops the jobs still queued instead of running them first', () => {
  // Each job that runs saves its result: after exit, the files show how many ran.
  const results = mkdtempSync(join(tmpdir(), 'imagor-exit-'))
  const options = { unsafe: true, httpLoaderDisable: true, fileLoaderBaseDir: testdata, fileResultStorageBaseDir: results }
  const script = `
    const { Imagor } = require(${JSON.stringify(pkgDir)})
    const im = new Imagor(${JSON.stringify(options)})
    for (let i = 0; i < 300; i++) im.serve('unsafe/' + (200 + i) + 'x0/filters:blur(3)/gopher.png').catch(() => {})
    process.exit(${JSON.stringify(0)})
  `
  execFileSync(process.execPath, ['-e', script], { stdio: 'pipe' })
  const ran = readdirSync(results, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length
  rmSync(results, { recursive: true, force: true })
  assert.ok(ran < 50, `${ran} of 300 queued jobs ran after process.exit()`)
})

test('the same jobs all run when the process ends normally', () => {
  const results = mkdtempSync(join(tmpdir(), 'imagor-exit-'))
  const options = { unsafe: true, httpLoaderDisable: true, fileLoaderBaseDir: testdata, fileResultStorageBaseDir: results }
  const script = `
    const { Imagor } = require(${JSON.stringify(pkgDir)})
    const im = new Imagor(${JSON.stringify(options)})
    for (let i = 0; i < 20; i++) im.serve('unsafe/' + (200 + i) + 'x0/gopher.png')
  `
  execFileSync(process.execPath, ['-e', script], { stdio: 'pipe' })
  const ran = readdirSync(results, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length
  rmSync(results, { recursive: true, force: true })
  assert.equal(ran, 20)
})
