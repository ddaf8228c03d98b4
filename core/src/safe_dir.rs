//! [`SafeDir`]: file access confined to one directory, for the file loader
//! and the file storages.
//!
//! A relative key is resolved by the kernel beneath the directory
//! (`openat2(RESOLVE_BENEATH)` on Linux, a component-by-component walk
//! elsewhere, through `cap-std`): `..`, absolute paths and symbolic links
//! that lead outside are refused, whatever the key's encoding, and a
//! component swapped for a symlink between a check and the open cannot
//! redirect it. Links that stay inside the directory work.
//!
//! Writes ([`SafeDir::write_atomic`]) go through the same confinement: the
//! directories are created and opened beneath the root, the bytes go to a
//! temporary file ([`TEMP_PREFIX`]) in the target's directory and are
//! renamed over the final name only once complete and synced, so a reader
//! sees the old file or the new one, never a part of one.

use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, OpenOptions};

/// The name prefix of the temporary files [`SafeDir::write_atomic`] writes
/// before renaming them into place. It starts with a dot, so imagor's
/// dot-file blacklist keeps these files unreachable by image keys, and
/// [`SafeDir::remove_stale_temps`] recognises the ones a crash left behind.
pub const TEMP_PREFIX: &str = ".imagor-tmp-";

/// Deepest directory nesting [`SafeDir::remove_stale_temps`] descends into,
/// and so the most directories [`SafeDir::write_atomic`] writes beneath (a
/// temporary file left deeper would never be removed).
const MAX_WALK_DEPTH: usize = 64;

/// The longest relative path and name [`SafeDir::write_atomic`] writes
/// (Linux's `PATH_MAX` and `NAME_MAX`, less one for the terminating NUL
/// where it counts).
const MAX_PATH_BYTES: usize = 4095;
const MAX_NAME_BYTES: usize = 255;

/// A directory whose files are reachable only by paths that stay inside it.
#[derive(Debug, Clone)]
pub struct SafeDir {
    root: PathBuf,
}

/// Why a key could not be read or written.
#[derive(Debug)]
pub enum SafeDirError {
    /// No such file, or not a regular file (also: a name too long to exist).
    NotFound,
    /// The key leads outside the directory (`..`, absolute, symlink), or
    /// a write would replace a symbolic link.
    Escapes,
    /// The file is larger than the allowed size.
    TooLarge,
    /// Any other I/O failure.
    Io(io::Error),
}

/// Permissions for [`SafeDir::write_atomic`] (the process umask applies,
/// as to any `open`/`mkdir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteModes {
    /// Mode of the directories created on the way (imagor's 0755).
    pub dir: u32,
    /// Mode of the file (imagor's 0666).
    pub file: u32,
}

impl Default for WriteModes {
    /// imagor's defaults: directories 0755, files 0666.
    fn default() -> Self {
        WriteModes {
            dir: 0o755,
            file: 0o666,
        }
    }
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

    /// Open the regular file at `rel` for reading, with its metadata (taken
    /// from the open file, so it describes the bytes that will be read).
    /// Anything but a regular file (a directory, a FIFO, a device) is
    /// [`SafeDirError::NotFound`]. It is checked before the open, so that
    /// a device is never opened, and again on the opened file, which is
    /// opened non-blocking: a FIFO swapped in between the two cannot block
    /// the caller either.
    ///
    /// A symbolic link whose absolute target lies inside the directory
    /// (`/srv/images/a.png` under the root `/srv/images`) is followed:
    /// when the key is refused as leading outside, the key's real
    /// path is worked out, and if it lies under the root's real path the
    /// file is opened by that path, again resolved beneath the root, so a
    /// link swapped in meanwhile still cannot lead out.
    pub fn open(&self, rel: &str) -> Result<(std::fs::File, std::fs::Metadata), SafeDirError> {
        let rel = relative(rel)?;
        let dir = self.open_root()?;
        match open_checked(&dir, rel) {
            Err(SafeDirError::Escapes) => {
                let real = self.real_path_inside(rel).ok_or(SafeDirError::Escapes)?;
                open_checked(&dir, &real)
            }
            other => other,
        }
    }

