//! imagor's file storage (`storage/filestorage`): one type serves as the
//! file loader, the file storage and the file result storage.
//!
//! Keys map to files exactly as in imagor (`FileStorage.Path`): the key is
//! normalised with [`normalize`] (so `a b.jpg` is stored as `a+b.jpg`),
//! prefixed with `/`; any path segment starting with a dot (`/.`: `..`,
//! `.`, dot-files) is refused as invalid, and so is a key outside the path
//! prefix; the rest, relative to the base dir, is the file.
//!
//! Deliberate differences from imagor, all for safety:
//!
//! * **Confinement.** Every read, write, directory creation and removal
//!   goes through [`SafeDir`]: nothing outside the base dir is read or
//!   written, whether by a key or by a symbolic link inside the base dir
//!   (imagor follows links). A link leading out reads as not found; a put
//!   through one, or onto a name that is itself a link, is refused as
//!   invalid. Links that stay inside work for reads.
//! * **Atomic writes.** imagor writes in place (`O_TRUNC`), so a reader can
//!   see a partial file. [`Storage::put`] writes a temporary file
//!   ([`TEMP_PREFIX`](crate::safe_dir::TEMP_PREFIX)) in the target's directory, syncs it and renames it
//!   over the final name: readers see the old file or the new one. A new
//!   file gets `write_permission` (umask applies, as in imagor), also when
//!   it replaces an older file (imagor would keep the old file's mode).
//! * **Stale temporary files** left by a crash are removed by
//!   [`FileStorage::new`] (those untouched for [`STALE_TEMP_AGE`], so a
//!   put still running in another instance on the same dir is not
//!   disturbed). Their dot-prefixed names can never be reached by a key.
//! * **Errors.** A directory, a FIFO or a name too long to exist reads as
//!   not found (imagor: a 500 carrying the OS error); an unreadable file
//!   too. Other I/O failures are [`Error::Internal`] naming the key, never
//!   the host path.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::blob::{Blob, Stat};
use crate::budget::Holding;
use crate::error::{Error, Result};
use crate::loader::{BoxFuture, LoadContext, Loader};
use crate::path::{normalize_bytes, SafeChars};
use crate::safe_dir::{read_open, SafeDir, SafeDirError, WriteModes};
use crate::storage::Storage;

/// Temporary files untouched for this long are stale: a writer that is
/// still at work keeps its file fresher than this.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

/// The options of a [`FileStorage`] (imagor's `-file-storage-*` and
/// `-file-result-storage-*` flags, `-file-safe-chars`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStorageOptions {
    /// Only keys under this prefix are served and stored (`""` or `"/"`
    /// for all; `x` and `/x/` both mean `/x/`); the prefix is not part of
    /// the file's path.
    pub path_prefix: String,
    /// Extra characters left unescaped by key normalisation; `"--"` for
    /// no escaping at all.
    pub safe_chars: String,
    /// Mode of the directories [`Storage::put`] creates (default `0o755`).
    pub mkdir_permission: u32,
    /// Mode of the files [`Storage::put`] writes (default `0o666`).
    pub write_permission: u32,
    /// [`Loader::get`] answers [`Error::Expired`] for a file last modified
    /// longer ago than this; `None` (or zero): never.
    pub expiration: Option<Duration>,
    /// A file is read whole into memory, so one larger than this is not
    /// read: 422 `limit_exceeded` naming `max_memory` (the
    /// [`crate::Options`] field [`crate::Imagor`] sets it from). 0: no
    /// bound. Default 256 MiB, as `max_memory`.
    pub max_memory: u64,
}

impl Default for FileStorageOptions {
    /// imagor's defaults: no prefix, default safe chars, 0755 / 0666, no
    /// expiration.
    fn default() -> Self {
        FileStorageOptions {
            path_prefix: String::new(),
            safe_chars: String::new(),
            mkdir_permission: 0o755,
            write_permission: 0o666,
            expiration: None,
            max_memory: crate::Options::default().max_memory,
        }
    }
}

/// Images kept as files under a base directory (imagor's `FileStorage`).
#[derive(Clone)]
pub struct FileStorage {
    dir: SafeDir,
    path_prefix: String,
    safe_chars: SafeChars,
    modes: WriteModes,
    expiration: Option<Duration>,
    max_memory: u64,
}

impl std::fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStorage")
            .field("base_dir", &self.dir.root())
            .field("path_prefix", &self.path_prefix)
            .field("modes", &self.modes)
            .field("expiration", &self.expiration)
            .field("max_memory", &self.max_memory)
            .finish()
    }
}

