//! Node.js bindings for imagor-rs (napi-rs), published as the npm package
//! `imagor`.
//!
//! The JavaScript surface (`index.js` loads this addon and adds
//! `ImagorError` and `ImagorUrlBuilder`):
//!
//! - `sign`, `verify`, `parse`, `generate` (`sign.rs`, `path.rs`):
//!   synchronous, microseconds;
//! - `process` and `meta` (`processor.rs`): promises computed on the
//!   libuv pool (`tasks.rs`); `processSync`;
//! - `new Imagor(options)` (`instance.rs`) with `process`, `serve`,
//!   `meta`, `sign`, and an optional JavaScript loader (`loader.rs`).
//!
//! Every failure becomes an `ImagorError` with `.code` and `.status`, or a
//! `TypeError` for bad arguments, in `error.rs`; no export lets a Rust panic
//! abort the process.

// napi-derive registers the exports only outside `cfg(test)`; unit-test
// builds would otherwise see every export as dead code.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::{FnArgs, Function, FunctionRef, Unknown};
use napi::Env;
use napi_derive::napi;

mod detector;
mod error;
mod instance;
mod loader;
mod nesting;
mod option_values;
mod options;
mod path;
mod pixels;
mod processor;
mod sign;
mod tasks;

/// JavaScript helpers `index.js` registers in each environment (the main
/// thread and every worker thread that loads the addon).
pub(crate) struct Helpers {
    /// `class ImagorError extends Error`, called as
    /// `new ImagorError(message, code, status)`.
    pub error_class: FunctionRef<FnArgs<(String, String, u32)>, Unknown<'static>>,
    /// `(loader) => (id, key) => void`: wraps a user loader so that its
    /// promise is answered through `__loaderReply`.
    pub loader_bridge: FunctionRef<Unknown<'static>, Unknown<'static>>,
    /// `(detector) => (id, pixels, width, height, bands) => void`: wraps a
    /// user detector so that its promise is answered through
    /// `__detectorReply`.
    pub detector_bridge: FunctionRef<Unknown<'static>, Unknown<'static>>,
    /// `() => number | undefined`: the id of the requests lent to the
    /// loader or detector the JavaScript code running now runs inside
    /// ([`nesting`]).
    pub current_caller: FunctionRef<(), Option<u32>>,
}

/// The helpers of this environment, when `index.js` registered them.
pub(crate) fn helpers(env: &Env) -> Option<&'static Helpers> {
    env.get_instance_data::<Helpers>()
        .ok()
        .flatten()
        .map(|h| &*h)
}

/// Register the JavaScript helpers of this environment. Called once by
/// `index.js` when it loads the addon; a second call is refused: the
/// helpers are lent out for the environment's life ([`helpers`]), so
/// replacing them would free what a running call still uses.
#[napi(catch_unwind, js_name = "__init", skip_typescript)]
pub fn init(
    env: Env,
    error_class: Function<FnArgs<(String, String, u32)>, Unknown<'static>>,
    loader_bridge: Function<Unknown<'static>, Unknown<'static>>,
    detector_bridge: Function<Unknown<'static>, Unknown<'static>>,
    current_caller: Function<(), Option<u32>>,
) -> napi::Result<()> {
    if helpers(&env).is_some() {
        return Err(napi::Error::new(
            napi::Status::GenericFailure,
            "imagor: the addon is already initialised",
        ));
    }
    let helpers = Helpers {
        error_class: error_class.create_ref()?,
        loader_bridge: loader_bridge.create_ref()?,
        detector_bridge: detector_bridge.create_ref()?,
        current_caller: current_caller.create_ref()?,
    };
    env.set_instance_data(helpers, (), |_| {})?;
    // Loads waiting on this environment's loaders fail at once when it
    // shuts down, instead of holding a loader thread until the timeout.
    env.add_env_cleanup_hook(std::thread::current().id(), loader::abandon_pending)?;
    env.add_env_cleanup_hook(std::thread::current().id(), detector::abandon_pending)?;
    Ok(())
}

/// The versions of this package's native parts: `imagor` (the Rust core)
/// and `vips` (the libvips it runs on).
#[napi(object)]
pub struct Versions {
    /// Version of imagor-rs.
    pub imagor: String,
    /// Version of the libvips library loaded at run time.
    pub vips: String,
}

/// Versions of imagor-rs and of the libvips it runs on.
#[napi(catch_unwind)]
pub fn versions() -> Versions {
    let (a, b, c) = imagor::vips::version();
    Versions {
        imagor: env!("CARGO_PKG_VERSION").to_owned(),
        vips: format!("{a}.{b}.{c}"),
    }
}

/// What this build loads and saves (imagor's format names), with the
/// libvips it runs on. The prebuilt `imagor-linux-x64-gnu` package's libvips
/// (npm's `@img/sharp-libvips-linux-x64`) has no JPEG XL, JPEG 2000, PDF or
/// HEIC; a build against a system libvips that has them does.
#[napi(object)]
pub struct Formats {
    /// Formats accepted as input (`jpeg`, `png`, `gif`, `webp`, `avif`, ...).
    pub load: Vec<String>,
    /// Formats `format(...)` can write.
    pub save: Vec<String>,
    /// Version of the libvips library loaded at run time.
    pub libvips: String,
    /// `bundled` (the prebuilt package's libvips) or `system` (built against
    /// the system libvips).
    pub flavour: String,
    /// What decodes a plain still AVIF: `dav1d` (the core's own AV1 path,
    /// as the packages are built) or `libheif` (libvips' heifload).
    pub av1_decoder: String,
}

/// What this build of imagor loads and saves.
#[napi(catch_unwind)]
pub fn formats(env: Env) -> napi::Result<Formats> {
    let f = error::guard(&env, || Ok(imagor::formats()?))?;
    let names = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect();
    Ok(Formats {
        load: names(f.load),
        save: names(f.save),
        libvips: f.libvips,
        flavour: f.flavour.to_owned(),
        av1_decoder: f.av1_decoder.to_owned(),
    })
}

/// Panic on purpose, to test that panics become errors (`sync`) and
/// rejections (`async`) instead of aborting. Only in builds with the
/// `test-hooks` feature.
#[cfg(feature = "test-hooks")]
#[napi(js_name = "__testPanic", skip_typescript)]
pub fn test_panic(env: Env, mode: String) -> napi::Result<Unknown<'static>> {
    struct Boom;
    impl tasks::Work for Boom {
        type Out = ();
        type Js = ();
        fn compute(&mut self) -> error::Fallible<()> {
            panic!("test panic off the JavaScript thread")
        }
        fn to_js(_env: &Env, _out: ()) -> napi::Result<()> {
            Ok(())
        }
    }
    match mode.as_str() {
        "async" => {
            let promise = env.spawn(tasks::OffThread::new(Boom))?.promise_object();
            // SAFETY: a value of this env, returned to JavaScript right away.
            Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), napi::JsValue::raw(&promise)) })
        }
        _ => error::guard(&env, || -> error::Fallible<Unknown<'static>> {
            panic!("test panic on the JavaScript thread")
        }),
    }
}
