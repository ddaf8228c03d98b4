//! Loaders: where source images come from, by image key (imagor's
//! `Loader`).
//!
//! A loader answers [`Loader::get`] with a [`Blob`], or
//! [`crate::Error::NOT_FOUND`] when the key is not its to answer (the next
//! loader is tried). The methods return futures, so network loaders (HTTP,
//! object storage) can wait without holding a thread; the synchronous entry
//! points of [`crate::Imagor`] drive them to completion on the calling
//! thread, within the request's load timeout and cancellation. [`FileLoader`]
//! serves a folder as imagor's file loader does, [`HttpLoader`] fetches
//! URLs under an SSRF policy; [`crate::storage::S3Storage`] and
//! [`crate::storage::GcsStorage`] load from buckets; any
//! `Fn(&str) -> Result<Vec<u8>>` is a (blocking) loader too. Plug more in
//! with [`crate::Imagor::with_loader`].

mod file;
pub mod http;
mod room;
mod upload;
// imagor's S3 bucket router (object storage).
mod s3_router;

pub use file::FileLoader;
pub use http::HttpLoader;
pub use room::SourceRoom;
pub use s3_router::S3RouterLoader;
pub use upload::{UploadLoader, UploadLoaderOptions};

use std::future::Future;
use std::pin::Pin;

use crate::blob::{Blob, Stat};
use crate::error::{Error, Result};

/// A boxed, sendable future: what loader and storage methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a loader may look at besides the key: the request being served,
/// when there is one (the upload loader reads its body; an HTTP loader may
/// forward its headers).
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadContext<'a> {
    /// The HTTP request, or `None` for a library call (`serve(path)`).
    pub request: Option<&'a crate::request::Request>,
    /// The key's bytes when the URL decoded to bytes that are not UTF-8 (the
    /// key shows each of them as U+FFFD). The HTTP loader fetches these
    /// bytes, percent-escaped, as imagor does.
    pub image_bytes: Option<&'a [u8]>,
    /// When this read must be done (the load timeout within the request's),
    /// or `None` without a limit. The core stops waiting on the returned
    /// future then; a loader that blocks before returning it (one that
    /// waits on another thread, such as a binding's JavaScript loader)
    /// should wait no longer.
    pub deadline: Option<std::time::Instant>,
}

impl<'a> LoadContext<'a> {
    /// The bytes `key` stands for: [`image_bytes`](Self::image_bytes) when
    /// `key` is the image key that shows them (invalid bytes as U+FFFD),
    /// else `key` itself (a storage key in the digest style, say). A loader
    /// that maps keys to names uses these, so `caf%E9.jpg` and
    /// `caf%E8.jpg` stay two images, as in imagor.
    pub fn key_bytes<'k>(&self, key: &'k str) -> &'k [u8]
    where
        'a: 'k,
    {
        match self.image_bytes {
            Some(raw) if crate::path::go::lossy_eq(raw, key) => raw,
            _ => key.as_bytes(),
        }
    }
}

/// A source of image bytes, keyed by the image part of an imagor path.
pub trait Loader: Send + Sync {
    /// The image of `key` (`gopher.png`, `https://example.com/a.jpg`).
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>>;

    /// Size and modification time of `key` without reading it, for
    /// imagor's modified-time check; `NotFound` when unsupported.
    fn stat<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Stat>> {
        Box::pin(std::future::ready(Err(Error::NOT_FOUND)))
    }

    /// A short name for logs and `-debug` (`file`, `http`, `upload`).
    fn name(&self) -> &'static str {
        "loader"
    }

    /// Where the bytes of `key` live, for loaders and storages of files
    /// and objects (a file's device and inode, an object's service, bucket
    /// and key): equal locations are the same bytes, so a source is never
    /// saved over, or deleted from, the place it was loaded from. `None`
    /// when unknown (a file that does not exist, another kind of loader).
    fn location(&self, _key: &str) -> Option<String> {
        None
    }
}

/// Any `Fn(&str) -> Result<Vec<u8>>` is a loader. It is called where the
/// future is polled, so it may block.
impl<F> Loader for F
where
    F: Fn(&str) -> Result<Vec<u8>> + Send + Sync,
{
    fn get<'a>(&'a self, _ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        let result = self(key).map(Blob::from);
        Box::pin(std::future::ready(result))
    }
}
