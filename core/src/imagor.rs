//! [`Imagor`]: a configured instance. Verifies signatures, parses paths,
//! loads sources through its loaders and runs the processor.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::hasher::{ResultStoragePathStyle, StoragePathStyle};
use crate::loader::{FileLoader, Loader, UploadLoader, UploadLoaderOptions};
use crate::options::parse_permission;
use crate::options::Options;
use crate::path::{self, Params};
use crate::processor::{self, Ctx, Meta, Output, Pixels, Source};
use crate::sign::Signer;
use crate::storage::Storage;
use crate::storage::{FileStorage, FileStorageOptions};

/// A configured imagor: options, signer, loaders, storages and result
/// storages. Cheap to clone and safe to share between threads; every call
/// is independent.
#[derive(Clone)]
pub struct Imagor {
    pub(crate) opts: Arc<Options>,
    signer: Option<Signer>,
    pub(crate) loaders: Vec<Arc<dyn Loader>>,
    pub(crate) storages: Vec<Arc<dyn Storage>>,
    pub(crate) result_storages: Vec<Arc<dyn Storage>>,
    pub(crate) storage_style: Option<StoragePathStyle>,
    pub(crate) result_style: Option<ResultStoragePathStyle>,
    /// Admission, coalescing and figures, shared by clones.
    pub(crate) control: Arc<crate::serve::Control>,
    /// The HTTP loader (also in `loaders`), for its figures.
    pub(crate) http: Option<crate::loader::HttpLoader>,
    /// Region detectors, in the order they were added.
    pub(crate) detectors: crate::detector::Detectors,
}

impl fmt::Debug for Imagor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |v: Vec<&'static str>| v.join(", ");
        f.debug_struct("Imagor")
            .field("options", &self.opts)
            .field(
                "loaders",
                &names(self.loaders.iter().map(|l| l.name()).collect()),
            )
            .field(
                "storages",
                &names(self.storages.iter().map(|s| s.name()).collect()),
            )
            .field(
                "result_storages",
                &names(self.result_storages.iter().map(|s| s.name()).collect()),
            )
            .finish()
    }
}

