'use strict'

// Argument checks in front of the addon: a wrong argument type is a
// `TypeError` with Node's `ERR_INVALID_ARG_TYPE` (or `ERR_INVALID_ARG_VALUE`)
// naming the function and the argument, never napi's "Failed to convert
// JavaScript value" text; and image bytes come in every form Node has
// (Buffer, Uint8Array, any ArrayBufferView, ArrayBuffer, SharedArrayBuffer),
// passed on as a Uint8Array view without copying.

const { types } = require('node:util')

/** Node's way of describing a received value in an argument error. */
function describe(value) {
  if (value === undefined || value === null) return `Received ${value}`
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') {
    const name = value.constructor?.name
    return name ? `Received an instance of ${name}` : 'Received an object'
  }
  let shown = typeof value === 'string' ? JSON.stringify(value.length > 28 ? `${value.slice(0, 25)}...` : value) : String(value)
  if (typeof value === 'bigint') shown += 'n'
  return `Received type ${typeof value} (${shown})`
}

/** A `TypeError` with a Node error code. */
function typeError(code, message) {
  const e = new TypeError(message)
  e.code = code
  return e
}

/** `fn`'s argument `name` is not of the `expected` type. */
function invalidType(fn, name, expected, value) {
  return typeError('ERR_INVALID_ARG_TYPE', `imagor.${fn}: the "${name}" argument must be ${expected}. ${describe(value)}`)
}

/** Image bytes as a Uint8Array (a view, no copy). */
function bytes(fn, name, value) {
  if (value instanceof Uint8Array) return value // Buffer included
  if (types.isAnyArrayBuffer(value)) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  throw invalidType(fn, name, 'a Buffer, Uint8Array, ArrayBuffer or ArrayBufferView', value)
}

/**
 * `bytes` for a call that reads them on this thread without copying
 * (`processSync`): a view of a SharedArrayBuffer is copied first, since
 * another worker could rewrite it while the image is decoded (after its
 * header passed the limits, say). Other memory cannot change meanwhile.
 */
function syncBytes(fn, name, value) {
  const view = bytes(fn, name, value)
  // `new Uint8Array(view)` copies; a Buffer's `slice()` would not.
  return types.isSharedArrayBuffer(view.buffer) ? new Uint8Array(view) : view
}

/**
 * A path to sign or check: a string, or its bytes as a Buffer, Uint8Array,
 * ArrayBuffer or other view (signed as they are; they need not be UTF-8). A
 * string with a lone surrogate has no UTF-8 form: its signature would be
 * that of the path with U+FFFD in its place, so it is refused.
 */
function signedPath(fn, value) {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) {
      throw typeError('ERR_INVALID_ARG_VALUE', `imagor.${fn}: the "path" argument has a lone surrogate, which UTF-8 cannot encode; pass its bytes as a Buffer to sign them`)
    }
    return value
  }
  if (value instanceof Uint8Array || types.isAnyArrayBuffer(value) || ArrayBuffer.isView(value)) return bytes(fn, 'path', value)
  throw invalidType(fn, 'path', 'of type string or a Buffer, Uint8Array, ArrayBuffer or ArrayBufferView', value)
}

/** A required string. */
function string(fn, name, value, hint = '') {
  if (typeof value === 'string') return value
  throw invalidType(fn, name, `of type string${hint}`, value)
}

/** An optional string: `undefined` and `null` pass as `undefined`. */
function optString(fn, name, value) {
  return value === undefined || value === null ? undefined : string(fn, name, value)
}

/**
 * `Imagor.handle`'s request, checked field by field (each wrong field is a
 * TypeError naming it, never napi's conversion error) and passed on as a
 * plain object of the fields the addon reads; `null` and `undefined` fields
 * are left out. Header values are strings, numbers (as text) or arrays of
 * them, as Node's `req.headers` holds.
 */
function handleRequest(request) {
  const fn = 'Imagor.handle'
  if (request === null || typeof request !== 'object') throw invalidType(fn, 'request', 'an object', request)
  const out = { path: string(fn, 'request.path', request.path) }
  const method = optString(fn, 'request.method', request.method)
  if (method !== undefined) out.method = method
  const query = optString(fn, 'request.query', request.query)
  if (query !== undefined) out.query = query
  if (request.body !== undefined && request.body !== null) out.body = bytes(fn, 'request.body', request.body)
  const headers = request.headers
  if (headers !== undefined && headers !== null) {
    if (typeof headers !== 'object' || Array.isArray(headers)) throw invalidType(fn, 'request.headers', 'an object', headers)
    const text = (name, v) => {
      if (typeof v === 'string') return v
      if (typeof v === 'number' && Number.isFinite(v)) return String(v)
      throw invalidType(fn, `request.headers[${JSON.stringify(name)}]`, 'a string or an array of strings', v)
    }
    // No prototype: a header named `__proto__` is a header like any other.
    out.headers = Object.create(null)
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || value === null) continue
      out.headers[name] = Array.isArray(value) ? value.map((v) => text(name, v)) : text(name, value)
    }
  }
  return out
}

/** An optional options object. */
function optObject(fn, name, value) {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'object' && !Array.isArray(value)) return value
  throw invalidType(fn, name, 'an object', value)
}

/** `processPixels`' `raw`: `{ width, height, bands }`, positive integers, 1 to 4 bands. */
function rawLayout(fn, value) {
  if (value === null || typeof value !== 'object') throw invalidType(fn, 'raw', 'an object ({ width, height, bands })', value)
  for (const key of ['width', 'height', 'bands']) {
    const v = value[key]
    if (typeof v !== 'number') throw invalidType(fn, `raw.${key}`, 'of type number', v)
    if (!Number.isInteger(v) || v < 1 || v > 0x7fffffff || (key === 'bands' && v > 4)) {
      throw typeError(
        'ERR_INVALID_ARG_VALUE',
        `imagor.${fn}: raw.${key} must be ${key === 'bands' ? 'an integer from 1 to 4' : 'a positive integer'}. Received ${v}`,
      )
    }
  }
  return { width: value.width, height: value.height, bands: value.bands }
}

