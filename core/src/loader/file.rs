//! imagor's file loader: image keys are normalised like storage keys,
//! dot-segments (`/.`) are refused, and the key must sit under the path
//! prefix. Files are opened through [`SafeDir`], so no key (and no symbolic
//! link inside the base dir) reaches a file outside it.

use std::path::PathBuf;

use super::{BoxFuture, LoadContext, Loader};
use crate::blob::Blob;
use crate::error::{Error, Result};
use crate::path::{normalize, SafeChars};
use crate::safe_dir::{SafeDir, SafeDirError};

/// Serves files under a base directory.
#[derive(Clone)]
pub struct FileLoader {
    base_dir: PathBuf,
    path_prefix: String,
    safe_chars: SafeChars,
}

impl std::fmt::Debug for FileLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileLoader")
            .field("base_dir", &self.base_dir)
            .field("path_prefix", &self.path_prefix)
            .finish()
    }
}

impl FileLoader {
    /// A loader rooted at `base_dir`; only keys under `path_prefix` (`""`
    /// for all) are served; `safe_chars` as imagor's `file-safe-chars`.
    pub fn new(base_dir: impl Into<PathBuf>, path_prefix: &str, safe_chars: &str) -> Self {
        let mut prefix = "/".to_owned();
        let trimmed = path_prefix.trim_matches('/');
        if !trimmed.is_empty() {
            prefix.push_str(trimmed);
            prefix.push('/');
        }
        FileLoader {
            base_dir: base_dir.into(),
            path_prefix: prefix,
            safe_chars: SafeChars::new(safe_chars),
        }
    }

    /// The file a key maps to, or `None` when the key is refused
    /// (dot-segments such as `..`, or outside the prefix).
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        let image = format!("/{}", normalize(key, &self.safe_chars));
        if image.contains("/.") {
            return None;
        }
        let rest = image.strip_prefix(&self.path_prefix)?;
        Some(self.base_dir.join(rest))
    }
}

impl Loader for FileLoader {
    fn get<'a>(&'a self, _ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        Box::pin(std::future::ready(self.read(key).map(Blob::from)))
    }

    fn name(&self) -> &'static str {
        "file"
    }
}

impl FileLoader {
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path_of(key).ok_or_else(Error::invalid)?;
        let rel = path
            .strip_prefix(&self.base_dir)
            .map_err(|_| Error::invalid())?
            .to_str()
            .ok_or_else(Error::invalid)?;
        SafeDir::new(&self.base_dir)
            .read(rel, 0)
            .map_err(|e| match e {
                SafeDirError::NotFound | SafeDirError::Escapes => Error::NotFound,
                SafeDirError::TooLarge => Error::MaxSizeExceeded,
                SafeDirError::Io(e) => Error::Internal(format!("file loader: {e}")),
            })
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