impl Imagor {
    /// Validate `options`, start libvips, and set up what the options
    /// enable, in imagor's order: the S3 (or S3 router), GCS, file and
    /// upload loaders, then the HTTP loader (last, as imagor's fallback;
    /// unless `http_loader_disable`); the S3, GCS and file storages and
    /// result storages.
    pub fn new(options: Options) -> Result<Imagor> {
        options.validate()?;
        crate::vips::init()?;
        crate::vips::set_concurrency(options.concurrency);
        let signer = options.signer()?;
        // Object storage (S3, GCS) comes first, as in imagor.
        let cloud = crate::storage::cloud::from_options(&options)?;
        let mut loaders: Vec<Arc<dyn Loader>> = cloud.loaders;
        if !options.file_loader_base_dir.is_empty() {
            loaders.push(Arc::new(
                FileLoader::new(
                    &options.file_loader_base_dir,
                    &options.file_loader_path_prefix,
                    &options.file_safe_chars,
                )
                .with_max_memory(options.max_memory),
            ));
        }
        if options.upload_loader_enable {
            loaders.push(Arc::new(UploadLoader::new(UploadLoaderOptions {
                max_allowed_size: options.upload_loader_max_allowed_size.max(0) as usize,
                accept: options.upload_loader_accept.clone(),
                form_field_name: options.upload_loader_form_field_name.clone(),
            })));
        }
        let http = if options.http_loader_disable {
            None
        } else {
            let http = crate::loader::HttpLoader::new(&options)?;
            loaders.push(Arc::new(http.clone()));
            Some(http)
        };
        let file_storage = |dir: &str, prefix: &str, mkdir: &str, write: &str, expiration| {
            let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(
                dir,
                FileStorageOptions {
                    path_prefix: prefix.to_owned(),
                    safe_chars: options.file_safe_chars.clone(),
                    mkdir_permission: parse_permission(mkdir).unwrap_or(0o755),
                    write_permission: parse_permission(write).unwrap_or(0o666),
                    expiration: Some(expiration).filter(|d: &std::time::Duration| !d.is_zero()),
                    max_memory: options.max_memory,
                },
            ));
            storage
        };
        let mut storages = cloud.storages;
        if !options.file_storage_base_dir.is_empty() {
            storages.push(file_storage(
                &options.file_storage_base_dir,
                &options.file_storage_path_prefix,
                &options.file_storage_mkdir_permission,
                &options.file_storage_write_permission,
                options.file_storage_expiration,
            ));
        }
        let mut result_storages = cloud.result_storages;
        if !options.file_result_storage_base_dir.is_empty() {
            result_storages.push(file_storage(
                &options.file_result_storage_base_dir,
                &options.file_result_storage_path_prefix,
                &options.file_result_storage_mkdir_permission,
                &options.file_result_storage_write_permission,
                options.file_result_storage_expiration,
            ));
        }
        let storage_style = match options.storage_path_style.parse()? {
            StoragePathStyle::Original => None,
            style => Some(style),
        };
        let result_style = match options.result_storage_path_style.parse()? {
            ResultStoragePathStyle::Original => None,
            style => Some(style),
        };
        let detectors = builtin_detectors(&options)?;
        Ok(Imagor {
            detectors,
            control: Arc::new(crate::serve::Control::new(&options)),
            http,
            opts: Arc::new(options),
            signer,
            loaders,
            storages,
            result_storages,
            storage_style,
            result_style,
        })
    }

    /// Add a storage for sources (tried before the loaders; sources a
    /// loader finds are saved to it).
    pub fn with_storage(mut self, storage: Arc<dyn Storage>) -> Imagor {
        self.storages.push(storage);
        self
    }

    /// Add a result storage (results are looked up there first and saved
    /// there after processing).
    pub fn with_result_storage(mut self, storage: Arc<dyn Storage>) -> Imagor {
        self.result_storages.push(storage);
        self
    }

    /// Add a loader, tried after the ones already configured but before
    /// the HTTP loader, which stays the last resort (imagor's fallback).
    pub fn with_loader(mut self, loader: Arc<dyn Loader>) -> Imagor {
        let at = self.loaders.len() - usize::from(self.http.is_some());
        self.loaders.insert(at, loader);
        self
    }

    /// Add a region detector (imagor's `WithDetector`): its regions steer
    /// `smart` crop, `redact()`, `redact_oval()`, `draw_detections()` and
    /// `/meta`. Any number can be added; their regions are merged in order.
    /// The detector is started here (its error is returned) and shut down
    /// when the last clone of this instance is dropped.
    pub fn with_detector(mut self, detector: Arc<dyn crate::detector::Detector>) -> Result<Imagor> {
        self.detectors = self.detectors.with(detector)?;
        Ok(self)
    }

    /// How many region detectors this instance has (the built-in face
    /// detector included).
    pub fn detector_count(&self) -> usize {
        self.detectors.len()
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Figures of request handling so far: images processed, sources
    /// loaded, result-storage hits, coalesced and rejected requests, the
    /// processing slots in use and waited for now, and the HTTP loader's
    /// fetches, bytes and failures.
    pub fn stats(&self) -> crate::serve::Stats {
        let mut stats = self.control.stats();
        if let Some(http) = &self.http {
            stats.http = http.stats();
        }
        stats
    }

    /// Sign `path` with the configured secret.
    pub fn sign(&self, path: &str) -> Result<String> {
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| Error::invalid_msg("no secret configured"))?;
        Ok(signer.sign(path.trim_start_matches('/')))
    }

    /// Load `key` through the loaders in order; `NotFound` moves on. Each
    /// loader gets `load_timeout`. Overlays (`image()`, `watermark()`) load
    /// through here, under the same loaders and the same HTTP policy.
    pub fn load(&self, key: &str) -> Result<Vec<u8>> {
        if self.loaders.is_empty() {
            return Err(Error::not_found(key));
        }
        let mut last = Error::NOT_FOUND;
        let ctx = crate::loader::LoadContext::default();
        // Overlays load within the request being served, if any, each with
        // the load timeout.
        let scope = crate::call::current();
        // Without this request's processing slot: the overlay may come from
        // this same server ([`crate::serve::slots::released_while`]).
        crate::serve::slots::released_while(|| {
            for loader in &self.loaders {
                let bound = scope.bound(self.opts.load_timeout, "load");
                match crate::call::block_on_source(loader.get(ctx, key), &bound, &scope.stop)
                    .and_then(|r| r)
                {
                    Ok(blob) => return Ok(blob.data.to_vec()),
                    Err(Error::NotFound(_)) => last = Error::NOT_FOUND,
                    Err(e) => return Err(e),
                }
            }
            Err(last.naming_key(key))
        })
    }

    /// Run `f` with a pipeline context whose overlay loader is this
    /// instance's loader chain.
    /// The call takes one of the instance's processing slots first
    /// ([`crate::serve::slots`]), unless this thread holds one already.
    pub(crate) fn with_ctx<R>(&self, f: impl FnOnce(&Ctx<'_>) -> Result<R>) -> Result<R> {
        let _slot = self.control.in_process_slot(self.opts.request_timeout)?;
        let budget = crate::budget::Budget::new(&self.opts);
        let _entered = budget.enter();
        #[cfg(feature = "leak-hook")]
        let _leak = LeakOnDrop;
        let load = |key: &str| self.load(key);
        let ctx = Ctx {
            opts: &self.opts,
            budget: &budget,
            load: Some(&load),
            depth: 0,
            detectors: &self.detectors,
        };
        let out = f(&ctx);
        if budget.peak_memory() >= TRIM_AFTER_BYTES {
            crate::vips::malloc::trim();
        }
        out
    }

    /// Process `data` with an imagor path (`fit-in/200x200/filters:...`,
    /// with or without `unsafe/` or a signature, which is not checked here;
    /// the image segment is ignored). A `meta/` path returns `/meta` JSON.
    /// With `strict_filters`, an image segment that looks like a mistyped
    /// operation (`fit_in/300x200/`) is a 400 ([`path::mistyped`]).
    pub fn process(&self, data: &[u8], path: &str) -> Result<Output> {
        path::check_length(path)?;
        if let Some(params) = color_path(path) {
            return self.with_ctx(|ctx| processor::run(ctx, None, &params));
        }
        self.check_input_size(data.len())?;
        self.check_typo("process", path)?;
        let params = parse_without_image(path);
        let source = Source::bytes(data);
        self.with_ctx(|ctx| processor::run(ctx, Some(&source), &params))
    }

    /// As [`Imagor::process`], but the result is its pixels (8-bit sRGB or
    /// sRGBA, see [`Pixels`]) rather than an encoded image; output filters
    /// such as `format()` and `quality()` have nothing to act on.
    ///
    /// ```
    /// let imagor = imagor::Imagor::new(imagor::Options::default())?;
    /// let png = std::fs::read("../testdata/gopher.png").unwrap();
    /// let px = imagor.process_to_pixels(&png, "fit-in/50x50")?;
    /// assert_eq!(px.data.len() as u32, px.width * px.height * px.bands);
    /// assert!(px.width <= 50 && px.height <= 50);
    /// # Ok::<(), imagor::Error>(())
    /// ```
    pub fn process_to_pixels(&self, data: &[u8], path: &str) -> Result<Pixels> {
        path::check_length(path)?;
        if let Some(params) = color_path(path) {
            return self.with_ctx(|ctx| processor::run_to_pixels(ctx, None, &params));
        }
        self.check_input_size(data.len())?;
        self.check_typo("process", path)?;
        let params = parse_without_image(path);
        let source = Source::bytes(data);
        self.with_ctx(|ctx| processor::run_to_pixels(ctx, Some(&source), &params))
    }

    /// [`Imagor::process_pixels`] in, [`Pixels`] out: packed 8-bit pixels
    /// processed by `path`, without encoding on either side.
    pub fn process_pixels_to_pixels(
        &self,
        pixels: &[u8],
        width: i32,
        height: i32,
        bands: i32,
        path: &str,
    ) -> Result<Pixels> {
        path::check_length(path)?;
        if let Some(params) = color_path(path) {
            return self.with_ctx(|ctx| processor::run_to_pixels(ctx, None, &params));
        }
        self.check_input_size(pixels.len())?;
        let params = parse_without_image(path);
        let source = Source::pixels(pixels, width, height, bands)?;
        self.with_ctx(|ctx| processor::run_to_pixels(ctx, Some(&source), &params))
    }

    /// Refuse input (encoded, or raw pixels) of more than `max_memory` bytes (422
    /// `limit_exceeded` naming it; 0: no bound), before anything copies
    /// it, as the file loader refuses such a file: decoding never takes
    /// less than the bytes it reads, and the input is copied once for
    /// libvips (a 1.5 GiB JPEG of trailing zeros held 3.2 GB). The bindings
    /// ask before their own copy.
    pub fn check_input_size(&self, len: usize) -> Result<()> {
        self.opts.check_input_size(len)
    }

    /// With `strict_filters`, refuse a path whose ignored image segment looks
    /// like a mistyped operation.
    fn check_typo(&self, call: &str, path: &str) -> Result<()> {
        match path::mistyped(path) {
            Some(msg) if self.opts.strict_filters => Err(Error::Invalid(format!("{call}: {msg}"))),
            _ => Ok(()),
        }
    }

    /// Check a path as `process` would read it, without loading or
    /// processing anything: the grammar, and every filter's arguments under
    /// these options (`strict_filters` refusals included). `Ok` means the
    /// path's filters are well-formed; the image can still fail to load.
    ///
    /// ```
    /// let imagor = imagor::Imagor::new(imagor::Options::default())?;
    /// assert!(imagor.check_path("fit-in/200x200/filters:blur(2):format(webp)/a.jpg").is_ok());
    /// assert_eq!(imagor.check_path("filters:quality(1000)/a.jpg").unwrap_err().status(), 400);
    /// # Ok::<(), imagor::Error>(())
    /// ```
    pub fn check_path(&self, path: &str) -> Result<()> {
        let params = path::try_parse(path)?;
        crate::filters::parse_all(&params.filters, &self.opts).map(|_| ())
    }

    /// Process packed 8-bit pixels (`bands` per pixel: 1 grey, 2 grey+alpha,
    /// 3 RGB, 4 RGBA).
    pub fn process_pixels(
        &self,
        pixels: &[u8],
        width: i32,
        height: i32,
        bands: i32,
        path: &str,
    ) -> Result<Output> {
        path::check_length(path)?;
        if let Some(params) = color_path(path) {
            return self.with_ctx(|ctx| processor::run(ctx, None, &params));
        }
        self.check_input_size(pixels.len())?;
        let params = parse_without_image(path);
        let source = Source::pixels(pixels, width, height, bands)?;
        self.with_ctx(|ctx| processor::run(ctx, Some(&source), &params))
    }

    /// imagor's `/meta` for `data` after applying `path` (`""` for the
    /// source as is).
    pub fn meta(&self, data: &[u8], path: &str) -> Result<Meta> {
        path::check_length(path)?;
        let (mut params, source) = match color_path(path) {
            Some(params) => (params, None),
            None => {
                self.check_input_size(data.len())?;
                self.check_typo("meta", path)?;
                (parse_without_image(path), Some(Source::bytes(data)))
            }
        };
        params.meta = true;
        // One slot and one budget for both steps: the details read the
        // source's header again, which may cost as much as the whole first
        // step (a TIFF of 4 000 private tags: 0.7 s each), so a budget of
        // their own let a call run twice its deadline. Details the time
        // left cannot pay for are left out (they never fail the call).
        let (out, details) = self.with_ctx(|ctx| {
            let out = processor::run(ctx, source.as_ref(), &params)?;
            let details = source
                .as_ref()
                .and_then(|source| processor::details::details(ctx, source, data.len()));
            Ok((out, details))
        })?;
        let mut meta: Meta =
            serde_json::from_slice(&out.data).map_err(|e| Error::Internal(e.to_string()))?;
        meta.details = details;
        Ok(meta)
    }

    /// Serve a request path as imagor's server does for a `GET` (see
    /// [`Imagor::handle`] for the whole HTTP answer): signature (or
    /// `unsafe/` when allowed), base params, result storage, storages and
    /// loaders (`color:` images need none), processing, and the retry with
    /// the query-unescaped path after a 400 or 403.
    pub fn serve(&self, path: &str) -> Result<Output> {
        path::check_length(path)?;
        // Its work (a result's save) is done when it returns.
        let _own = crate::serve::after_answer::Collecting::suspend();
        let cancel = crate::request::Cancel::new();
        let _scope = crate::call::enter(crate::call::CallScope::new(
            self.opts.request_timeout,
            &cancel,
            self.opts.max_total_memory,
        ));
        let req = crate::request::Request::get(path);
        let mut outcome = self.run_request(&req, path::parse(path), false);
        if matches!(&outcome.error, Some(Error::SignatureMismatch))
            || matches!(&outcome.error, Some(Error::Invalid(m)) if m == "invalid")
        {
            if let Some(p) = path::parse_query_unescaped(path) {
                outcome = self.run_request(&req, p, false);
            }
        }
        if let Some(e) = outcome.error {
            return Err(e);
        }
        let blob = outcome.blob.unwrap_or_default();
        let sniffed = crate::format::sniff(&blob.data);
        Ok(Output {
            content_type: blob.content_type(),
            format: sniffed.format.filter(|_| sniffed.type_name != "json"),
            data: blob.data.to_vec(),
        })
    }

    /// Check the signature of parsed params: `unsafe/` paths pass when
    /// `unsafe` is on; otherwise the hash must be the path's signature with
    /// the configured secret, compared in constant time.
    ///
    /// Deliberately unlike imagor, which then signs with an empty key:
    /// without a secret no signed path is accepted, and with neither a
    /// secret nor `unsafe` every path is refused with a configuration error.
    pub fn verify(&self, params: &Params) -> Result<()> {
        if self.opts.unsafe_ && params.r#unsafe {
            return Ok(());
        }
        let Some(signer) = &self.signer else {
            if !self.opts.unsafe_ {
                return Err(Error::Internal(
                    "imagor is not configured to serve: set a secret (imagor-secret) \
                     or allow unsigned paths (imagor-unsafe)"
                        .to_owned(),
                ));
            }
            return Err(Error::SignatureMismatch);
        };
        if params.path.is_empty() {
            return Ok(());
        }
        if signer.verify_bytes(params.path_bytes(), &params.hash) {
            Ok(())
        } else {
            Err(Error::SignatureMismatch)
        }
    }
}