impl FileStorage {
    /// A storage rooted at `base_dir` (created on the first put when
    /// missing). Removes the stale temporary files an interrupted put left
    /// under it (see [`FileStorage::cleanup`]); a failure to do so is not
    /// an error here (call `cleanup` to see it). From then on a put past
    /// the process's file size limit fails (`EFBIG`) instead of killing
    /// the process with SIGXFSZ.
    pub fn new(base_dir: impl Into<PathBuf>, options: FileStorageOptions) -> FileStorage {
        crate::net_runtime::survive_file_size_limit();
        let storage = FileStorage::without_cleanup(base_dir, options);
        let _ = storage.cleanup(STALE_TEMP_AGE);
        storage
    }

    /// A storage that touches nothing when created: the file loader, which
    /// never writes.
    pub(crate) fn without_cleanup(
        base_dir: impl Into<PathBuf>,
        options: FileStorageOptions,
    ) -> FileStorage {
        let mut prefix = "/".to_owned();
        let trimmed = options.path_prefix.trim_matches('/');
        if !trimmed.is_empty() {
            prefix.push_str(trimmed);
            prefix.push('/');
        }
        FileStorage {
            dir: SafeDir::new(base_dir),
            path_prefix: prefix,
            safe_chars: SafeChars::new(&options.safe_chars),
            modes: WriteModes {
                dir: options.mkdir_permission,
                file: options.write_permission,
            },
            expiration: options.expiration.filter(|d| !d.is_zero()),
            max_memory: options.max_memory,
        }
    }

    /// The same storage reading no file larger than `bytes` (0: no
    /// bound); see [`FileStorageOptions::max_memory`].
    pub(crate) fn with_max_memory(mut self, bytes: u64) -> FileStorage {
        self.max_memory = bytes;
        self
    }

    /// The base directory.
    pub fn base_dir(&self) -> &Path {
        self.dir.root()
    }

    /// The path prefix in imagor's form (`/` or `/x/`).
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    /// The file a key maps to, or `None` when the key is refused
    /// (dot-segments such as `..`, dot-files, or outside the prefix).
    /// Symbolic links are checked only when the file is accessed.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        self.relative(key.as_bytes())
            .ok()
            .map(|rel| self.dir.root().join(rel))
    }

    /// imagor's `FileStorage.Path`, relative to the base dir, of a key's
    /// bytes (UTF-8 or not: [`normalize_bytes`]).
    fn relative(&self, key: &[u8]) -> Result<String> {
        let image = format!("/{}", normalize_bytes(key, &self.safe_chars));
        if image.contains("/.") {
            return Err(Error::invalid());
        }
        image
            .strip_prefix(&self.path_prefix)
            .map(str::to_owned)
            .ok_or_else(Error::invalid)
    }

    /// Remove the temporary files ([`TEMP_PREFIX`](crate::safe_dir::TEMP_PREFIX)) under the base dir that
    /// were last modified at least `older_than` ago; returns how many.
    /// [`FileStorage::new`] does this with [`STALE_TEMP_AGE`]. It walks the
    /// whole tree (without following links), so it takes time on a large
    /// one.
    pub fn cleanup(&self, older_than: Duration) -> Result<usize> {
        self.dir
            .remove_stale_temps(older_than)
            .map_err(|e| match e {
                SafeDirError::Io(e) => Error::Internal(format!("file storage: cleanup: {e}")),
                _ => Error::Internal("file storage: cleanup: base dir not accessible".into()),
            })
    }

    /// Read `key`, whose bytes are `raw` ([`LoadContext::key_bytes`]);
    /// `expire`: apply the expiration.
    fn read(&self, key: &str, raw: &[u8], expire: bool) -> Result<Blob> {
        let rel = self.relative(raw)?;
        let (file, meta) = self
            .dir
            .open(&rel)
            .map_err(|e| read_error("get", key, &rel, e))?;
        let modified = meta.modified().ok();
        if let (true, Some(exp), Some(m)) = (expire, self.expiration, modified) {
            if SystemTime::now()
                .duration_since(m)
                .is_ok_and(|age| age > exp)
            {
                return Err(Error::Expired);
            }
        }
        // Counted against `max_total_memory` before a byte is read (a
        // file past `max_memory` is refused on its size just below).
        let holding = Holding::for_this_call("the image file");
        if self.max_memory == 0 || meta.len() <= self.max_memory {
            holding.grow_to(meta.len())?;
        }
        let data = read_open(file, &meta, self.max_memory).map_err(|e| match e {
            SafeDirError::TooLarge => self.too_large(),
            e => read_error("get", key, &rel, e),
        })?;
        let stat = Stat {
            size: data.len() as u64,
            modified,
            etag: None,
        };
        Ok(Blob::new(holding.into_bytes(data)?).with_stat(stat))
    }

    /// A file past `max_memory` (checked on its size, and again while
    /// reading, as a file may grow).
    fn too_large(&self) -> Error {
        Error::limit(
            "max_memory",
            format!(
                "the image file is larger than max_memory ({})",
                crate::budget::format_bytes(self.max_memory)
            ),
        )
    }

    /// Size and modification time of `key` (no expiration).
    fn stat_of(&self, key: &str) -> Result<Stat> {
        let rel = self.relative(key.as_bytes())?;
        let meta = self
            .dir
            .metadata(&rel)
            .map_err(|e| read_error("stat", key, &rel, e))?;
        Ok(Stat {
            size: meta.len(),
            modified: meta.modified().ok(),
            etag: None,
        })
    }

    fn write(&self, key: &str, blob: &Blob) -> Result<()> {
        let rel = self.relative(key.as_bytes())?;
        self.dir
            .write_atomic(&rel, &blob.data, self.modes)
            .map_err(|e| match e {
                SafeDirError::Io(e) => internal("put", key, &e),
                _ => Error::invalid(),
            })
    }

    fn remove(&self, key: &str) -> Result<()> {
        let rel = self.relative(key.as_bytes())?;
        match self.dir.remove_file(&rel) {
            Ok(()) | Err(SafeDirError::NotFound) => Ok(()),
            Err(SafeDirError::Io(e)) => Err(internal("delete", key, &e)),
            Err(_) => Err(Error::invalid()),
        }
    }
}

