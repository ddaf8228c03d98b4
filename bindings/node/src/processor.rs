//! `process`, `processSync` and `meta`: image bytes + imagor path, with
//! imagor's default options or per-call options. Marshalling only; the
//! work is `imagor::Imagor::{process, meta}` in [`crate::tasks`].

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use napi::bindgen_prelude::{AsyncTask, Buffer, Uint8Array, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::error::{guard, Failure, Fallible};
use crate::options;
use crate::tasks::{copy_input, Meta, OffThread, Process};

/// imagor's `/meta` answer for an image.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct ImagorMeta {
    /// `'jpeg'`, `'png'`, `'gif'`, ... (empty when unknown).
    pub format: String,
    /// MIME type of `format`.
    #[napi(js_name = "content_type")]
    pub content_type: String,
    /// Width in pixels.
    pub width: i32,
    /// Height of one page (frame) in pixels.
    pub height: i32,
    /// EXIF orientation, 0 when absent.
    pub orientation: i32,
    /// Frames (GIF/WebP) or pages (PDF); 1 otherwise.
    pub pages: i32,
    /// Number of bands.
    pub bands: i32,
    /// EXIF tags as `name: value` (short form).
    pub exif: std::collections::HashMap<String, String>,
    /// Regions the detectors found, in output pixels: with `smart`,
    /// `draw_detections()` or `redact()` and a detector.
    #[napi(js_name = "detected_regions")]
    pub detected_regions: Option<Vec<ImagorMetaRegion>>,
    /// Blurhash, with the `blurhash(x,y)` filter.
    pub blurhash: Option<String>,
    /// Base64 ThumbHash, with the `thumbhash()` filter.
    pub thumbhash: Option<String>,
    /// Average colour, with the `avgcolor()` filter.
    #[napi(js_name = "average_color")]
    pub average_color: Option<ImagorColor>,
    /// Size of the input in bytes. This and the fields below describe the
    /// input bytes, as sharp's `metadata()` (in snake_case: `has_alpha` is
    /// sharp's `hasAlpha`); `meta()` adds them, imagor's `/meta` JSON
    /// (`meta/` paths through `serve`/`handle`) does not.
    pub size: Option<f64>,
    /// Whether the image has an alpha channel.
    #[napi(js_name = "has_alpha")]
    pub has_alpha: Option<bool>,
    /// libvips' colour space: `'srgb'`, `'b-w'`, `'cmyk'`, `'rgb16'`, ...
    pub space: Option<String>,
    /// Pixels per inch, when the file records a resolution.
    pub density: Option<f64>,
    /// Whether an ICC profile is embedded.
    #[napi(js_name = "has_profile")]
    pub has_profile: Option<bool>,
    /// The embedded ICC profile's description (`'Adobe RGB (1998)'`).
    #[napi(js_name = "profile_name")]
    pub profile_name: Option<String>,
    /// Progressive JPEG or interlaced PNG/GIF.
    #[napi(js_name = "is_progressive")]
    pub is_progressive: Option<bool>,
    /// Per-frame delays in milliseconds (animations).
    pub delay: Option<Vec<i32>>,
    /// Loop count of an animation (0: forever).
    #[napi(js_name = "loop")]
    pub loop_count: Option<i32>,
}

/// A detected region of `/meta`, in pixels of the output image.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct ImagorMetaRegion {
    /// Left edge.
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Right edge.
    pub right: i32,
    /// Bottom edge.
    pub bottom: i32,
    /// Detection confidence, when the detector gave one.
    pub score: Option<f64>,
    /// Class name, when the detector gave one.
    pub name: Option<String>,
}

/// An RGB colour of `/meta`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct ImagorColor {
    /// Red, 0..255.
    pub r: u8,
    /// Green, 0..255.
    pub g: u8,
    /// Blue, 0..255.
    pub b: u8,
}

/// The core instance with imagor's default options (no file loader; the HTTP
/// loader under the default SSRF policy).
pub(crate) fn default_engine() -> Fallible<Arc<imagor::Imagor>> {
    static DEFAULT: OnceLock<Result<Arc<imagor::Imagor>, imagor::Error>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| imagor::Imagor::new(imagor::Options::default()).map(Arc::new))
        .clone()
        .map_err(Failure::from)
}

thread_local! {
    /// The instance built for the last per-call options of this thread.
    static LAST: RefCell<Option<Arc<imagor::Imagor>>> = const { RefCell::new(None) };
}

/// The instance for per-call `options` (`undefined`: the default one).
pub(crate) fn engine_for(value: Option<Unknown>) -> Fallible<Arc<imagor::Imagor>> {
    let opts = options::parse(value, false)?.options;
    if opts == imagor::Options::default() {
        return default_engine();
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(engine) = last.as_ref().filter(|e| *e.options() == opts) {
            return Ok(Arc::clone(engine));
        }
        let engine = Arc::new(imagor::Imagor::new(opts)?);
        *last = Some(Arc::clone(&engine));
        Ok(engine)
    })
}

/// Process an image with an imagor path, off the JavaScript thread (on the
/// libuv pool). Resolves with the encoded image; rejects with an
/// `ImagorError`.
///
/// `path` is an imagor path such as `fit-in/200x200/filters:format(webp)`,
/// with or without `unsafe/` or a signature (not checked here); a trailing
/// image segment is ignored. imagor's grammar reads the last segment as the
/// image unless it is `filters:...`, so end a path without filters with `/`
/// (`fit-in/200x200/`). `options` are imagor options (limits,
/// `stripMetadata`, ...). `data` is copied before the call returns, so it
/// may be reused or modified at once.
///
/// ```js
/// const webp = await process(await fs.readFile('photo.jpg'), 'fit-in/300x200/filters:format(webp)')
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "data: Uint8Array | ArrayBuffer, path: string, options?: ImagorOptions",
    ts_return_type = "Promise<Buffer>"
)]
pub fn process(
    env: Env,
    data: Uint8Array,
    path: String,
    options: Option<Unknown>,
) -> napi::Result<AsyncTask<OffThread<Process>>> {
    let engine = guard(&env, || engine_for(options))?;
    Ok(AsyncTask::new(OffThread::new(Process {
        data: copy_input(&engine, &data),
        engine,
        path,
    })))
}

/// `process` on the calling thread: blocks the event loop for the whole
/// decode, resize and encode. Prefer `process` in servers.
#[napi(
    catch_unwind,
    ts_args_type = "data: Uint8Array | ArrayBuffer, path: string, options?: ImagorOptions"
)]
pub fn process_sync(
    env: Env,
    data: Uint8Array,
    path: String,
    options: Option<Unknown>,
) -> napi::Result<Buffer> {
    guard(&env, || {
        let engine = engine_for(options)?;
        Ok(Buffer::from(engine.process(&data, &path)?.data))
    })
}

/// imagor's `/meta` of an image after applying `path` (default `''`: the
/// image as is), off the JavaScript thread. With `filters:avgcolor()`,
/// `blurhash(4,3)` or `thumbhash()` the extras are included.
///
/// ```js
/// const { format, width, height } = await meta(buf)
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "data: Uint8Array | ArrayBuffer, path?: string | undefined | null",
    ts_return_type = "Promise<ImagorMeta>"
)]
pub fn meta(
    env: Env,
    data: Uint8Array,
    path: Option<String>,
) -> napi::Result<AsyncTask<OffThread<Meta>>> {
    let engine = guard(&env, default_engine)?;
    Ok(AsyncTask::new(OffThread::new(Meta {
        data: copy_input(&engine, &data),
        engine,
        path: path.unwrap_or_default(),
    })))
}
