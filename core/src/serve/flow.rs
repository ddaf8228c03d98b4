//! imagor's `Do`: one image request from parsed params to a result blob.
//!
//! In order: signature; base params; the utility filters (`expire`,
//! `attachment`, `max_age` leave the path, `raw` and `preview` change the
//! flow); auto format from `Accept`; the result key; a result-storage hit
//! (with the modified-time check); the source from the storages, else the
//! loaders (saved to the storages when a loader found it); processing;
//! saving the result. Every step and its quirks follow imagor 1.9
//! (`imagor.go` `Do`), with the deliberate differences noted where they are.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::blob::Blob;
use crate::error::{Error, Result};
use crate::loader::{block_on, LoadContext};
use crate::path::{self, Filter, Params};
use crate::processor::{self, Source};
use crate::request::Request;
use crate::Imagor;

/// Images this process produced by processing (result-storage hits and
/// raw responses excluded), over every instance: the server exports it as
/// `imagor_processed_total`, which shows what a shared result storage
/// saves across replicas.
static PROCESSED: AtomicU64 = AtomicU64::new(0);

/// The count behind `imagor_processed_total`.
pub(crate) fn processed_total() -> u64 {
    PROCESSED.load(Ordering::Relaxed)
}

/// What a request produced.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The result; on an error, the source when one was loaded (for
    /// `response_raw_on_error`).
    pub blob: Option<Blob>,
    /// The error, if any.
    pub error: Option<Error>,
    /// Auto format was considered: the response varies by `Accept`.
    pub vary_accept: bool,
    /// `raw()`: the source unprocessed.
    pub raw: bool,
    /// A valid, future `expire()`: the response is private.
    pub private: bool,
}

impl Outcome {
    fn error(e: Error) -> Outcome {
        Outcome {
            error: Some(e),
            ..Outcome::default()
        }
    }
}

impl Imagor {
    /// imagor's `Do` for `p`, parsed from `req` (`post`: an upload, whose
    /// image comes from the request body).
    pub(crate) fn run_request(&self, req: &Request, mut p: Params, post: bool) -> Outcome {
        if !post {
            if let Err(e) = self.verify(&p) {
                return Outcome::error(e);
            }
        }
        let mut changed = false;
        if !self.opts.base_params.trim().is_empty() {
            let base = format!("{}/", self.opts.base_params.trim().trim_end_matches('/'));
            p = path::apply(p, &base);
            changed = true;
        }
        let mut out = Outcome::default();
        let (mut has_format, mut preview) = (false, false);
        let now_ms = now_ms();
        let mut kept = Vec::with_capacity(p.filters.len());
        for f in std::mem::take(&mut p.filters) {
            match f.name.as_str() {
                "expire" | "attachment" | "max_age" => {
                    if f.name == "expire" {
                        if let Ok(ts) = f.args.trim().parse::<i64>() {
                            if now_ms > ts as i128 {
                                return Outcome::error(Error::Expired);
                            }
                            out.private = true;
                        }
                    }
                    changed = true;
                    continue;
                }
                "format" => has_format = true,
                "raw" => out.raw = true,
                "preview" => preview = true,
                _ => {}
            }
            kept.push(f);
        }
        p.filters = kept;
        if !has_format && (self.opts.auto_avif || self.opts.auto_webp || self.opts.auto_jpeg) {
            out.vary_accept = true;
            changed |= self.auto_format(req, &mut p);
        }
        if changed || p.path.is_empty() {
            p.path = path::generate_path(&p);
        }
        let result_key = (!p.image.is_empty() && !preview).then(|| self.result_key(&p));

        if let Some(key) = result_key.as_deref().filter(|_| !out.raw) {
            if let Some(hit) = self.load_result(key, &p.image) {
                out.blob = Some(hit);
                return out;
            }
        }
        let is_color = crate::ops::color::parse_color_image(&p.image).is_some();
        let (source, saved) = if is_color {
            (None, false)
        } else {
            match self.load_source(req, &p.image, post) {
                (Some(blob), Ok(from_loader)) => {
                    let saved = from_loader && self.save_source(&p.image, &blob);
                    (Some(blob), saved)
                }
                (blob, Err(e)) => {
                    out.blob = blob;
                    out.error = Some(e);
                    return out;
                }
                (None, Ok(_)) => {
                    out.error = Some(Error::NotFound);
                    return out;
                }
            }
        };
        if out.raw {
            out.blob = source;
            return out;
        }
        match self.process_blob(source.as_ref(), &p) {
            Ok(result) => {
                if let Some(key) = result_key.as_deref() {
                    self.save_result(key, &p.image, &result);
                }
                out.blob = Some(result);
            }
            Err(e) => {
                if saved {
                    self.delete_source(&p.image);
                }
                out.blob = source;
                out.error = Some(e);
            }
        }
        out
    }

