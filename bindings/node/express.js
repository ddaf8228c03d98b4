'use strict'

// `require('imagor/express')`: serve imagor paths from an Express app and
// sign URLs in templates.
//
//   app.use('/img', imagorMiddleware({ secret, fileLoaderBaseDir: './images' }))
//   app.use(imagorLocals({ secret, baseUrl: '/img' }))   // res.locals.imagorUrl(...); no secret: throws
//
// The middleware is a thin adapter: every request goes to the core's
// `Imagor.handle`, the same request handling as the `imagor` server, so the
// status, headers (Content-Type, Cache-Control, Expires, Vary, ETag,
// Last-Modified, Content-Disposition) and bodies are the server's. Sources
// from HTTP origins are fetched by the core's HTTP loader (the `httpLoader*`
// options), under the server's SSRF policy: no JavaScript fetches here.

const { Imagor, generate, sign } = require('./index.js')

/** Headers that belong to this hop, not to imagor's answer. */
const HOP_HEADERS = new Set(['connection', 'transfer-encoding', 'keep-alive'])

function badOption(message) {
  return Object.assign(new TypeError(`imagor/express: ${message}`), { code: 'ERR_INVALID_ARG_VALUE' })
}

/**
 * Read a POST body, at most `limit` bytes (more answers imagor's 400
 * "maximum size exceeded" without buffering the rest). A body that an
 * earlier middleware already read as a Buffer is used as is; one it read
 * as something else (`express.json()`, `express.text()`) has no bytes
 * left to read and is empty, so imagor answers it as it answers an empty
 * upload (waiting for the stream's end held such a request forever).
 */
function readBody(req, limit) {
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body)
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0))
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > limit) {
        req.pause()
        reject(Object.assign(new Error('maximum size exceeded'), { tooLarge: true }))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/**
 * Express middleware serving imagor paths under its mount point, as imagor's
 * server does. `options` are the `Imagor` options (camelCase, including
 * `httpLoaderBaseUrl`, `httpLoaderAllowedSources`, `cacheHeaderTtl`,
 * `disableErrorBody`, `uploadLoaderEnable`, `loader` ...),
 * or pass a configured instance as `options.imagor`. `/` under the mount
 * point goes on to the next handler unless `basePathRedirect` is set.
 */
function imagorMiddleware(options = {}) {
  if (options === null || typeof options !== 'object') throw badOption('options must be an object')
  const { imagor: given, ...imagorOptions } = options
  if (given !== undefined && Object.keys(imagorOptions).length > 0) {
    throw badOption('pass either an Imagor instance as `imagor` or Imagor options, not both')
  }
  if (given !== undefined && !(given instanceof Imagor)) throw badOption('`imagor` must be an Imagor instance')
  if (given === undefined && imagorOptions.unsafe !== true && (typeof imagorOptions.secret !== 'string' || !imagorOptions.secret)) {
    // Without either, every request would answer 500 (or 403): say so now.
    const got = typeof imagorOptions.secret === 'string' ? 'an empty string' : String(imagorOptions.secret)
    throw badOption(`imagorMiddleware needs a \`secret\` (got ${got}: is IMAGOR_SECRET set?) or \`unsafe: true\``)
  }
  const imagor = given ?? new Imagor(imagorOptions)
  const settings = imagor.options
  // The upload limit plus room for a multipart envelope, as the server reads.
  const bodyLimit = Math.max(0, settings.uploadLoaderMaxAllowedSize) + (1 << 20)

  return function imagor_(req, res, next) {
    const [path, ...rest] = req.url.split('?')
    if ((path === '/' || path === '') && !settings.basePathRedirect) return next()
    const request = { method: req.method, path, query: rest.join('?'), headers: req.headers }
    const wantsBody = req.method === 'POST' && settings.uploadLoaderEnable
    const body = wantsBody ? readBody(req, bodyLimit) : Promise.resolve(undefined)
    body
      .then((data) => imagor.handle(data ? { ...request, body: data } : request))
      .then(
        (answer) => {
          res.statusCode = answer.status
          for (const [name, value] of answer.headers) {
            if (HOP_HEADERS.has(name.toLowerCase())) continue
            const prev = res.getHeader(name)
            res.setHeader(name, prev === undefined ? value : [].concat(prev, value))
          }
          if (!res.hasHeader('content-length') && answer.status !== 304 && answer.status !== 204) {
            res.setHeader('Content-Length', String(answer.body.length))
          }
          res.end(req.method === 'HEAD' || answer.body.length === 0 ? undefined : answer.body)
        },
        (err) => {
          if (err?.tooLarge) {
            // imagor's ErrMaxSizeExceeded, as the server answers it.
            const json = JSON.stringify({ message: 'maximum size exceeded', status: 400 })
            res.statusCode = 400
            res.setHeader('Connection', 'close')
            if (settings.disableErrorBody) return res.end()
            res.setHeader('Content-Type', 'application/json')
            return res.end(json)
          }
          next(err)
        },
      )
      .catch(next)
  }
}

/**
 * A function that makes imagor URLs for templates: a path string is signed
 * (`${baseUrl}/${HASH}/${path}`); a params object goes through `generate`.
 * Options: `secret`, `signerType`, `signerTruncate` (as the server's),
 * `baseUrl` (where the middleware is mounted, default `''`). Without a secret
 * it throws, unless `unsafe: true` asks for `unsafe/` URLs (which a server
 * serves only when it allows unsafe paths): an unset `IMAGOR_SECRET` must not
 * turn into pages of URLs that the middleware then refuses with 403.
 */
function imagorUrl(options = {}) {
  if (options === null || typeof options !== 'object') throw badOption('imagorUrl options must be an object')
  const { secret, unsafe = false, signerType, signerTruncate, baseUrl = '' } = options
  if (typeof unsafe !== 'boolean') throw badOption('`unsafe` must be a boolean')
  if (unsafe && secret !== undefined) throw badOption('pass either `secret` or `unsafe: true`, not both')
  if (!unsafe && (typeof secret !== 'string' || secret === '')) {
    const got = typeof secret === 'string' ? 'an empty string' : String(secret)
    throw Object.assign(
      badOption(
        `imagorUrl needs the server's \`secret\` (got ${got}: is IMAGOR_SECRET set?), ` +
          'or `unsafe: true` for unsigned unsafe/ URLs',
      ),
      { code: 'ERR_INVALID_ARG_VALUE' },
    )
  }
  const signOptions = {}
  if (signerType !== undefined) signOptions.signerType = signerType
  if (signerTruncate !== undefined) signOptions.truncate = signerTruncate
  const base = String(baseUrl).replace(/\/+$/, '')
  return function url(pathOrParams) {
    if (typeof pathOrParams === 'string') {
      const path = pathOrParams.replace(/^\/+/, '')
      return unsafe ? `${base}/unsafe/${path}` : `${base}/${sign(path, secret, signOptions)}/${path}`
    }
    const opts = unsafe ? { unsafe: true } : { secret, ...signOptions }
    return `${base}/${generate(pathOrParams, opts)}`
  }
}

/** Middleware that sets `res.locals.imagorUrl` (see `imagorUrl`) for templates. */
function imagorLocals(options = {}) {
  const url = imagorUrl(options)
  return function imagorLocals_(req, res, next) {
    res.locals.imagorUrl = url
    next()
  }
}

module.exports = { imagorMiddleware, imagorUrl, imagorLocals }
