//! Storages and result storages (imagor's `Storage`): loaders that can also
//! keep what they are given. A storage holds source images (saved after a
//! loader fetched them), a result storage processed results, keyed by the
//! path styles of [`crate::hasher`].

mod file;
// Object storage (S3, GCS) on the `object_store` crate.
pub(crate) mod cloud;
mod gcs;
pub(crate) mod object;
mod s3;

pub use file::{FileStorage, FileStorageOptions, STALE_TEMP_AGE};
pub use gcs::{GcsOptions, GcsStorage};
pub use object::OP_TIMEOUT;
pub use s3::{S3Options, S3Storage};

use crate::blob::Blob;
use crate::error::Result;
use crate::loader::{BoxFuture, LoadContext, Loader};

/// A place to keep images by key. Reads go through [`Loader::get`] and
/// [`Loader::stat`].
pub trait Storage: Loader {
    /// Store `blob` under `key`. Never leaves a partial object visible:
    /// readers see the old object, or none, until the new one is complete.
    fn put<'a>(&'a self, key: &'a str, blob: &'a Blob) -> BoxFuture<'a, Result<()>>;

    /// Remove `key` (absent is fine).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Read the result `key` of the source image `image`, as a result
    /// storage. A storage whose place depends on the source (imagor's `*`
    /// bucket: the source's first path segment) overrides this; the
    /// default is [`Loader::get`].
    fn get_result<'a>(
        &'a self,
        ctx: LoadContext<'a>,
        key: &'a str,
        _image: &'a str,
    ) -> BoxFuture<'a, Result<Blob>> {
        self.get(ctx, key)
    }

    /// Store the result `key` of the source image `image` (see
    /// [`Storage::get_result`]); the default is [`Storage::put`].
    fn put_result<'a>(
        &'a self,
        key: &'a str,
        _image: &'a str,
        blob: &'a Blob,
    ) -> BoxFuture<'a, Result<()>> {
        self.put(key, blob)
    }

    /// Where [`Storage::put_result`] would keep the result `key` of the
    /// source `image` ([`Loader::location`]'s form, so that it compares
    /// with a loader's); the default is [`Loader::location`] of `key`.
    fn result_location(&self, key: &str, _image: &str) -> Option<String> {
        self.location(key)
    }

    /// Remove the result `key` of `image`; the default is
    /// [`Storage::delete`].
    fn delete_result<'a>(&'a self, key: &'a str, _image: &'a str) -> BoxFuture<'a, Result<()>> {
        self.delete(key)
    }
}
