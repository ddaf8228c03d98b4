// Compiled (not run) by types.test.mjs: the declarations a TypeScript user
// relies on. Any error here fails the test.
import { readFileSync } from 'node:fs'

import {
  generate,
  Imagor,
  ImagorError,
  type ImagorErrorCode,
  type ImagorMeta,
  type ImagorParams,
  ImagorUrlBuilder,
  meta,
  parse,
  process as imagorProcess,
  processSync,
  sign,
  verify,
} from 'imagor'
import { imagorLocals, imagorMiddleware, imagorUrl } from 'imagor/express'


async function main(): Promise<void> {
  const data: Uint8Array = readFileSync('photo.jpg')
  const out = await imagorProcess(data, 'fit-in/200x200/filters:format(webp)', { stripMetadata: true })
  const m: ImagorMeta = await meta(out, 'fit-in/10x10/')
  const w: number = m.width + processSync(data, '10x10/').length
  const hash: string = sign('a.jpg', 'secret', { signerType: 'sha256', truncate: 40 })
  const ok: boolean = verify('a.jpg', hash, 'secret')
  const params: ImagorParams = parse('unsafe/fit-in/200x200/a.jpg')
  const path: string = generate({ ...params, width: w }, { secret: 'secret' })
  const im = new Imagor({ secret: 'secret', maxWidth: 4000, loader: async (key: string) => (key ? data : null) })
  const served = await im.serve(`${im.sign(path)}/${path}`)
  const type: string = served.contentType
  const answer = await im.handle({ method: 'GET', path: `/${im.sign(path)}/${path}`, headers: { accept: 'image/webp' } })
  const status: number = answer.status
  const headers: Array<[string, string]> = answer.headers
  const body: Buffer = answer.body
  const url: string = new ImagorUrlBuilder('key', 'https://img').setImagePath('a.jpg').resize(10, 10).smartCrop(true).filter('format(webp)').buildUrl()
  try {
    await im.process(data, path)
  } catch (e) {
    if (e instanceof ImagorError) {
      const code: ImagorErrorCode = e.code
      const status: number = e.status
      console.log(code, status, e.toJSON().message)
    }
  }
  const mw = imagorMiddleware({ unsafe: true, httpLoaderBaseUrl: 'http://127.0.0.1:1', httpLoaderBlockLoopbackNetworks: false, cacheHeaderTtl: 60 })
  const locals = imagorLocals({ secret: 'secret', baseUrl: '/img' })
  const link: string = imagorUrl({ secret: 'secret' })({ image: 'a.jpg', width: 10 })
  console.log(ok, type, url, mw, locals, link, im.options.maxWidth, Buffer.isBuffer(out))
}

void main
