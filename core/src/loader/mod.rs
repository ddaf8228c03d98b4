//! Loaders: where source images come from, by image key.
//!
//! [`FileLoader`] serves a folder as imagor's file loader does. Anything else
//! (HTTP, object storage, a database) plugs in by implementing [`Loader`] and
//! passing it to [`crate::Imagor::with_loader`].

mod file;

pub use file::FileLoader;

use crate::error::Result;

/// A source of image bytes, keyed by the image part of an imagor path.
///
/// Return [`crate::Error::NotFound`] when the key is not yours to answer:
/// the next loader is tried.
pub trait Loader: Send + Sync {
    /// The bytes of `key` (`gopher.png`, `https://example.com/a.jpg`).
    fn load(&self, key: &str) -> Result<Vec<u8>>;
}

impl<F> Loader for F
where
    F: Fn(&str) -> Result<Vec<u8>> + Send + Sync,
{
    fn load(&self, key: &str) -> Result<Vec<u8>> {
        self(key)
    }
}