/** The hint for a secret that is not a string: the usual cause. */
const SECRET_HINT = ' (the secret, e.g. process.env.IMAGOR_SECRET: is it set?)'

/**
 * `generate`'s options: a `secret` key whose value is missing is a mistake
 * (an unset environment variable), not a request for a bare path.
 */
function generateOptions(value) {
  const options = optObject('generate', 'options', value)
  if (options && Object.prototype.hasOwnProperty.call(options, 'secret') && typeof options.secret !== 'string') {
    if (options.secret === undefined || options.secret === null) {
      throw typeError(
        'ERR_INVALID_ARG_VALUE',
        `imagor.generate: options.secret is ${options.secret}${SECRET_HINT}; ` +
          'leave the key out for a bare path, or pass { unsafe: true } for an unsafe/ path',
      )
    }
    throw invalidType('generate', 'options.secret', 'of type string', options.secret)
  }
  if (options && options.secret === '') {
    throw typeError('ERR_INVALID_ARG_VALUE', `imagor.generate: options.secret is empty${SECRET_HINT}`)
  }
  return options
}

/**
 * Warn (`process.emitWarning`, code `IMAGOR_PATH_TYPO`) when the image
 * segment that `process`/`meta` ignore looks like a mistyped operation;
 * with `strictFilters` the core refuses the path instead.
 */
function warnTypo(native, fn, path, strict) {
  if (strict) return
  const typo = native.__pathTypo(path)
  if (typo) globalThis.process.emitWarning(`imagor.${fn}: ${typo}`, { type: 'ImagorWarning', code: 'IMAGOR_PATH_TYPO' })
}

/** Wrap the addon's functions and `Imagor` methods with the checks. */
function wrap(native) {
  const strictOf = (options) => options?.strictFilters === true
  const fns = {
    sign: (path, secret, options) =>
      native.sign(signedPath('sign', path), string('sign', 'secret', secret, SECRET_HINT), optObject('sign', 'options', options)),
    verify: (path, hash, secret, options) =>
      native.verify(
        signedPath('verify', path),
        string('verify', 'hash', hash),
        string('verify', 'secret', secret, SECRET_HINT),
        optObject('verify', 'options', options),
      ),
    parse: (path) => native.parse(string('parse', 'path', path)),
    generate: (params, options) => {
      if (params === null || typeof params !== 'object') throw invalidType('generate', 'params', 'an object', params)
      return native.generate(params, generateOptions(options))
    },
    process: (data, path, options) => {
      const args = [bytes('process', 'data', data), string('process', 'path', path), optObject('process', 'options', options)]
      const out = native.process(...args)
      warnTypo(native, 'process', args[1], strictOf(options))
      return out
    },
    processSync: (data, path, options) => {
      const args = [syncBytes('processSync', 'data', data), string('processSync', 'path', path), optObject('processSync', 'options', options)]
      const out = native.processSync(...args)
      warnTypo(native, 'processSync', args[1], strictOf(options))
      return out
    },
    toPixels: (data, path, options) => {
      const args = [bytes('toPixels', 'data', data), optString('toPixels', 'path', path), optObject('toPixels', 'options', options)]
      const out = native.toPixels(...args)
      if (args[1]) warnTypo(native, 'toPixels', args[1], strictOf(options))
      return out
    },
    processPixels: (pixels, raw, path, options) =>
      native.processPixels(
        bytes('processPixels', 'pixels', pixels),
        rawLayout('processPixels', raw),
        string('processPixels', 'path', path),
        optObject('processPixels', 'options', options),
      ),
    meta: (data, path) => {
      const args = [bytes('meta', 'data', data), optString('meta', 'path', path)]
      const out = native.meta(...args)
      if (args[1]) warnTypo(native, 'meta', args[1], false)
      return out
    },
  }
  for (const [name, fn] of Object.entries(fns)) Object.defineProperty(fn, 'name', { value: name })

  // Methods of Imagor, checked the same way (patched on the addon's prototype,
  // so `instanceof` and the class identity stay the addon's).
  const proto = native.Imagor.prototype
  const original = {}
  for (const m of ['process', 'processSync', 'meta', 'serve', 'sign', 'handle']) original[m] = proto[m]
  const methods = {
    process(data, path) {
      const out = original.process.call(this, bytes('Imagor.process', 'data', data), string('Imagor.process', 'path', path))
      warnTypo(native, 'Imagor.process', path, this.options.strictFilters)
      return out
    },
    processSync(data, path) {
      const out = original.processSync.call(
        this,
        syncBytes('Imagor.processSync', 'data', data),
        string('Imagor.processSync', 'path', path),
      )
      warnTypo(native, 'Imagor.processSync', path, this.options.strictFilters)
      return out
    },
    meta(data, path) {
      const out = original.meta.call(this, bytes('Imagor.meta', 'data', data), optString('Imagor.meta', 'path', path))
      if (path) warnTypo(native, 'Imagor.meta', path, this.options.strictFilters)
      return out
    },
    serve(path) {
      return original.serve.call(this, string('Imagor.serve', 'path', path))
    },
    sign(path) {
      return original.sign.call(this, string('Imagor.sign', 'path', path))
    },
    handle(request) {
      return original.handle.call(this, handleRequest(request))
    },
  }
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true, enumerable: false })
  }
  return fns
}

module.exports = { wrap, bytes, syncBytes, typeError, describe }
