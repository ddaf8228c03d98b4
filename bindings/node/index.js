'use strict'

// The npm package `imagor`: loads the native addon (built from src/*.rs by
// napi-rs) and adds the JavaScript parts: ImagorError, the loader and detector
// bridges and ImagorUrlBuilder. Types: index.d.ts (generated from the Rust sources).

const { AsyncLocalStorage } = require('node:async_hooks')
const { existsSync } = require('node:fs')
const { join } = require('node:path')

const { wrap, bytes, describe } = require('./args.js')
const { platformTriples } = require('./platform.js')

// The prebuilt platform package (`imagor-linux-x64-gnu`, installed as an
// optional dependency, with its libvips) comes first; an addon built here from
// the sources (`npm run build`, on the system libvips) is the fallback.
function loadNative() {
  const tried = []
  for (const triple of platformTriples()) {
    try {
      return require(`imagor-${triple}`)
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(`imagor-${triple}`)) throw e
      tried.push(`imagor-${triple}`)
    }
    const local = join(__dirname, `imagor.${triple}.node`)
    tried.push(local)
    if (existsSync(local)) return require(local)
  }
  throw new Error(
    `imagor: no native addon for ${process.platform}-${process.arch} (tried ${tried.join(', ')}). ` +
      'Install the prebuilt imagor-linux-x64-gnu package next to it, or build the addon from the ' +
      'imagor-rs sources: `npm install && npm run build` in bindings/node (needs cargo and libvips-dev).',
  )
}

const native = loadNative()

/** Every failure of imagor: imagor's message, a stable `code` and imagor's HTTP `status`. */
class ImagorError extends Error {
  constructor(message, code, status) {
    super(message)
    this.code = code
    this.status = status
  }

  /** imagor's JSON error body: `{ message, status }`. */
  toJSON() {
    return { message: this.message, status: this.status }
  }
}

/**
 * The requests a running loader or detector works for (an id the addon lent
 * them under), through its awaits: `serve` and `handle` called from inside it
 * run nested in them, under their place instead of waiting for it.
 */
const callers = new AsyncLocalStorage()

/**
 * Wrap a user loader `async (key) => bytes | null` as the `(id, key, caller) => void`
 * function the addon calls; the answer goes back through `__loaderReply`.
 */
function loaderBridge(loader) {
  return (id, key, caller) => {
    let pending
    try {
      pending = Promise.resolve(callers.run(caller, loader, key))
    } catch (e) {
      pending = Promise.reject(e)
    }
    pending.then(
      (data) => {
        if (data === null || data === undefined) {
          native.__loaderReply(id, null, 404, 'not found')
        } else {
          let view
          try {
            view = bytes('Imagor', 'loader result', data)
          } catch {
            const got = describe(data).replace(/^Received /, '')
            native.__loaderReply(id, null, 500, `imagor: the loader must return a Buffer, a Uint8Array, an ArrayBuffer or null, got ${got}`)
            return
          }
          native.__loaderReply(id, view)
        }
      },
      (err) => {
        let status = 500
        let code
        try {
          const given = err?.status
          if (Number.isInteger(given) && given >= 400 && given < 600) status = given
          // An ImagorError keeps its kind whatever its message.
          if (typeof err?.code === 'string' && err.code.startsWith('ERR_IMAGOR_')) code = err.code.slice(11).toLowerCase()
        } catch {}
        native.__loaderReply(id, null, status, reasonOf(err), code)
      },
    )
  }
}

/**
 * The message of a loader's or detector's rejection, whatever was thrown: a
 * value whose `message` getter or `toString` throws, or that has no
 * conversion to a string at all (`Object.create(null)`), must still answer
 * the call (an exception here would end the process, or leave the call to
 * wait for its timeout).
 */
function reasonOf(err) {
  try {
    return String(err?.message ?? err)
  } catch {
    try {
      return `a ${Object.prototype.toString.call(err).slice(8, -1)} that cannot be shown as text`
    } catch {
      return 'a value that cannot be shown as text'
    }
  }
}

/**
 * Wrap a user detector `async (pixels, width, height, bands) => regions` as the
 * `(id, pixels, width, height, bands, caller) => void` function the addon calls;
 * the regions go back as JSON through `__detectorReply`.
 */
function detectorBridge(detector) {
  return (id, pixels, width, height, bands, caller) => {
    let pending
    try {
      pending = Promise.resolve(callers.run(caller, detector, pixels, width, height, bands))
    } catch (e) {
      pending = Promise.reject(e)
    }
    pending.then(
      (regions) => {
        let json
        try {
          json = JSON.stringify(regions ?? [])
        } catch (e) {
          native.__detectorReply(id, null, `the answer cannot be read: ${reasonOf(e)}`)
          return
        }
        native.__detectorReply(id, json ?? '[]', null)
      },
      (err) => native.__detectorReply(id, null, reasonOf(err)),
    )
  }
}

Object.defineProperty(ImagorError.prototype, 'name', { value: 'ImagorError', writable: true, configurable: true })

native.__init(ImagorError, loaderBridge, detectorBridge, () => callers.getStore())
// On `process.exit()` libuv still runs every queued job before the process
// ends; jobs of an exiting environment are dropped unstarted instead.
process.once('exit', native.__environmentExiting)

const checked = wrap(native)
const ImagorUrlBuilder = require('./url-builder.js').create(native.generate)

// The named exports; index.mjs re-exports the same for `import { ... } from 'imagor'`.
module.exports = {
  ...checked,
  versions: native.versions,
  formats: native.formats,
  Imagor: native.Imagor,
  ImagorError,
  ImagorUrlBuilder,
}
