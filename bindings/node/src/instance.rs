//! The `Imagor` class: a configured `imagor::Imagor` (options, signer,
//! loaders). Marshalling only.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Uint8Array, Unknown};
use napi::{Env, JsValue};
use napi_derive::napi;

use crate::detector::JsDetector;
use crate::error::{guard, Failure, Fallible};
use crate::loader::{self, JsLoader};
use crate::options;
use crate::tasks::{copy_input, Handle, ImagorRequest, Meta, OffThread, Process, Serve, Work};

/// A configured imagor: options, signer and loaders. Cheap to share; every
/// call is independent and may run concurrently.
///
/// ```js
/// const imagor = new Imagor({ secret: process.env.IMAGOR_SECRET, fileLoaderBaseDir: './images' })
/// const { data, contentType } = await imagor.serve(`${imagor.sign(path)}/${path}`)
/// ```
#[napi]
pub struct Imagor {
    engine: Arc<imagor::Imagor>,
    /// Jobs wait on a JavaScript loader or detector: run them on the
    /// loader pool.
    js_loader: bool,
}

impl Imagor {
    /// Start `work` off the JavaScript thread: the libuv pool, or the
    /// loader pool when a JavaScript loader may be called.
    fn start<W: Work>(&self, env: &Env, work: W) -> napi::Result<Unknown<'static>> {
        self.start_on(env, work, self.js_loader)
    }

    /// Start a job that loads sources by key (`serve`, `handle`): on the
    /// loader pool also when the HTTP loader may wait on an origin, so slow
    /// origins never hold libuv's small pool (fs, dns, zlib of the app).
    fn start_loading<W: Work>(&self, env: &Env, work: W) -> napi::Result<Unknown<'static>> {
        let waits = self.js_loader || !self.engine.options().http_loader_disable;
        self.start_on(env, work, waits)
    }

    fn start_on<W: Work>(
        &self,
        env: &Env,
        work: W,
        loader_pool: bool,
    ) -> napi::Result<Unknown<'static>> {
        let promise = if loader_pool {
            loader::spawn(env, work)?.to_unknown()
        } else {
            env.spawn(OffThread::new(work))?
                .promise_object()
                .to_unknown()
        };
        // SAFETY: a value of this env, returned to JavaScript right away.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), promise.raw()) })
    }
}

