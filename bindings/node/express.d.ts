// Types of `imagor/express` (express.js is plain JavaScript over the
// generated bindings in index.d.ts).
import type { Imagor, ImagorOptions, ImagorLoader, ImagorParams } from './index'

/** A Connect/Express middleware (structural, so @types/express is not needed). */
export type Middleware = (req: any, res: any, next: (err?: unknown) => void) => void

/** Options of `imagorMiddleware`: the `Imagor` options (cache headers, error
 * body, params endpoint, uploads, the core's HTTP loader `httpLoader*` ... as
 * the server's flags), or an instance. */
export interface ImagorMiddlewareOptions extends ImagorOptions {
  /** A JavaScript source loader tried after the file loader and before the
   * core's HTTP loader. */
  loader?: ImagorLoader
  /** A configured instance to use instead of the options above. */
  imagor?: Imagor
}

/**
 * Serve imagor paths under the mount point, as imagor's server answers them:
 * `app.use('/img', imagorMiddleware({ secret, fileLoaderBaseDir: './images' }))`.
 */
export declare function imagorMiddleware(options?: ImagorMiddlewareOptions): Middleware

/** Options of `imagorUrl` / `imagorLocals`: the server's signing settings and mount point. */
export interface ImagorUrlOptions {
  /** The server's secret. Required unless `unsafe` is true: a missing one throws. */
  secret?: string
  /** Make unsigned `unsafe/` URLs (the server must allow unsafe paths); not with `secret`. */
  unsafe?: boolean
  /** The server's signer type. */
  signerType?: 'sha1' | 'sha256' | 'sha512'
  /** The server's signature truncation. */
  signerTruncate?: number
  /** Where the middleware is mounted, e.g. `'/img'` or `'https://img.example.com'`. */
  baseUrl?: string
}

/** Make URLs: a path string is signed as is; a params object goes through `generate`. */
export type ImagorUrlFunction = (pathOrParams: string | ImagorParams) => string

/** A URL function for templates: `imagorUrl({ secret, baseUrl: '/img' })('fit-in/200x200/a.jpg')`. */
export declare function imagorUrl(options?: ImagorUrlOptions): ImagorUrlFunction

/** Middleware setting `res.locals.imagorUrl` (see `imagorUrl`). */
export declare function imagorLocals(options?: ImagorUrlOptions): Middleware
