//! imagor's `Do`: one image request from parsed params to a result blob.
//!
//! In order: signature; base params; the utility filters (`expire`,
//! `attachment`, `max_age` leave the path, `raw` and `preview` change the
//! flow); auto format from `Accept`; the result key; a result-storage hit
//! (with the modified-time check); the source from the storages, else the
//! loaders (saved to the storages when a loader found it); processing;
//! saving the result. Every step and its quirks follow imagor 1.9
//! (`imagor.go` `Do`), with the deliberate differences noted where they are.

use std::sync::atomic::Ordering;

use crate::blob::Blob;
use crate::call::{CallScope, Stop};
use crate::error::{Error, Result};
use crate::path::{self, Filter, Params};
use crate::processor::{self, Source};
use crate::request::Request;
use crate::Imagor;

/// What a request produced.
#[derive(Debug, Default, Clone)]
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
    /// The result-storage key the result is still to be saved under (after
    /// the request, and its coalesced followers, have their answer).
    pub save_as: Option<String>,
}

impl Outcome {
    pub(crate) fn error(e: Error) -> Outcome {
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
        let scope = crate::call::current();
        // Requests that came through imagor-rs loaders (their `Via`) share
        // work only with requests from as many: a client that claims three
        // hops has its own HTTP loads refused (403), which must not become
        // the answer of the plain requests that would have joined it.
        let hops = scope.via.as_deref().map_or(0, crate::loader::http::hops_in);
        let flight_key = result_key.as_deref().map(|key| match hops {
            0 => key.to_owned(),
            n => format!("{key}\u{0}via imagor-rs x{n}"),
        });
        match result_key.as_deref().zip(flight_key.as_deref()) {
            Some((key, flight)) => {
                // The result is saved by the leader once it has answered
                // (in the server; elsewhere before the call returns).
                let saver = (!self.result_storages.is_empty()).then(|| self.clone());
                let image = p.image.clone();
                let mut shared = self.control.coalesce(
                    flight,
                    &scope,
                    |scope| {
                        let stored = self.storable_result_key(key);
                        self.produce(req, &p, post, out.clone(), stored, scope)
                    },
                    move |outcome| {
                        if let (Some(key), Some(blob), Some(saver)) =
                            (outcome.save_as.take(), outcome.blob.as_ref(), saver)
                        {
                            saver.save_result(&key, &image, blob);
                        }
                    },
                );
                // `expire()` is not part of the key: a request sharing the
                // work of another keeps its own privacy, as imagor sets it
                // on each request.
                shared.private = out.private;
                shared
            }
            None => self.produce(req, &p, post, out, None, &scope),
        }
    }

