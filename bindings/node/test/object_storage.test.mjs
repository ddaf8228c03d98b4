// S3 through the binding: `new Imagor({ s3LoaderBucket, s3Endpoint, ... })`
// serves from a real S3 server (s3s-fs on 127.0.0.1, started and stopped
// here with tests/services/s3.sh).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { imagor, repoRoot, testdata } from './helpers.mjs'

const s3Sh = join(repoRoot, 'tests', 'services', 's3.sh')
let dir
let env

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagor-node-s3-'))
  const out = execFileSync(s3Sh, ['start', dir], { encoding: 'utf8' })
  env = Object.fromEntries(
    out.split('\n').filter((l) => l.startsWith('export ')).map((l) => l.slice(7).split('=', 2)),
  )
})

after(() => {
  if (dir) execFileSync(s3Sh, ['stop', dir])
})

function s3(extra) {
  return {
    unsafe: true,
    s3Endpoint: env.S3_ENDPOINT,
    s3ForcePathStyle: true,
    awsRegion: env.AWS_REGION,
    awsAccessKeyId: env.AWS_ACCESS_KEY_ID,
    awsSecretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...extra,
  }
}

test('Imagor: S3 storage keeps sources, S3 loader and result storage serve them', async () => {
  const seeder = new imagor.Imagor(s3({ fileLoaderBaseDir: testdata, s3StorageBucket: 'imagor', s3StorageBaseDir: 'node' }))
  await seeder.serve('unsafe/10x10/gopher.png')
  const im = new imagor.Imagor(
    s3({ s3LoaderBucket: 'imagor', s3LoaderBaseDir: 'node', s3ResultStorageBucket: 'imagor', s3ResultStorageBaseDir: 'node-results' }),
  )
  const path = 'unsafe/fit-in/40x40/filters:format(webp)/gopher.png'
  const out = await im.serve(path)
  assert.equal(out.contentType, 'image/webp')
  const m = await im.meta(out.data)
  assert.equal(Math.max(m.width, m.height), 40)
  // A second instance without a loader answers from the result storage.
  const resultsOnly = new imagor.Imagor(s3({ s3ResultStorageBucket: 'imagor', s3ResultStorageBaseDir: 'node-results' }))
  assert.deepEqual((await resultsOnly.serve(path)).data, out.data)
  await assert.rejects(im.serve('unsafe/10x10/missing.png'), { code: 'ERR_IMAGOR_NOT_FOUND', status: 404 })
  const denied = new imagor.Imagor(s3({ s3LoaderBucket: 'imagor', awsSecretAccessKey: 'wrong' }))
  await assert.rejects(denied.serve('unsafe/10x10/node/gopher.png'), { status: 403 })
})