    /// `rel`'s path relative to the root once every link is followed, when
    /// it lies strictly beneath the root (`None` otherwise, or when either
    /// does not resolve). A key with a `..` component has none: the
    /// fallback is for link targets, and `../x/../root/a.png` must not
    /// reach a file by leaving the root (nor tell whether `../x` exists).
    fn real_path_inside(&self, rel: &str) -> Option<String> {
        if Path::new(rel)
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            return None;
        }
        let root = std::fs::canonicalize(&self.root).ok()?;
        let real = std::fs::canonicalize(self.root.join(rel)).ok()?;
        let inside = real.strip_prefix(&root).ok()?.to_str()?;
        (!inside.is_empty()).then(|| inside.to_owned())
    }

    /// Read the regular file at `rel` (relative to the root), at most
    /// `max_bytes` bytes (0: no limit; larger files are [`SafeDirError::TooLarge`]).
    pub fn read(&self, rel: &str, max_bytes: u64) -> Result<Vec<u8>, SafeDirError> {
        let (file, meta) = self.open(rel)?;
        read_open(file, &meta, max_bytes)
    }

    /// Metadata of the regular file at `rel`.
    pub fn metadata(&self, rel: &str) -> Result<std::fs::Metadata, SafeDirError> {
        self.open(rel).map(|(_, meta)| meta)
    }

    /// Store `data` at `rel`, atomically: create the missing directories
    /// (mode `modes.dir`), write a temporary file in the target directory
    /// (mode `modes.file`), sync it, and rename it over `rel`. On any
    /// failure the temporary file is removed and `rel` is untouched. The
    /// root itself is created when missing (it is the operator's path).
    ///
    /// Every step resolves beneath the root: a directory on the way that is
    /// a symbolic link out of it is [`SafeDirError::Escapes`], and so is a
    /// final name that is a symbolic link, wherever it points: the rename
    /// would replace the link rather than write through it, so it is
    /// refused. A directory at the final name is [`SafeDirError::NotFound`].
    ///
    /// A path no file could have (longer than `PATH_MAX`, a name longer
    /// than `NAME_MAX`), or nested deeper than the temporary files are
    /// looked for, is [`SafeDirError::NotFound`] before anything is
    /// created: a 5 KB key of 2 500 one-letter directories created 2 000
    /// of them (8 MB of directory blocks on ext4) before failing, and left
    /// them behind.
    pub fn write_atomic(
        &self,
        rel: &str,
        data: &[u8],
        modes: WriteModes,
    ) -> Result<(), SafeDirError> {
        let rel = relative(rel)?;
        let mut names = rel.split('/').filter(|n| !n.is_empty());
        if rel.len() > MAX_PATH_BYTES
            || names.clone().count() > MAX_WALK_DEPTH + 1
            || names.any(|n| n.len() > MAX_NAME_BYTES)
        {
            return Err(SafeDirError::NotFound);
        }
        let (parent, name) = split_parent(rel)?;
        let root = match self.open_root() {
            Err(SafeDirError::NotFound) => {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, modes.dir);
                b.create(&self.root).map_err(classify)?;
                self.open_root()?
            }
            other => other?,
        };
        let dir = match parent {
            Some(parent) => {
                create_dirs(&root, parent, modes.dir)?;
                root.open_dir(parent).map_err(classify)?
            }
            None => root,
        };
        match dir.symlink_metadata(name) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(SafeDirError::Escapes),
            Ok(meta) if meta.is_dir() => return Err(SafeDirError::NotFound),
            _ => {}
        }
        let (tmp_name, file) = create_temp(&dir, modes.file)?;
        let written = write_and_sync(file, data)
            .and_then(|()| dir.rename(&tmp_name, &dir, name))
            .map_err(classify);
        if let Err(e) = written {
            let _ = dir.remove_file(&tmp_name);
            return Err(e);
        }
        // Make the rename itself durable; best effort (not every
        // filesystem can sync a directory).
        if let Ok(d) = dir.try_clone() {
            let _ = d.into_std_file().sync_all();
        }
        Ok(())
    }

    /// Remove the file at `rel`. [`SafeDirError::NotFound`] when absent; a
    /// symbolic link at `rel` is removed itself, never its target.
    pub fn remove_file(&self, rel: &str) -> Result<(), SafeDirError> {
        let rel = relative(rel)?;
        self.open_root()?.remove_file(rel).map_err(classify)
    }

    /// Remove the temporary files ([`TEMP_PREFIX`]) that an interrupted
    /// [`SafeDir::write_atomic`] left anywhere under the root, if they were
    /// last modified at least `older_than` ago (a writer still at work
    /// keeps its file fresh). Symbolic links are not followed. Returns how
    /// many were removed; a missing root has none.
    pub fn remove_stale_temps(&self, older_than: Duration) -> Result<usize, SafeDirError> {
        let root = match self.open_root() {
            Err(SafeDirError::NotFound) => return Ok(0),
            other => other?,
        };
        let now = SystemTime::now();
        let mut removed = 0;
        let mut stack = vec![(root, 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            // The root must be listable; a subdirectory that is not is skipped.
            let entries = match dir.entries() {
                Ok(entries) => entries,
                Err(e) if depth == 0 => return Err(classify(e)),
                Err(_) => continue,
            };
            for entry in entries {
                let Ok(entry) = entry else {
                    continue;
                };
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    if depth < MAX_WALK_DEPTH {
                        if let Ok(sub) = entry.open_dir() {
                            stack.push((sub, depth + 1));
                        }
                    }
                    continue;
                }
                let name = entry.file_name();
                let is_temp = name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX));
                if !is_temp || !kind.is_file() {
                    continue;
                }
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|m| m.into_std())
                    .is_ok_and(|m| now.duration_since(m).unwrap_or_default() >= older_than);
                if old && dir.remove_file(&name).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Open the regular file `rel` beneath `dir`: checked to be one before the