/// Reads: anything that is not a readable regular file inside the base dir
/// is not found, naming the key as normalised (`rel`, relative to the base
/// dir: never a host path).
fn read_error(op: &str, key: &str, rel: &str, e: SafeDirError) -> Error {
    match e {
        // Out of file descriptors (EMFILE, ENFILE): an overload that
        // passes, answered as one (429) rather than as a fault.
        SafeDirError::Io(e) if matches!(e.raw_os_error(), Some(23 | 24)) => Error::TooManyRequests,
        SafeDirError::Io(e) if e.kind() != std::io::ErrorKind::PermissionDenied => {
            internal(op, key, &e)
        }
        SafeDirError::TooLarge => Error::MaxSizeExceeded,
        _ => Error::not_found(rel),
    }
}

/// The OS error text never holds a path; the key is the client's own.
fn internal(op: &str, key: &str, e: &std::io::Error) -> Error {
    Error::Internal(format!("file storage: {op} {key:?}: {e}"))
}

impl Loader for FileStorage {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        Box::pin(std::future::ready(self.read(key, ctx.key_bytes(key), true)))
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Stat>> {
        Box::pin(std::future::ready(self.stat_of(key)))
    }

    fn name(&self) -> &'static str {
        "file"
    }

    /// The device and inode of the file `key` maps to (links followed).
    fn location(&self, key: &str) -> Option<String> {
        let meta = std::fs::metadata(self.path_of(key)?).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(format!("file {}:{}", meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            std::fs::canonicalize(self.path_of(key)?)
                .ok()
                .map(|p| format!("file {}", p.display()))
        }
    }
}

impl Storage for FileStorage {
    fn put<'a>(&'a self, key: &'a str, blob: &'a Blob) -> BoxFuture<'a, Result<()>> {
        Box::pin(std::future::ready(self.write(key, blob)))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(std::future::ready(self.remove(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safe_dir::TEMP_PREFIX;

    #[test]
    fn keys_map_as_imagor() {
        let s = FileStorage::without_cleanup("/data", FileStorageOptions::default());
        assert_eq!(s.path_of("a b.jpg"), Some(PathBuf::from("/data/a+b.jpg")));
        assert_eq!(
            s.path_of("/a//b/../c.png"),
            Some(PathBuf::from("/data/a/c.png"))
        );
        assert_eq!(s.path_of(""), None);
        assert_eq!(s.path_of("a/.hidden"), None);
        assert_eq!(s.path_of(&format!("a/{TEMP_PREFIX}1-1")), None);
        let opts = FileStorageOptions {
            path_prefix: "x".into(),
            ..FileStorageOptions::default()
        };
        let p = FileStorage::without_cleanup("/data", opts);
        assert_eq!(p.path_prefix(), "/x/");
        assert_eq!(p.path_of("x/a.png"), Some(PathBuf::from("/data/a.png")));
        assert_eq!(p.path_of("xa.png"), None);
        assert_eq!(p.path_of("x"), None);
    }

    /// Out of file descriptors is an overload (429), not a fault (it was a
    /// 500 `Too many open files`); other I/O errors stay 500s.
    #[test]
    fn running_out_of_file_descriptors_is_an_overload() {
        let io = |code| SafeDirError::Io(std::io::Error::from_raw_os_error(code));
        for code in [23, 24] {
            assert_eq!(read_error("get", "a.jpg", "a.jpg", io(code)).status(), 429);
        }
        let eio = read_error("get", "a.jpg", "a.jpg", io(5));
        assert_eq!(eio.status(), 500, "{eio}");
    }
}
