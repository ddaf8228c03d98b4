//! imagor's file loader: a [`FileStorage`] used read-only (imagor too
//! configures its file loader as a `filestorage.FileStorage`). Image keys
//! are normalised like storage keys, dot-segments (`/.`) are refused, and
//! the key must sit under the path prefix. Files are opened through
//! [`crate::safe_dir::SafeDir`], so no key (and no symbolic link inside the
//! base dir) reaches a file outside it. Besides [`Loader::get`] it answers
//! [`Loader::stat`], for imagor's modified-time check.

use std::path::PathBuf;

use super::{BoxFuture, LoadContext, Loader};
use crate::blob::{Blob, Stat};
use crate::error::Result;
use crate::storage::{FileStorage, FileStorageOptions};

/// Serves files under a base directory; never writes, never expires.
#[derive(Clone)]
pub struct FileLoader {
    storage: FileStorage,
}

impl std::fmt::Debug for FileLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileLoader")
            .field("base_dir", &self.storage.base_dir())
            .field("path_prefix", &self.storage.path_prefix())
            .finish()
    }
}

impl FileLoader {
    /// A loader rooted at `base_dir`; only keys under `path_prefix` (`""`
    /// for all) are served; `safe_chars` as imagor's `file-safe-chars`.
    pub fn new(base_dir: impl Into<PathBuf>, path_prefix: &str, safe_chars: &str) -> Self {
        let options = FileStorageOptions {
            path_prefix: path_prefix.to_owned(),
            safe_chars: safe_chars.to_owned(),
            ..FileStorageOptions::default()
        };
        FileLoader {
            storage: FileStorage::without_cleanup(base_dir, options),
        }
    }

    /// Files larger than `bytes` are not read (422 `limit_exceeded` naming
    /// `max_memory`); 0: no bound. Default 256 MiB, as
    /// [`crate::Options::max_memory`].
    pub fn with_max_memory(self, bytes: u64) -> Self {
        FileLoader {
            storage: self.storage.with_max_memory(bytes),
        }
    }

    /// The file a key maps to, or `None` when the key is refused
    /// (dot-segments such as `..`, or outside the prefix).
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        self.storage.path_of(key)
    }
}

impl Loader for FileLoader {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        self.storage.get(ctx, key)
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Stat>> {
        self.storage.stat(key)
    }

    fn name(&self) -> &'static str {
        "file"
    }

    fn location(&self, key: &str) -> Option<String> {
        self.storage.location(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_inside_the_base_dir() {
        let l = FileLoader::new("/data", "", "");
        assert_eq!(l.path_of("a/b.png"), Some(PathBuf::from("/data/a/b.png")));
        assert_eq!(l.path_of("../etc/passwd"), None);
        assert_eq!(l.path_of("a/../../etc/passwd"), None);
        assert_eq!(l.path_of(".env"), None);
        let p = FileLoader::new("/data", "/img/", "");
        assert_eq!(p.path_of("img/x.png"), Some(PathBuf::from("/data/x.png")));
        assert_eq!(p.path_of("other/x.png"), None);
    }
}