/// open (a device is never opened) and again after.
fn open_checked(dir: &Dir, rel: &str) -> Result<(std::fs::File, std::fs::Metadata), SafeDirError> {
    if !dir.metadata(rel).map_err(classify)?.is_file() {
        return Err(SafeDirError::NotFound);
    }
    open_regular(dir, rel)
}

/// Open `rel` beneath `dir` for reading without blocking (a FIFO with no
/// writer, a device), and keep it only if it is a regular file, which is
/// then switched back to blocking reads.
fn open_regular(dir: &Dir, rel: &str) -> Result<(std::fs::File, std::fs::Metadata), SafeDirError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    cap_std::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = dir.open_with(rel, &options).map_err(classify)?.into_std();
    let meta = file.metadata().map_err(classify)?;
    if !meta.is_file() {
        return Err(SafeDirError::NotFound);
    }
    #[cfg(unix)]
    set_blocking(&file).map_err(classify)?;
    Ok((file, meta))
}

/// Clear `O_NONBLOCK` on an open file.
#[cfg(unix)]
fn set_blocking(file: &std::fs::File) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(file)?;
    fcntl_setfl(file, flags - OFlags::NONBLOCK)?;
    Ok(())
}

/// Read an opened regular file whole, at most `max_bytes` (0: no limit).
pub(crate) fn read_open(
    file: std::fs::File,
    meta: &std::fs::Metadata,
    max_bytes: u64,
) -> Result<Vec<u8>, SafeDirError> {
    if max_bytes > 0 && meta.len() > max_bytes {
        return Err(SafeDirError::TooLarge);
    }
    let mut out = Vec::with_capacity(meta.len().min(64 << 20) as usize);
    let limit = if max_bytes > 0 {
        max_bytes.saturating_add(1)
    } else {
        u64::MAX
    };
    file.take(limit).read_to_end(&mut out).map_err(classify)?;
    if max_bytes > 0 && out.len() as u64 > max_bytes {
        return Err(SafeDirError::TooLarge);
    }
    Ok(out)
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

/// `a/b/c.png` ⇒ (`Some("a/b")`, `"c.png"`). A last component that is not
/// a plain name (`..`, `.`) is refused.
fn split_parent(rel: &str) -> Result<(Option<&str>, &str), SafeDirError> {
    let rel = rel.trim_end_matches('/');
    let (parent, name) = match rel.rsplit_once('/') {
        Some((p, n)) => (Some(p.trim_end_matches('/')).filter(|p| !p.is_empty()), n),
        None => (None, rel),
    };
    match Path::new(name).components().next() {
        Some(Component::Normal(_)) if !name.is_empty() => Ok((parent, name)),
        _ => Err(SafeDirError::Escapes),
    }
}

/// Create every missing directory of `rel` beneath `root` with `mode`, one
/// component at a time, each resolved beneath `root` (so an existing
/// symbolic link out of it fails here or at the following step).
fn create_dirs(root: &Dir, rel: &str, mode: u32) -> Result<(), SafeDirError> {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    cap_std::fs::DirBuilderExt::mode(&mut builder, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut prefix = PathBuf::new();
    for component in Path::new(rel).components() {
        prefix.push(component);
        match root.create_dir_with(&prefix, &builder) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Ok(())
}

/// A new temporary file in `dir`, named [`TEMP_PREFIX`] + pid + counter,
/// created exclusively (never an existing file or link).
fn create_temp(dir: &Dir, mode: u32) -> Result<(String, std::fs::File), SafeDirError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    cap_std::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut last = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{TEMP_PREFIX}{}-{n}", std::process::id());
        match dir.open_with(&name, &options) {
            Ok(file) => return Ok((name, file.into_std())),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(classify(e)),
        }
    }
    Err(last.map_or(SafeDirError::NotFound, classify))
}

fn write_and_sync(mut file: std::fs::File, data: &[u8]) -> io::Result<()> {
    file.write_all(data)?;
    file.sync_all()
}

/// `ELOOP` (`io::ErrorKind::FilesystemLoop` is not stable yet).
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
const ELOOP: i32 = 62;
#[cfg(not(any(target_os = "macos", target_os = "ios", target_os = "freebsd")))]
const ELOOP: i32 = 40;

fn classify(e: io::Error) -> SafeDirError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            SafeDirError::NotFound
        }
        // cap-std reports a path that leads outside as PermissionDenied
        // without an OS error code; a real EACCES/EPERM carries one.
        io::ErrorKind::PermissionDenied if e.raw_os_error().is_some() => SafeDirError::Io(e),
        io::ErrorKind::PermissionDenied => SafeDirError::Escapes,
        // ELOOP (too many links) and EXDEV (RESOLVE_BENEATH) are escapes.
        io::ErrorKind::CrossesDevices => SafeDirError::Escapes,
        _ if e.raw_os_error() == Some(ELOOP) => SafeDirError::Escapes,
        // ENAMETOOLONG: no file can have that name.
        io::ErrorKind::InvalidFilename => SafeDirError::NotFound,
        _ => SafeDirError::Io(e),
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

    /// The largest limit reads the file (`max_bytes + 1` overflowed: a
    /// panic in debug builds, a limit of 0 bytes read in release builds).
    #[test]
    fn the_largest_limit_reads_the_whole_file() {
        let base = tempdir("largest");
        std::fs::write(base.join("a.png"), b"whole").unwrap();
        let d = SafeDir::new(&base);
        for max in [u64::MAX, u64::MAX - 1, 5] {
            assert_eq!(d.read("a.png", max).unwrap(), b"whole", "{max}");
        }
        assert!(matches!(d.read("a.png", 4), Err(SafeDirError::TooLarge)));
        let _ = std::fs::remove_dir_all(&base);
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
        link(&base.join("img/a.png"), "absolute-inside-link");
        link(&base.join("img"), "absolute-inside-dir");
        link(&base, "absolute-root");
        link(
            &base.join("img/../../outside/secret.txt"),
            "absolute-dotdot",
        );
        std::os::unix::fs::symlink("dir-link", base.join("chain")).unwrap();
        let d = SafeDir::new(&base);
        let outside_name = outside.file_name().unwrap().to_str().unwrap();
        let base_name = base.file_name().unwrap().to_str().unwrap();
        assert_eq!(d.read("img/a.png", 0).unwrap(), b"inside");
        assert_eq!(d.read("/img/a.png", 0).unwrap(), b"inside");
        assert_eq!(d.read("inside-link", 0).unwrap(), b"inside");
        // Absolute targets that stay inside are followed, as imagor does.
        assert_eq!(d.read("absolute-inside-link", 0).unwrap(), b"inside");
        assert_eq!(d.read("absolute-inside-dir/a.png", 0).unwrap(), b"inside");
        assert_eq!(d.read("absolute-root/img/a.png", 0).unwrap(), b"inside");
        assert!(matches!(
            d.read("absolute-root", 0),
            Err(SafeDirError::Escapes)
        ));
        for key in [
            "file-link",
            "dir-link/secret.txt",
            "chain/secret.txt",
            "etc/passwd",
            "absolute-dotdot",
            &format!("absolute-root/../{outside_name}/secret.txt"),
            // Out of the root and back in: refused, whether or not the
            // directory passed through exists.
            &format!("../{outside_name}/../{base_name}/img/a.png"),
            &format!("../no-such-dir/../{base_name}/img/a.png"),
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

    /// A FIFO swapped in after the check that the key is a regular file
    /// (the open itself is what must not block): refused at once.
    #[test]
    fn a_fifo_at_the_open_does_not_block() {
        let base = tempdir("fifo");
        let fifo = base.join("a.png");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let d = SafeDir::new(&base);
        let (tx, rx) = std::sync::mpsc::channel();
        let root = d.open_root().unwrap();
        std::thread::spawn(move || {
            let _ = tx.send(open_regular(&root, "a.png").map(|_| ()));
        });
        let got = rx.recv_timeout(Duration::from_secs(5));
        // Unblock a stuck open before failing, so the test process ends.
        if got.is_err() {
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
        }
        assert!(matches!(got, Ok(Err(SafeDirError::NotFound))), "{got:?}");
        assert!(matches!(d.read("a.png", 0), Err(SafeDirError::NotFound)));
        let _ = std::fs::remove_dir_all(&base);
    }
}
