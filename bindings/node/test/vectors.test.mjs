// Every public signing and path vector of testdata/vectors (signing.json;
// path_parse.json parse and generate sets), through sign/verify/parse/generate.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { imagor, vectors } from './helpers.mjs'

const { sign, verify, parse, generate } = imagor

test('signing.json: sign and verify every case', () => {
  const { cases } = vectors('signing.json')
  assert.ok(cases.length >= 90)
  for (const c of cases) {
    const opts = { signerType: c.alg, truncate: c.truncate }
    assert.equal(sign(c.path, c.secret, opts), c.expect_hash, c.id)
    assert.equal(verify(c.path, c.expect_hash, c.secret, opts), true, c.id)
    assert.equal(verify(c.path, c.expect_hash + 'x', c.secret, opts), false, c.id)
    if (c.alg === 'sha1' && c.truncate === 0) assert.equal(sign(c.path, c.secret), c.expect_hash, c.id)
  }
})

test('path_parse.json: parse every case', () => {
  const { parse: cases } = vectors('path_parse.json')
  assert.ok(cases.length >= 270)
  for (const c of cases) {
    assert.deepStrictEqual(parse(c.path), c.expect, `${c.id}: ${c.path}`)
  }
})

test('path_parse.json: generate every case', () => {
  const { generate: cases } = vectors('path_parse.json')
  assert.ok(cases.length >= 50)
  const fns = new Set()
  for (const c of cases) {
    fns.add(c.fn)
    let got
    if (c.fn === 'GeneratePath') got = generate(c.params)
    else if (c.fn === 'GenerateUnsafe') got = generate(c.params, { unsafe: true })
    else if (c.fn === 'Generate') {
      const { secret, alg, truncate } = c.signer
      got = generate(c.params, { secret, signerType: alg, truncate })
    } else assert.fail(`${c.id}: unknown fn ${c.fn}`)
    assert.equal(got, c.expect_path, c.id)
  }
  assert.deepEqual([...fns].sort(), ['Generate', 'GeneratePath', 'GenerateUnsafe'])
})

test('parse then generate round-trips signed paths', () => {
  const path = 'fit-in/-300x200/10x20/left/top/smart/filters:fill(white):format(webp)/a%20b.jpg'
  const hash = sign(path, 'k')
  const p = parse(`/${hash}/${path}`)
  assert.equal(p.hash, hash)
  assert.equal(p.path, path)
  const bare = path.replace('a%20b', 'a b')
  assert.equal(generate(p), bare)
  assert.equal(generate(p, { secret: 'k' }), `${sign(bare, 'k')}/${bare}`)
  assert.equal(generate(parse(`unsafe/${path}`), { unsafe: true }), `unsafe/${bare}`)
})

test('sign options are checked', () => {
  assert.throws(() => sign('p', 's', { signerType: 'md5' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => sign('p', 's', { truncate: -1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => sign('p', 's', { truncate: '5' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => sign('p', 's', { trunc: 5 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /unknown sign option "trunc"/ })
  assert.throws(() => sign('p', 's', 'sha256'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.equal(sign('p', 's', { signerType: 'SHA256' }), sign('p', 's', { signerType: 'sha256' }))
  assert.equal(sign('p', 's', {}), sign('p', 's', null))
})

test('generate options are checked', () => {
  const p = { image: 'a.jpg', width: 10 }
  assert.equal(generate(p), '10x0/a.jpg')
  assert.equal(generate(p, { unsafe: true }), 'unsafe/10x0/a.jpg')
  assert.equal(generate(p, { secret: 's' }), `${sign('10x0/a.jpg', 's')}/10x0/a.jpg`)
  assert.throws(() => generate(p, { secret: 's', unsafe: true }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => generate(p, { secret: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => generate(p, { sekret: 's' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => generate({ width: '10' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => generate('a.jpg'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
})
