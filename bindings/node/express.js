'use strict'

// `require('imagor/express')`: serve imagor paths from an Express app, sign
// URLs in templates, and load sources from an HTTP origin.
//
//   app.use('/img', imagorMiddleware({ secret, fileLoaderBaseDir: './images' }))
//   app.use(imagorLocals({ secret, baseUrl: '/img' }))   // res.locals.imagorUrl(...)
//
// Responses follow imagor's server: Content-Type, Content-Disposition,
// Expires and Cache-Control (imagor's cache header TTL and
// stale-while-revalidate, the max_age()/expire() filters, the request's
// no-cache/private), and errors as imagor's JSON `{"message":...,"status":N}`.

const http = require('node:http')

const { Imagor, ImagorError, generate, parse, sign } = require('./index.js')

/** imagor's defaults: `-imagor-cache-header-ttl 168h`, `-imagor-cache-header-swr 24h`. */
const DEFAULT_TTL = 7 * 24 * 3600
const DEFAULT_SWR = 24 * 3600

const MIDDLEWARE_KEYS = ['imagor', 'cacheHeaderTtl', 'cacheHeaderSwr', 'disableErrorBody', 'disableParamsEndpoint']

/** Go's json.Marshal escapes these; imagor's bodies show them escaped. */
function goJson(value, indent) {
  return JSON.stringify(value, null, indent).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function seconds(name, value, fallback) {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`imagor/express: ${name} must be a non-negative integer of seconds, got ${value}`)
  }
  return value
}

/** imagor's getTtl: max_age(seconds) overrides the TTL, expire(unix ms) caps it. */
function ttlOf(params, ttl) {
  let expireTtl
  for (const f of params.filters ?? []) {
    const arg = f.args ?? ''
    if (f.name === 'max_age' && /^[+-]?\d+$/.test(arg) && Number(arg) >= 0) ttl = Number(arg)
    if (f.name === 'expire' && /^[+-]?\d+$/.test(arg)) {
      const t = Math.ceil((Number(arg) - Date.now()) / 1000)
      if (expireTtl === undefined || t < expireTtl) expireTtl = t
    }
  }
  if (expireTtl !== undefined && expireTtl < ttl) ttl = expireTtl
  return Math.max(ttl, 0)
}

/** imagor's getCacheControl. */
function cacheControl(isPrivate, ttl, swr) {
  if (ttl === 0) return 'private, no-cache, no-store, must-revalidate'
  let value = isPrivate ? 'private' : `public, s-maxage=${ttl}`
  value += `, max-age=${ttl}, no-transform`
  if (swr > 0 && swr < ttl) value += `, stale-while-revalidate=${swr}`
  return value
}

const EXTENSIONS = { jpeg: '.jpg', png: '.png', gif: '.gif', webp: '.webp', avif: '.avif', heif: '.heif', jxl: '.jxl', tiff: '.tiff', jp2: '.jp2', bmp: '.bmp', svg: '.svg', pdf: '.pdf' }

/** imagor's getContentDisposition (the attachment() filter). */
function contentDisposition(params, format) {
  const f = (params.filters ?? []).find((x) => x.name === 'attachment')
  if (!f) return 'inline'
  let filename = f.args || (params.image ?? '').split('/').pop()
  filename = filename.replaceAll('"', '%22')
  const ext = EXTENSIONS[format]
  if (ext && !(ext === '.jpg' && filename.endsWith('.jpeg'))) {
    if (filename.endsWith(ext)) filename = filename.slice(0, -ext.length)
    filename += ext
  }
  return `attachment; filename="${filename}"`
}

/**
 * Express middleware serving imagor paths under its mount point, as imagor's
 * server does. `options` are the `Imagor` options (camelCase, including
 * `loader`) plus `cacheHeaderTtl` / `cacheHeaderSwr` (seconds),
 * `disableErrorBody`, `disableParamsEndpoint`; or pass a configured
 * instance as `options.imagor`.
 */