    /// imagor's auto format: `format(avif)` (+ `fallback_format(webp)`),
    /// `format(webp)` or `format(jpeg)` from the `Accept` header, matched by
    /// substring as imagor does. True when a filter was added.
    fn auto_format(&self, req: &Request, p: &mut Params) -> bool {
        let accept = req.header("accept").unwrap_or("");
        let o = &self.opts;
        let add = |p: &mut Params, name: &str, args: &str| p.filters.push(Filter::new(name, args));
        if o.auto_avif && accept.contains("image/avif") {
            add(p, "format", "avif");
            if o.auto_webp && accept.contains("image/webp") {
                add(p, "fallback_format", "webp");
            }
        } else if o.auto_webp && accept.contains("image/webp") {
            add(p, "format", "webp");
        } else if o.auto_jpeg
            && (accept.is_empty()
                || accept.contains("image/jpeg")
                || accept.contains("image/*")
                || accept.contains("*/*"))
        {
            add(p, "format", "jpeg");
        } else {
            return false;
        }
        true
    }

    /// The result-storage key of `p` in the configured style.
    fn result_key(&self, p: &Params) -> String {
        match self.result_style {
            Some(style) => style.hash(p),
            None => p.path.clone(),
        }
    }

    /// The storage key of an image key in the configured style.
    pub(crate) fn storage_key(&self, image: &str) -> String {
        match self.storage_style {
            Some(style) => style.hash(image),
            None => image.to_owned(),
        }
    }

    /// imagor's `loadResult`: the first result storage that has `key`; with
    /// `modified_time_check`, only if it is not older than its source.
    fn load_result(&self, key: &str, image: &str) -> Option<Blob> {
        let ctx = LoadContext::default();
        let hit = self.result_storages.iter().find_map(|s| {
            block_on(s.get_result(ctx, key, image))
                .ok()
                .filter(|b| !b.is_empty())
        })?;
        if !self.opts.modified_time_check {
            return Some(hit);
        }
        let Some(result_time) = hit.stat.as_ref().and_then(|s| s.modified) else {
            return Some(hit);
        };
        match self.source_modified(image) {
            Some(source_time) if result_time < source_time => None,
            _ => Some(hit),
        }
    }

    /// The source's modification time: from the storages (with the storage
    /// key: imagor looks there with the image key, which misses with the
    /// digest style), else from loaders that can stat.
    fn source_modified(&self, image: &str) -> Option<SystemTime> {
        let storage_key = self.storage_key(image);
        let from = |stat: Result<crate::blob::Stat>| stat.ok().and_then(|s| s.modified);
        if self.storages.is_empty() {
            if let Some(t) = self
                .loaders
                .iter()
                .find_map(|l| from(block_on(l.stat(image))))
            {
                return Some(t);
            }
        }
        self.storages
            .iter()
            .find_map(|s| from(block_on(s.stat(&storage_key))))
    }

    /// imagor's `fromStoragesAndLoaders`: the storages (by storage key),
    /// then the loaders in order (by image key); the first image wins, and
    /// when all fail the last loader's error is reported. `Ok(true)`: a
    /// loader found it (so it is saved to the storages).
    fn load_source(&self, req: &Request, image: &str, post: bool) -> (Option<Blob>, Result<bool>) {
        let ctx = LoadContext { request: Some(req) };
        if image.is_empty() && !post {
            return (None, Err(Error::NotFound));
        }
        if !image.is_empty() {
            let key = self.storage_key(image);
            for s in &self.storages {
                if let Ok(blob) = block_on(s.get(ctx, &key)) {
                    if !blob.is_empty() {
                        return (Some(blob), Ok(false));
                    }
                }
            }
        }
        let (mut last, mut upload) = (None, None);
        for loader in &self.loaders {
            match block_on(loader.get(ctx, image)) {
                Ok(blob) if !blob.is_empty() => return (Some(blob), Ok(true)),
                Ok(_) => {}
                Err(e) if post && loader.name() == "upload" => upload = Some(e),
                Err(e) => last = Some(e),
            }
        }
        // For an upload the upload loader's own error is what the client
        // needs; imagor reports the last loader's, which masks it.
        (None, Err(upload.or(last).unwrap_or(Error::NotFound)))
    }

    /// Save a source a loader found to every storage; `true` when saved.
    /// A storage whose write fails gets a delete, as imagor does.
    fn save_source(&self, image: &str, blob: &Blob) -> bool {
        if self.storages.is_empty() || image.is_empty() {
            return false;
        }
        let key = self.storage_key(image);
        for s in &self.storages {
            if block_on(s.put(&key, blob)).is_err() {
                let _ = block_on(s.delete(&key));
            }
        }
        true
    }

    /// Remove a saved source again after processing failed.
    fn delete_source(&self, image: &str) {
        let key = self.storage_key(image);
        for s in &self.storages {
            let _ = block_on(s.delete(&key));
        }
    }

    /// Save a result of `image` to every result storage (a failed write
    /// is deleted).
    fn save_result(&self, key: &str, image: &str, blob: &Blob) {
        for s in &self.result_storages {
            if block_on(s.put_result(key, image, blob)).is_err() {
                let _ = block_on(s.delete_result(key, image));
            }
        }
    }

    /// Run the processor on the source (or a `color:` image).
    fn process_blob(&self, source: Option<&Blob>, p: &Params) -> Result<Blob> {
        PROCESSED.fetch_add(1, Ordering::Relaxed);
        let input = source.map(|b| Source::bytes(&b.data));
        let output = self.with_ctx(|ctx| processor::run(ctx, input.as_ref(), p))?;
        let mut blob = Blob::new(output.data).with_content_type(output.content_type);
        if let Some(src) = source {
            blob.headers = src.headers.clone();
        }
        Ok(blob)
    }
}

fn now_ms() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128)
}
