//! The storages' part of a request: result keys, a result-storage hit with
//! its modified-time check, the source from the source storages or else the
//! loaders, and saving sources and results back (imagor's `Do`, continued
//! from [`super::flow`]).

use std::time::SystemTime;

use super::flow::{detached, Loaded};
use crate::blob::Blob;
use crate::call::{block_on_source, block_on_until, CallScope, Stop};
use crate::error::{Error, Result};
use crate::loader::{BoxFuture, LoadContext};
use crate::path::{self, Params};
use crate::request::Request;
use crate::storage::Storage;
use crate::Imagor;

impl Imagor {
    /// The result-storage key of `p` in the configured style.
    pub(super) fn result_key(&self, p: &Params) -> String {
        match self.result_style {
            Some(style) => style.hash(p),
            None => p.path.clone(),
        }
    }

    /// `key` if the result storages may hold it: a key that names this
    /// request's result alone once a storage normalises it
    /// ([`path::cleans_to_itself`], leading `/` aside). Another request's
    /// key (`meta//../a.png` loads `a.png` and cleans to its key, whose
    /// JSON every request for the plain image then got; `a.png/`, which an
    /// origin may answer differently) is processed but neither read from
    /// nor saved to the result storages. This holds for every style: the
    /// `suffix` and `size` styles keep the image and the `format()`
    /// argument as they are (`format(png/../b.<hash>.png)` cleaned into
    /// another request's key, in imagor too); a `digest` key is hex.
    pub(super) fn storable_result_key<'k>(&self, key: &'k str) -> Option<&'k str> {
        path::cleans_to_itself(key.trim_start_matches('/')).then_some(key)
    }

    /// The storage key of `p`'s image in the configured style, made from
    /// the image's bytes ([`Params::image_bytes`]); `None` for an image
    /// whose bytes are not UTF-8 in the original style, which skips the
    /// storages: its key (shown with U+FFFD) would name one entry for
    /// `caf%E9.jpg`, `caf%E8.jpg` and `caf%EF%BF%BD.jpg`, and serve each the
    /// others' source.
    pub(crate) fn storage_key(&self, p: &Params) -> Option<String> {
        self.storage_style.unwrap_or_default().key(p.image_bytes())
    }

    /// Whether `p`'s image key names its bytes (they are UTF-8), so that
    /// loaders asked without them (`stat`, `location`) look at the same
    /// image.
    fn key_is_text(p: &Params) -> bool {
        p.image_bytes() == p.image.as_bytes()
    }

    /// imagor's `loadResult`: the first result storage that has `key`; with
    /// `modified_time_check`, only if it is not older than its source.
    pub(super) fn load_result(&self, key: &str, p: &Params, scope: &CallScope) -> Option<Blob> {
        let ctx = LoadContext::default();
        let hit = self.result_storages.iter().find_map(|s| {
            let bound = scope.bound(self.opts.load_timeout, "load");
            block_on_source(s.get_result(ctx, key, &p.image), &bound, &scope.stop)
                .ok()?
                .ok()
                .filter(|b| !b.is_empty())
        })?;
        if !self.opts.modified_time_check {
            return Some(hit);
        }
        let Some(result_time) = hit.stat.as_ref().and_then(|s| s.modified) else {
            return Some(hit);
        };
        match self.source_modified(p, scope) {
            Some(source_time) if result_time < source_time => None,
            _ => Some(hit),
        }
    }

    /// The source's modification time: from the storages (with the storage
    /// key: imagor looks there with the image key, which misses with the
    /// digest style), else from loaders that can stat.
    fn source_modified(&self, p: &Params, scope: &CallScope) -> Option<SystemTime> {
        let image = p.image.as_str();
        let stat = |f: BoxFuture<'_, Result<crate::blob::Stat>>| {
            let bound = scope.bound(self.opts.load_timeout, "load");
            block_on_source(f, &bound, &scope.stop)
                .ok()?
                .ok()
                .and_then(|s| s.modified)
        };
        // A source the storages cannot keep (no storage key) comes from
        // the loaders every time: their time is its time.
        let storage_key = self.storage_key(p);
        if (self.storages.is_empty() || storage_key.is_none()) && Self::key_is_text(p) {
            if let Some(t) = self.loaders.iter().find_map(|l| stat(l.stat(image))) {
                return Some(t);
            }
        }
        let storage_key = storage_key?;
        self.storages
            .iter()
            .find_map(|s| stat(s.stat(&storage_key)))
    }

    /// imagor's `fromStoragesAndLoaders`: the storages (by storage key),
    /// then the loaders in order (by image key); the first image wins, and
    /// when all fail the last loader's error is reported. `Ok(Some(i))`:
    /// loader `i` found it (so it is saved to the storages).
    ///
    /// With `stream`, the HTTP loader answers once the origin's headers are
    /// in, and the body keeps arriving while it is processed.
    pub(super) fn load_source(
        &self,
        req: &Request,
        p: &Params,
        post: bool,
        stream: bool,
        scope: &CallScope,
    ) -> (Option<Loaded>, Result<Option<usize>>) {
        let image = p.image.as_str();
        let ctx = LoadContext {
            request: Some(req),
            image_bytes: Some(p.image_bytes()).filter(|b| *b != image.as_bytes()),
            deadline: None,
        };
        if image.is_empty() && !post {
            return (None, Err(Error::NOT_FOUND));
        }
        // Each read gets the load timeout (within the request's); a caller
        // that went away ends the whole lookup.
        let load = |f: BoxFuture<'_, Result<Blob>>| {
            let bound = scope.bound(self.opts.load_timeout, "load");
            block_on_source(f, &bound, &scope.stop).and_then(|r| r)
        };
        // The same bound, for a loader that blocks before its future.
        let until = || LoadContext {
            deadline: scope.bound(self.opts.load_timeout, "load").at,
            ..ctx
        };
        if let Some(key) = self.storage_key(p).filter(|_| !image.is_empty()) {
            for s in &self.storages {
                match load(s.get(until(), &key)) {
                    Ok(blob) if !blob.is_empty() => return (Some(Loaded::from(blob)), Ok(None)),
                    Err(Error::Cancelled) => return (None, Err(Error::Cancelled)),
                    _ => {}
                }
            }
        }
        let (mut last, mut upload) = (None, None);
        // The HTTP loader, when built in, is the last loader.
        let http_at = self.http.as_ref().map(|_| self.loaders.len() - 1);
        for (i, loader) in self.loaders.iter().enumerate() {
            let got = match self.http.as_ref().filter(|_| stream && http_at == Some(i)) {
                Some(http) => {
                    let bound = scope.bound(self.opts.load_timeout, "load");
                    let opened = http.open(ctx, image, bound.clone(), scope.stop.clone());
                    block_on_source(opened, &bound, &scope.stop)
                        .and_then(|r| r)
                        .and_then(|o| {
                            // An empty body is no image, as when buffered
                            // (the next loader's answer stands).
                            let empty = o.body.head(1)?.is_empty();
                            Ok(if empty {
                                Loaded::from(o.head)
                            } else {
                                Loaded::from(o)
                            })
                        })
                }
                None => load(loader.get(until(), image)).map(Loaded::from),
            };
            match got {
                Ok(loaded) if !loaded.is_empty() => return (Some(loaded), Ok(Some(i))),
                Ok(_) => {}
                Err(Error::Cancelled) => return (None, Err(Error::Cancelled)),
                // The memory pool is full: every later loader meets the
                // same pool, and the HTTP loader would first spend a name
                // lookup on a key it only guesses is a URL (under a flood
                // those lookups queued for 20 s before the 429).
                Err(Error::TooManyRequests) => return (None, Err(Error::TooManyRequests)),
                Err(e) if post && loader.name() == "upload" => upload = Some(e),
                // The HTTP loader is the fallback: its "not found" for a key
                // it only guessed was a URL does not mask what an earlier
                // loader reported (imagor reports the last error); nor does
                // the upload loader's, which has nothing for a GET.
                Err(Error::NotFound(_))
                    if matches!(loader.name(), "http" | "upload") && last.is_some() => {}
                Err(e) => last = Some(e),
            }
        }
        // For an upload the upload loader's own error is what the client
        // needs; imagor reports the last loader's, which masks it.
        let err = upload.or(last).unwrap_or(Error::NOT_FOUND);
        (None, Err(err.naming_key(image)))
    }

    /// Save a source loader `loader` found to every storage; the storages
    /// written to. A storage whose write fails gets a delete, as imagor
    /// does. Within the request, as imagor saves sources with the request's
    /// context and the save timeout.
    ///
    /// Unlike imagor, a storage whose copy would be the very file or object
    /// the loader read (a file loader and a file storage on one folder, or
    /// an S3 loader and storage on one bucket and base dir, as in imagor's
    /// own examples) is left alone: saving would rewrite the original, and
    /// a failed save or a failed processing would delete it.
    pub(super) fn save_source(
        &self,
        loader: usize,
        p: &Params,
        blob: &Blob,
        scope: &CallScope,
    ) -> Vec<usize> {
        let image = p.image.as_str();
        let Some(key) = self.storage_key(p).filter(|_| !image.is_empty()) else {
            return Vec::new();
        };
        if self.storages.is_empty() {
            return Vec::new();
        }
        let read_from = self.loaders.get(loader).and_then(|l| l.location(image));
        let mut written = Vec::new();
        for (i, s) in self.storages.iter().enumerate() {
            if read_from.is_some() && read_from == s.location(&key) {
                continue;
            }
            self.put_or_delete(s.as_ref(), &key, blob, scope);
            written.push(i);
        }
        written
    }

    /// Remove a saved source again from the storages it was written to
    /// after processing failed (detached from the request, as in imagor).
    pub(super) fn delete_source(&self, p: &Params, written: &[usize]) {
        let Some(key) = self.storage_key(p).filter(|_| !written.is_empty()) else {
            return;
        };
        let scope = detached();
        for s in written.iter().filter_map(|&i| self.storages.get(i)) {
            let bound = scope.bound(self.opts.save_timeout, "save");
            let _ = block_on_until(s.delete(&key), &bound, &scope.stop);
        }
    }

    /// Warnings for result storages that keep results where a loader
    /// serves images (an object storage on a loader's bucket and base
    /// dir): [`Imagor::save_result`] never writes over what a loader
    /// serves, so such a storage keeps no result at all. The server logs
    /// them at start.
    pub fn result_storage_warnings(&self) -> Vec<String> {
        const PROBE: &str = "imagor-rs-probe/x.png";
        let mut warnings = Vec::new();
        for s in &self.result_storages {
            let Some(at) = s.result_location(PROBE, PROBE) else {
                continue;
            };
            for l in &self.loaders {
                if l.location(PROBE).as_ref() == Some(&at) {
                    warnings.push(format!(
                        "the {} result storage keeps results where the {} loader serves images \
                         (same bucket and base dir): results are not stored there, so as not \
                         to replace an original; give the result storage its own base dir",
                        s.name(),
                        l.name()
                    ));
                }
            }
        }
        warnings
    }

    /// Save a result of the source `image` to every result storage (a
    /// failed or late write is deleted), detached from the request: the
    /// answer is already known.
    ///
    /// Unlike imagor, a result storage whose entry for `key`
    /// ([`Storage::result_location`]) is the very file or object a loader
    /// serves as an image (a result storage on the file loader's folder,
    /// where `unsafe/keep.png` or `unsafe/fit-in/keep.png` has the key of
    /// an original once it reads as expired) is left alone, as
    /// [`Imagor::save_source`] leaves the storages: the processed copy
    /// would replace the original for good, and a failed write would
    /// delete it.
    pub(super) fn save_result(&self, key: &str, image: &str, blob: &Blob) {
        let scope = detached();
        let originals: Vec<String> = self
            .loaders
            .iter()
            .filter_map(|l| l.location(key))
            .collect();
        for s in &self.result_storages {
            if s.result_location(key, image)
                .is_some_and(|at| originals.contains(&at))
            {
                continue;
            }
            let bound = scope.bound(self.opts.save_timeout, "save");
            if !matches!(
                block_on_until(s.put_result(key, image, blob), &bound, &scope.stop),
                Ok(Ok(()))
            ) {
                let bound = scope.bound(self.opts.save_timeout, "save");
                let _ = block_on_until(s.delete_result(key, image), &bound, &Stop::Never);
            }
        }
    }

    /// `put` with the save timeout; a failed or late write is deleted.
    fn put_or_delete(&self, s: &dyn Storage, key: &str, blob: &Blob, scope: &CallScope) {
        let bound = scope.bound(self.opts.save_timeout, "save");
        if !matches!(
            block_on_until(s.put(key, blob), &bound, &scope.stop),
            Ok(Ok(()))
        ) {
            let bound = detached().bound(self.opts.save_timeout, "save");
            let _ = block_on_until(s.delete(key), &bound, &Stop::Never);
        }
    }
}
