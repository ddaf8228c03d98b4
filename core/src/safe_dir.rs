//! [`SafeDir`]: file access confined to one directory, for the file loader
//! and the file storages.
//!
//! A relative key is resolved by the kernel beneath the directory
//! (`openat2(RESOLVE_BENEATH)` on Linux, a component-by-component walk
//! elsewhere, through `cap-std`): `..`, absolute paths and symbolic links
//! that lead outside are refused, whatever the key's encoding, and a
//! component swapped for a symlink between a check and the open cannot
//! redirect it. Links that stay inside the directory work.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// A directory whose files are reachable only by paths that stay inside it.
#[derive(Debug, Clone)]
pub struct SafeDir {
    root: PathBuf,
}

/// Why a key could not be read.
#[derive(Debug)]
pub enum SafeDirError {
    /// No such file, or not a regular file.
    NotFound,
    /// The key leads outside the directory (`..`, absolute, symlink).
    Escapes,
    /// The file is larger than the allowed size.
    TooLarge,
    /// Any other I/O failure.
    Io(io::Error),
}

impl SafeDir {
    /// Confine access to `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> SafeDir {
        SafeDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open_root(&self) -> Result<Dir, SafeDirError> {
        Dir::open_ambient_dir(&self.root, ambient_authority()).map_err(classify)
    }

    /// Read the regular file at `rel` (relative to the root), at most
    /// `max_bytes` bytes (0: no limit; larger files are [`SafeDirError::TooLarge`]).
    pub fn read(&self, rel: &str, max_bytes: u64) -> Result<Vec<u8>, SafeDirError> {
        let rel = relative(rel)?;
        let dir = self.open_root()?;
        let file = dir.open(rel).map_err(classify)?;
        let meta = file.metadata().map_err(classify)?;
        if !meta.is_file() {
            return Err(SafeDirError::NotFound);
        }
        if max_bytes > 0 && meta.len() > max_bytes {
            return Err(SafeDirError::TooLarge);
        }
        let mut out = Vec::with_capacity(meta.len().min(64 << 20) as usize);
        let limit = if max_bytes > 0 {
            max_bytes + 1
        } else {
            u64::MAX
        };
        file.into_std()
            .take(limit)
            .read_to_end(&mut out)
            .map_err(classify)?;
        if max_bytes > 0 && out.len() as u64 > max_bytes {
            return Err(SafeDirError::TooLarge);
        }
        Ok(out)
    }

    /// Metadata of the regular file at `rel`.
    pub fn metadata(&self, rel: &str) -> Result<std::fs::Metadata, SafeDirError> {
        let rel = relative(rel)?;
        let dir = self.open_root()?;
        let file = dir.open(rel).map_err(classify)?;
        let meta = file.into_std().metadata().map_err(classify)?;
        if !meta.is_file() {
            return Err(SafeDirError::NotFound);
        }
        Ok(meta)
    }
}

/// Keys are relative; a leading `/` is the root itself. An empty key (the
/// root) is not a file.
fn relative(rel: &str) -> Result<&str, SafeDirError> {
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        return Err(SafeDirError::NotFound);
    }
    if rel.contains('\0') {
        return Err(SafeDirError::Escapes);
    }
    Ok(rel)
}

fn classify(e: io::Error) -> SafeDirError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            SafeDirError::NotFound
        }
        // cap-std reports a path that leads outside as PermissionDenied;
        // ELOOP (too many links) and EXDEV (RESOLVE_BENEATH) likewise.
        io::ErrorKind::PermissionDenied => SafeDirError::Escapes,
        _ => match e.raw_os_error() {
            Some(40) | Some(18) => SafeDirError::Escapes,
            _ => SafeDirError::Io(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("imagor-safedir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn symlinks_cannot_leave_the_root() {
        let base = tempdir("base");
        let outside = tempdir("outside");
        std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
        std::fs::create_dir_all(base.join("img")).unwrap();
        std::fs::write(base.join("img/a.png"), b"inside").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, base.join(name)).unwrap();
        };
        link(&outside.join("secret.txt"), "file-link");
        link(&outside, "dir-link");
        link(Path::new("/etc"), "etc");
        link(Path::new("img/a.png"), "inside-link");
        std::os::unix::fs::symlink("dir-link", base.join("chain")).unwrap();
        let d = SafeDir::new(&base);
        assert_eq!(d.read("img/a.png", 0).unwrap(), b"inside");
        assert_eq!(d.read("/img/a.png", 0).unwrap(), b"inside");
        assert_eq!(d.read("inside-link", 0).unwrap(), b"inside");
        for key in [
            "file-link",
            "dir-link/secret.txt",
            "chain/secret.txt",
            "etc/passwd",
            "../outside/secret.txt",
            "img/../../outside/secret.txt",
        ] {
            assert!(
                matches!(d.read(key, 0), Err(SafeDirError::Escapes)),
                "{key}: {:?}",
                d.read(key, 0).map(|v| v.len())
            );
        }
        assert!(matches!(d.read("img", 0), Err(SafeDirError::NotFound)));
        assert!(matches!(
            d.read("missing.png", 0),
            Err(SafeDirError::NotFound)
        ));
        assert!(matches!(
            d.read("img/a.png", 3),
            Err(SafeDirError::TooLarge)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let _ = std::fs::remove_dir_all(&outside);
    }
}