function imagorMiddleware(options = {}) {
  if (options === null || typeof options !== 'object') throw new TypeError('imagor/express: options must be an object')
  const imagorOptions = {}
  for (const [k, v] of Object.entries(options)) if (!MIDDLEWARE_KEYS.includes(k)) imagorOptions[k] = v
  if (options.imagor !== undefined && Object.keys(imagorOptions).length > 0) {
    throw new TypeError('imagor/express: pass either an Imagor instance as `imagor` or Imagor options, not both')
  }
  const imagor = options.imagor ?? new Imagor(imagorOptions)
  const ttl = seconds('cacheHeaderTtl', options.cacheHeaderTtl, DEFAULT_TTL)
  const swr = seconds('cacheHeaderSwr', options.cacheHeaderSwr, DEFAULT_SWR)

  function sendError(req, res, err) {
    res.status(err.status)
    if (options.disableErrorBody) return res.end()
    const body = goJson({ message: err.message, status: err.status })
    res.setHeader('Content-Type', 'application/json')
    res.setHeader('Content-Length', String(Buffer.byteLength(body)))
    return res.end(req.method === 'HEAD' ? undefined : body)
  }

  return function imagor_(req, res, next) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return res.status(405).end()
    }
    const raw = req.url.split('?')[0]
    if (raw === '/' || raw === '') return next()
    const path = raw.slice(1)
    const params = parse(path)
    if (params.params) {
      if (options.disableParamsEndpoint) return next()
      const { params: _, ...json } = params
      const body = goJson(json, 2)
      res.setHeader('Content-Type', 'application/json')
      res.setHeader('Content-Length', String(Buffer.byteLength(body)))
      return res.end(req.method === 'HEAD' ? undefined : body)
    }
    imagor.serve(path).then(
      (out) => {
        const reqCache = req.get('Cache-Control') ?? ''
        const ttlNow = reqCache.includes('no-cache') ? 0 : ttlOf(params, ttl)
        res.setHeader('Content-Type', out.contentType)
        res.setHeader('Content-Disposition', contentDisposition(params, out.format))
        res.setHeader('Expires', new Date(Date.now() + ttlNow * 1000).toUTCString())
        res.setHeader('Cache-Control', cacheControl(reqCache.includes('private'), ttlNow, swr))
        res.setHeader('Content-Length', String(out.data.length))
        res.status(200).end(req.method === 'HEAD' ? undefined : out.data)
      },
      (err) => (err instanceof ImagorError ? sendError(req, res, err) : next(err)),
    )
  }
}

/**
 * A function that makes imagor URLs for templates: a path string is signed
 * (`${baseUrl}/${HASH}/${path}`, or `unsafe/` without a secret); a params
 * object goes through `generate`. Options: `secret`, `signerType`,
 * `signerTruncate` (as the server's), `baseUrl` (where the middleware is
 * mounted, default `''`).
 */
function imagorUrl(options = {}) {
  const { secret, signerType, signerTruncate, baseUrl = '' } = options
  const signOptions = {}
  if (signerType !== undefined) signOptions.signerType = signerType
  if (signerTruncate !== undefined) signOptions.truncate = signerTruncate
  const base = String(baseUrl).replace(/\/+$/, '')
  return function url(pathOrParams) {
    if (typeof pathOrParams === 'string') {
      const path = pathOrParams.replace(/^\/+/, '')
      return secret ? `${base}/${sign(path, secret, signOptions)}/${path}` : `${base}/unsafe/${path}`
    }
    const opts = secret ? { secret, ...signOptions } : { unsafe: true }
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

function hostAllowed(host, patterns) {
  return patterns.some((p) => {
    if (p === '*') return true
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) || host === p.slice(2)
    return host === p
  })
}

/**
 * An `Imagor` loader that fetches sources over HTTP(S) (for `new Imagor({
 * loader })` or the middleware's `loader` option). With `baseUrl`, the image
 * key is a path under it (imagor's `HTTP_LOADER_BASE_URL`); without it the key
 * is a URL (`https://` by default) whose host must match `allowedSources`
 * (`'example.com'`, `'*.example.com'`, or `'*'`). 404 answers "not found";
 * other failures answer the origin's status. `timeout` (ms, default 10000)
 * and `maxBytes` (default unlimited) bound each load.
 */
function httpLoader(options = {}) {
  const { baseUrl, allowedSources, timeout = 10000, maxBytes = 0, headers = {} } = options
  if (!baseUrl && !Array.isArray(allowedSources)) {
    throw new TypeError('imagor/express: httpLoader needs a baseUrl or an allowedSources list')
  }
  const fail = (status, message) => Object.assign(new Error(message ?? http.STATUS_CODES[status] ?? 'error'), { status })
  return async function load(key) {
    let url
    if (baseUrl) {
      url = `${String(baseUrl).replace(/\/+$/, '')}/${key.replace(/^\/+/, '')}`
    } else {
      url = /^https?:\/\//i.test(key) ? key : `https://${key}`
      let host
      try {
        host = new URL(url).hostname
      } catch {
        return null
      }
      if (!hostAllowed(host, allowedSources)) throw fail(403, 'http source not allowed')
    }
    let res
    try {
      res = await fetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(timeout) })
    } catch (e) {
      if (e?.name === 'TimeoutError') throw fail(408, 'timeout')
      throw fail(502, `imagor: cannot load ${url}: ${e?.cause?.code ?? e?.message ?? e}`)
    }
    if (res.status === 404) return null
    if (!res.ok) throw fail(res.status)
    const length = Number(res.headers.get('content-length'))
    if (maxBytes > 0 && length > maxBytes) throw fail(400, 'maximum size exceeded')
    const data = Buffer.from(await res.arrayBuffer())
    if (maxBytes > 0 && data.length > maxBytes) throw fail(400, 'maximum size exceeded')
    return data
  }
}

module.exports = { imagorMiddleware, imagorUrl, imagorLocals, httpLoader }