/// The detectors the options ask for: the built-in face detector.
fn builtin_detectors(options: &Options) -> Result<crate::detector::Detectors> {
    let none = crate::detector::Detectors::default();
    if !options.face_detector {
        return Ok(none);
    }
    #[cfg(feature = "face")]
    {
        none.with(crate::detector::face::from_options(options))
    }
    #[cfg(not(feature = "face"))]
    {
        Err(Error::invalid_msg(
            "invalid options: face_detector needs imagor built with the `face` feature",
        ))
    }
}

/// A call charged this much memory at once gives what glibc kept of it back
/// to the system when it ends ([`crate::vips::malloc::trim`], a few
/// milliseconds against the hundreds such a call takes): libvips frees into
/// the arenas of its worker threads, which a host process (Python, Node,
/// a Rust service) otherwise keeps at its largest call's size, and more
/// over a mix of them (278 hostile cases in one Python process peaked at
/// 452-502 MiB). The server also trims when it goes idle.
const TRIM_AFTER_BYTES: u64 = 64 << 20;

/// Leaks at the end of a call when the test hook says so.
#[cfg(feature = "leak-hook")]
struct LeakOnDrop;

#[cfg(feature = "leak-hook")]
impl Drop for LeakOnDrop {
    fn drop(&mut self) {
        crate::testing::maybe_leak();
    }
}

/// A path whose image is a `color:` source: it is generated, whatever bytes
/// the caller passed (imagor never combines the two).
fn color_path(path: &str) -> Option<Params> {
    let params = path::parse(path);
    crate::ops::color::parse_color_image(&params.image).map(|_| params)
}

/// Parse a path for `process`, where the image segment is optional and
/// ignored: the grammar reads the last segment as the image, so a path that
/// ends in a size or `filters:` segment (`fit-in/100x100`) is read as if an
/// image followed it.
fn parse_without_image(path: &str) -> Params {
    let mut params = path::parse(&format!("{}/_", path.trim_end_matches('/')));
    params.image.clear();
    params.base64_image = false;
    params
}

/// The process-wide default instance used by [`crate::process`] and
/// [`crate::meta`]: imagor's default options (its limits; no file loader; the
/// HTTP loader under the default SSRF policy, for `image()` / `watermark()`
/// overlays that name URLs).
pub(crate) fn default_imagor() -> Result<&'static Imagor> {
    static DEFAULT: OnceLock<std::result::Result<Imagor, Error>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| Imagor::new(Options::default()))
        .as_ref()
        .map_err(Clone::clone)
}