#[napi]
impl Imagor {
    /// Validate `options` (imagor's fields in camelCase; a `TypeError` names
    /// any unknown key, wrong type or bad value) and start libvips.
    ///
    /// `options.loader` is an optional `async (key) => Buffer | Uint8Array |
    /// null` that `serve` (and `image()` overlays) ask for source images
    /// after the file loader: `null` means not found (404); a thrown error
    /// with a numeric `.status` answers with that status.
    ///
    /// `options.detectors` is an optional array of `async (pixels, width,
    /// height, bands) => regions` functions (see `ImagorDetector`): their
    /// regions steer `smart` crop, `redact()`, `redact_oval()`,
    /// `draw_detections()` and `/meta`. They run on the JavaScript thread;
    /// the processing waits for them off it. What they throw rejects with
    /// `ERR_IMAGOR_DETECTOR`.
    #[napi(
        catch_unwind,
        constructor,
        ts_args_type = "options?: ImagorOptions & { loader?: ImagorLoader; detectors?: ImagorDetector[] }"
    )]
    pub fn new(env: Env, options: Option<Unknown>) -> napi::Result<Imagor> {
        let parsed = guard(&env, || options::parse(options, true))?;
        let js_loader = match parsed.loader {
            Some(user_loader) => {
                let Some(helpers) = crate::helpers(&env) else {
                    return Err(Failure::bad_value(
                        "imagor: options.loader needs the package entry point (require('imagor'))",
                    )
                    .into_js(&env));
                };
                let bridge = helpers.loader_bridge.borrow_back(&env)?.call(user_loader)?;
                Some(JsLoader::new(bridge)?)
            }
            None => None,
        };
        let mut js_detectors = Vec::with_capacity(parsed.detectors.len());
        if !parsed.detectors.is_empty() {
            let Some(helpers) = crate::helpers(&env) else {
                return Err(Failure::bad_value(
                    "imagor: options.detectors needs the package entry point (require('imagor'))",
                )
                .into_js(&env));
            };
            for user_detector in parsed.detectors {
                let bridge = helpers
                    .detector_bridge
                    .borrow_back(&env)?
                    .call(user_detector)?;
                js_detectors.push(JsDetector::new(bridge)?);
            }
        }
        guard(&env, || {
            let mut engine = imagor::Imagor::new(parsed.options)?;
            let has_js_loader = js_loader.is_some() || !js_detectors.is_empty();
            for d in js_detectors {
                engine = engine.with_detector(Arc::new(d))?;
            }
            if let Some(l) = js_loader {
                engine = engine.with_loader(Arc::new(l));
            }
            Ok(Imagor {
                engine: Arc::new(engine),
                js_loader: has_js_loader,
            })
        })
    }

    /// Process image bytes with an imagor path (signature not checked; a
    /// trailing image segment is ignored: end a path without filters with
    /// `/`, as in `fit-in/200x200/`), off the JavaScript thread.
    #[napi(
        catch_unwind,
        ts_args_type = "data: Uint8Array | ArrayBuffer, path: string",
        ts_return_type = "Promise<Buffer>"
    )]
    pub fn process(
        &self,
        env: Env,
        data: Uint8Array,
        path: String,
    ) -> napi::Result<Unknown<'static>> {
        let engine = Arc::clone(&self.engine);
        self.start(
            &env,
            Process {
                data: copy_input(&engine, &data),
                engine,
                path,
            },
        )
    }

    /// `process` on the calling thread (blocks the event loop). A
    /// JavaScript loader cannot be used from here.
    #[napi(
        catch_unwind,
        ts_args_type = "data: Uint8Array | ArrayBuffer, path: string"
    )]
    pub fn process_sync(&self, env: Env, data: Uint8Array, path: String) -> napi::Result<Buffer> {
        guard(&env, || {
            Ok(Buffer::from(self.engine.process(&data, &path)?.data))
        })
    }

    /// imagor's `/meta` of image bytes after applying `path` (default: as is).
    #[napi(
        catch_unwind,
        ts_args_type = "data: Uint8Array | ArrayBuffer, path?: string | undefined | null",
        ts_return_type = "Promise<ImagorMeta>"
    )]
    pub fn meta(
        &self,
        env: Env,
        data: Uint8Array,
        path: Option<String>,
    ) -> napi::Result<Unknown<'static>> {
        let engine = Arc::clone(&self.engine);
        let path = path.unwrap_or_default();
        self.start(
            &env,
            Meta {
                data: copy_input(&engine, &data),
                engine,
                path,
            },
        )
    }

    /// Serve a request path as imagor's server does: check the signature (or
    /// `unsafe/` when `unsafe` is on), load the image through the loaders
    /// and process it. A `meta/` path gives imagor's JSON.
    ///
    /// ```js
    /// const { data, contentType } = await imagor.serve('unsafe/fit-in/200x200/photo.jpg')
    /// ```
    #[napi(catch_unwind, ts_return_type = "Promise<ServeResult>")]
    pub fn serve(&self, env: Env, path: String) -> napi::Result<Unknown<'static>> {
        let engine = Arc::clone(&self.engine);
        let nesting = crate::nesting::of_js_caller(&env);
        self.start_loading(
            &env,
            Serve {
                engine,
                path,
                nesting,
            },
        )
    }

    /// Answer an HTTP request as imagor's server does (same status, headers
    /// and body): signatures, `/params`, `meta/`, uploads, result storage,
    /// auto format, cache and conditional headers, JSON errors. Never
    /// rejects for an imagor failure: errors are responses.
    ///
    /// ```js
    /// const res = await imagor.handle({ method: 'GET', path: '/unsafe/100x100/a.jpg', headers: req.headers })
    /// ```
    #[napi(catch_unwind, ts_return_type = "Promise<ImagorResponse>")]
    pub fn handle(&self, env: Env, request: ImagorRequest) -> napi::Result<Unknown<'static>> {
        let engine = Arc::clone(&self.engine);
        let request = request.into_core(&engine);
        let nesting = crate::nesting::of_js_caller(&env);
        self.start_loading(
            &env,
            Handle {
                engine,
                request,
                nesting,
            },
        )
    }

    /// The signature of `path` with the configured secret and signer
    /// (throws `ERR_IMAGOR_INVALID` when no secret is configured).
    #[napi(catch_unwind)]
    pub fn sign(&self, env: Env, path: String) -> napi::Result<String> {
        guard(&env, || Ok(self.engine.sign(&path)?))
    }

    /// The options in effect, with every default filled in (camelCase).
    /// The secret is never returned: `secret` reads `'<redacted>'` when one
    /// is set, `''` otherwise.
    #[napi(catch_unwind, getter, ts_return_type = "Required<ImagorOptions>")]
    pub fn options(&self, env: Env) -> napi::Result<serde_json::Value> {
        let json: Fallible<serde_json::Value> =
            Ok(options::to_json_redacted(self.engine.options()));
        guard(&env, || json)
    }
}