    /// The part of imagor's `Do` that coalesced requests share: the
    /// result-storage lookup, a processing slot, the source, processing.
    fn produce(
        &self,
        req: &Request,
        p: &Params,
        post: bool,
        mut out: Outcome,
        result_key: Option<&str>,
        scope: &CallScope,
    ) -> Outcome {
        if let Some(key) = result_key.filter(|_| !out.raw) {
            if let Some(hit) = self.load_result(key, p, scope) {
                self.control.result_hits.fetch_add(1, Ordering::Relaxed);
                out.blob = Some(hit);
                return out;
            }
        }
        if let Err(e) = super::nesting::room_for_a_request() {
            out.error = Some(e);
            return out;
        }
        // raw() is not counted against the processing slots, as in imagor.
        let permit = if out.raw {
            None
        } else {
            match self.control.admit(scope) {
                Ok(permit) => permit,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        };
        // Callbacks of this request calling back into the instance run
        // under its slot ([`super::nesting`]).
        let _inside = super::nesting::push(&self.control, permit.as_ref().map(|p| p.place()), None);
        let is_color = crate::ops::color::parse_color_image(&p.image).is_some();
        // Only a source nothing else needs whole may be processed while it
        // arrives: not one to save to the storages or to answer raw().
        let stream = !post && !out.raw && self.storages.is_empty();
        let (source, saved) = if is_color {
            (None, Vec::new())
        } else {
            match self.load_source(req, p, post, stream, scope) {
                (Some(blob), Ok(loader)) => {
                    self.control.loaded.fetch_add(1, Ordering::Relaxed);
                    let saved = match loader {
                        Some(i) => self.save_source(i, p, &blob.blob, scope),
                        None => Vec::new(),
                    };
                    (Some(blob), saved)
                }
                (_, Err(e)) => {
                    out.error = Some(e);
                    return out;
                }
                (None, Ok(_)) => {
                    out.error = Some(Error::NOT_FOUND);
                    return out;
                }
            }
        };
        if out.raw {
            out.blob = source.map(|s| s.blob);
            return out;
        }
        if let Err(e) = scope.check() {
            out.error = Some(e);
            return out;
        }
        // After the load, before the processing budget starts; given back
        // while the processing waits on a network (an overlay's load, a
        // body still arriving), and before the storages are cleaned up.
        let slot = match self.control.processing_slot(scope) {
            Ok(slot) => slot,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        self.control.processed.fetch_add(1, Ordering::Relaxed);
        let processed = self.process_blob(source.as_ref(), p);
        drop(slot);
        match processed {
            Ok(result) => {
                out.save_as = result_key.map(str::to_owned);
                out.blob = Some(result);
            }
            Err(e) => {
                self.delete_source(p, &saved);
                if self.opts.response_raw_on_error {
                    out.blob = source.and_then(Loaded::whole);
                }
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

    /// Run the processor on the source (or a `color:` image). A source
    /// still arriving must arrive whole and intact for the result to
    /// stand; if it failed, its error is the answer (a cut body is never
    /// served as a half-decoded image).
    fn process_blob(&self, source: Option<&Loaded>, p: &Params) -> Result<Blob> {
        let input = match source {
            None => None,
            Some(Loaded {
                body: Some(body), ..
            }) => Some(Source::arriving(body.clone(), &self.opts)?),
            Some(Loaded { blob, .. }) => Some(Source::shared(&blob.data)?),
        };
        if let (Some(Source::Arriving { .. }), Some(http)) = (&input, &self.http) {
            http.note_streamed();
        }
        let body = source.and_then(|s| s.body.as_ref());
        let output = self
            .with_ctx(|ctx| processor::run(ctx, input.as_ref(), p))
            .map_err(|e| body.and_then(|b| b.failure()).unwrap_or(e))?;
        if let Some(body) = body {
            body.complete(|_| ())?;
        }
        let mut blob = Blob::new(output.data).with_content_type(output.content_type);
        if let Some(src) = source {
            blob.headers = src.blob.headers.clone();
        }
        Ok(blob)
    }
}

/// A loaded source: all its bytes, or the head of a response whose body
/// is still arriving.
pub(crate) struct Loaded {
    /// The source (without bytes while `body` arrives).
    blob: Blob,
    /// The bytes still arriving.
    body: Option<std::sync::Arc<crate::arriving::Body>>,
}

impl Loaded {
    /// Nothing to process: no bytes, and none arriving.
    pub(super) fn is_empty(&self) -> bool {
        self.body.is_none() && self.blob.is_empty()
    }

    /// The whole source, waiting for the rest of a body still arriving;
    /// `None` if it fails.
    fn whole(self) -> Option<Blob> {
        let Some(body) = self.body else {
            return Some(self.blob);
        };
        let data = body.whole().ok()?;
        Some(Blob { data, ..self.blob })
    }
}

impl From<Blob> for Loaded {
    fn from(blob: Blob) -> Loaded {
        Loaded { blob, body: None }
    }
}

impl From<crate::loader::http::Opened> for Loaded {
    fn from(o: crate::loader::http::Opened) -> Loaded {
        Loaded {
            blob: o.head,
            body: Some(o.body),
        }
    }
}

/// A scope without deadline or caller, for work that outlives the request.
pub(super) fn detached() -> CallScope {
    CallScope {
        deadline: None,
        stop: Stop::Never,
        max_total_memory: 0,
        via: None,
    }
}

fn now_ms() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::arriving::Body;
    use crate::call::Bound;
    use std::time::{Duration, Instant};

    /// The point of streaming: libvips decodes a baseline JPEG and a PNG
    /// while their last bytes have not arrived, and the result is the
    /// whole file's.
    #[test]
    fn jpeg_and_png_are_decoded_while_they_arrive() {
        let imagor = Imagor::new(crate::Options {
            http_loader_disable: true,
            process_timeout: Duration::from_secs(60),
            ..crate::Options::default()
        })
        .unwrap();
        let photo = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/faces-astronaut.jpg"
        ))
        .unwrap();
        for made in [
            "3000x2000/filters:quality(90)",
            "1500x1000/filters:format(png)",
        ] {
            let data = crate::process(&photo, made).unwrap().data;
            let body = Body::new(
                0,
                Bound {
                    at: None,
                    error: Error::timeout(),
                },
                Stop::Never,
                crate::budget::Holding::for_this_call("a body"),
            );
            let (first, rest) = data.split_at(data.len() * 9 / 10);
            let writer = body.feed();
            writer.push(first).unwrap();
            let loaded = Loaded {
                blob: Blob::default(),
                body: Some(body.clone()),
            };
            let p = path::parse("/unsafe/300x200/photo");
            let out = std::thread::scope(|s| {
                let run = s.spawn(|| imagor.process_blob(Some(&loaded), &p));
                // Wait (bounded) until decoding is past half the file
                // while the last tenth is still held back.
                let start = Instant::now();
                while body.read_up_to() < data.len() / 2 {
                    assert!(
                        start.elapsed() < Duration::from_secs(60),
                        "{made}: decoding never started: read {} of {} bytes",
                        body.read_up_to(),
                        first.len()
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                writer.push(rest).unwrap();
                writer.finish(Ok(()));
                run.join().unwrap().unwrap()
            });
            assert_eq!(
                out.data,
                imagor.process(&data, "300x200").unwrap().data,
                "{made}"
            );
        }
    }
}
