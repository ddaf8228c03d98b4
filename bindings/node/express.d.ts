// Types of `imagor/express` (express.js is plain JavaScript over the
// generated bindings in index.d.ts).
import type { Imagor, ImagorOptions, ImagorLoader, ImagorParams } from './index'

/** A Connect/Express middleware (structural, so @types/express is not needed). */
export type Middleware = (req: any, res: any, next: (err?: unknown) => void) => void

/** Options of `imagorMiddleware`: the `Imagor` options (cache headers, error
 * body, params endpoint, uploads ... as the server's flags), or an instance. */
export interface ImagorMiddlewareOptions extends ImagorOptions {
  /** A source loader tried after `fileLoaderBaseDir` (e.g. `httpLoader(...)`). */
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

/** Options of `httpLoader`. */
export interface HttpLoaderOptions {
  /** Load `${baseUrl}/${key}` (imagor's `HTTP_LOADER_BASE_URL`). */
  baseUrl?: string
  /** Without `baseUrl`: hosts the key's URL may name (`'example.com'`, `'*.example.com'`, `'*'`). */
  allowedSources?: string[]
  /** Per-load timeout in milliseconds (default 10000). */
  timeout?: number
  /** Refuse larger sources with 400 (default 0: no limit). */
  maxBytes?: number
  /** Extra request headers. */
  headers?: Record<string, string>
}

/** An `Imagor` loader that fetches sources over HTTP(S). */
export declare function httpLoader(options?: HttpLoaderOptions): ImagorLoader
