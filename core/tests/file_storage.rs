//! The file storage (also the file loader and the file result storage):
//! imagor's key mapping; no key and no symbolic link reaches outside the
//! base dir, for reads, writes, deletes and stats (SECURITY-NOTES
//! Appendix B, rows 14 and 15); writes are atomic and crash leftovers are
//! cleaned up (row 16); permissions and expiration as imagor.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use imagor::loader::{FileLoader, LoadContext, Loader};
use imagor::safe_dir::TEMP_PREFIX;
use imagor::storage::{FileStorage, FileStorageOptions, Storage};
use imagor::{Blob, Error};

const SECRET: &[u8] = b"outside secret";

/// A base dir and a directory beside it (named like a sibling of the base
/// dir, as `../images-sibling/secret` in Appendix B) holding `secret`.
struct Fixture {
    base: PathBuf,
    outside: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
        let _ = fs::remove_dir_all(&self.outside);
    }
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let root = std::env::temp_dir();
        let base = root.join(format!("imagor-fs-{name}-{}", std::process::id()));
        let outside = root.join(format!("imagor-fs-{name}-{}-sibling", std::process::id()));
        for d in [&base, &outside] {
            let _ = fs::remove_dir_all(d);
            fs::create_dir_all(d).expect("temp dir");
        }
        fs::write(outside.join("secret"), SECRET).expect("secret");
        fs::create_dir_all(outside.join("etc")).expect("outside/etc");
        fs::write(outside.join("etc/passwd"), SECRET).expect("outside passwd");
        Fixture { base, outside }
    }

    fn outside_name(&self) -> String {
        self.outside
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn storage(&self, options: FileStorageOptions) -> FileStorage {
        FileStorage::new(&self.base, options)
    }

    /// Every file under `outside`, with its bytes.
    fn outside_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(&self.outside, &mut out);
        out.sort();
        out
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(_) => out.push((path.clone(), fs::read(&path).unwrap_or_default())),
            Err(_) => {}
        }
    }
}

fn get(s: &impl Loader, key: &str) -> Result<Blob, Error> {
    pollster::block_on(s.get(LoadContext::default(), key))
}

fn put(s: &FileStorage, key: &str, data: &[u8]) -> Result<(), Error> {
    pollster::block_on(s.put(key, &Blob::new(data.to_vec())))
}

fn delete(s: &FileStorage, key: &str) -> Result<(), Error> {
    pollster::block_on(s.delete(key))
}

fn stat(s: &impl Loader, key: &str) -> Result<imagor::Stat, Error> {
    pollster::block_on(s.stat(key))
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(dir, &mut all);
    all.into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX))
        })
        .collect()
}

fn set_mtime(path: &Path, ago: Duration) {
    let file = fs::File::options().write(true).open(path).expect("open");
    file.set_modified(SystemTime::now() - ago)
        .expect("set mtime");
}

#[test]
fn keys_map_as_imagor() {
    let f = Fixture::new("keys");
    let s = f.storage(FileStorageOptions::default());
    assert_eq!(s.path_of("a b.jpg"), Some(f.base.join("a+b.jpg")));
    assert_eq!(s.path_of("(1).jpg"), Some(f.base.join("%281%29.jpg")));
    assert_eq!(s.path_of("/x//y/../z.png"), Some(f.base.join("x/z.png")));
    put(&s, "dir/a b.jpg", b"spaced").expect("put");
    assert_eq!(
        fs::read(f.base.join("dir/a+b.jpg")).expect("stored escaped"),
        b"spaced"
    );
    assert_eq!(get(&s, "dir/a b.jpg").expect("get").data, &b"spaced"[..]);
    for dot in [".env", "a/.hidden.jpg", ".", "", "a/../../x"] {
        assert_eq!(s.path_of(dot), None, "{dot}");
        assert_eq!(get(&s, dot), Err(Error::invalid()), "{dot}");
        assert_eq!(put(&s, dot, b"x"), Err(Error::invalid()), "{dot}");
        assert_eq!(delete(&s, dot), Err(Error::invalid()), "{dot}");
        assert_eq!(stat(&s, dot), Err(Error::invalid()), "{dot}");
    }

    let p = f.storage(FileStorageOptions {
        path_prefix: "/img/".into(),
        ..FileStorageOptions::default()
    });
    assert_eq!(p.path_prefix(), "/img/");
    put(&p, "img/x.png", b"prefixed").expect("put under prefix");
    assert_eq!(fs::read(f.base.join("x.png")).expect("file"), b"prefixed");
    assert_eq!(get(&p, "img/x.png").expect("get").data, &b"prefixed"[..]);
    assert_eq!(get(&p, "x.png"), Err(Error::invalid()));
    assert_eq!(put(&p, "other/x.png", b"x"), Err(Error::invalid()));
    assert_eq!(get(&p, "imgx.png"), Err(Error::invalid()));

    let noop = f.storage(FileStorageOptions {
        safe_chars: "--".into(),
        ..FileStorageOptions::default()
    });
    assert_eq!(noop.path_of("a b.jpg"), Some(f.base.join("a b.jpg")));
}

#[test]
fn traversal_keys_never_reach_outside() {
    let f = Fixture::new("traversal");
    fs::create_dir_all(f.base.join("img")).expect("img");
    fs::write(f.base.join("img/a.png"), b"inside").expect("inside");
    let host_passwd = fs::read("/etc/passwd").unwrap_or_default();
    let s = f.storage(FileStorageOptions::default());
    let sibling = f.outside_name();
    let keys = [
        "../../etc/passwd".to_owned(),
        "..%2f..%2fetc/passwd".to_owned(),
        "%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "%252e%252e/%252e%252e/etc/passwd".to_owned(),
        "....//....//etc/passwd".to_owned(),
        "../%2e%2e/etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        "//etc/passwd".to_owned(),
        "..\\..\\etc\\passwd".to_owned(),
        "%5c..%5c..%5cetc/passwd".to_owned(),
        "img.jpg%00.png".to_owned(),
        "img.jpg\0.png".to_owned(),
        "%c0%ae%c0%ae/etc/passwd".to_owned(),
        format!("../{sibling}/secret"),
        format!("img/../../{sibling}/secret"),
        ".git/config".to_owned(),
        ".env".to_owned(),
        "a/./././b".to_owned(),
        "x".repeat(5000),
        format!("{}/y", "d".repeat(300)),
    ];
    let before = f.outside_files();
    let foreign = |data: &[u8]| data == SECRET || (!host_passwd.is_empty() && data == host_passwd);
    let refused = |e: &Error| [400, 404].contains(&e.status());
    let short = |key: &str| key.chars().take(40).collect::<String>();
    // Reads first, while nothing has been stored under these keys.
    for key in &keys {
        let short = short(key);
        match get(&s, key) {
            Ok(b) => panic!("{short}: read {} bytes", b.data.len()),
            Err(e) => assert!(refused(&e), "{short}: get {e}"),
        }
        match stat(&s, key) {
            Ok(st) => panic!("{short}: stat {st:?}"),
            Err(e) => assert!(refused(&e), "{short}: stat {e}"),
        }
    }
    for key in &keys {
        let short = short(key);
        let payload = format!("written by {short}");
        match put(&s, key, payload.as_bytes()) {
            // Stored, then inside the base dir, and read back as stored.
            Ok(()) => {
                let path = s.path_of(key).expect("a stored key maps to a path");
                assert!(path.starts_with(&f.base), "{short}");
                assert_eq!(fs::read(&path).expect("stored"), payload.as_bytes());
                let b = get(&s, key).expect("read back");
                assert!(!foreign(&b.data), "{short}");
                assert_eq!(b.data, payload.as_bytes(), "{short}");
            }
            Err(e) => assert!(refused(&e), "{short}: put {e}"),
        }
        assert_eq!(f.outside_files(), before, "{short}: outside changed");
    }
    for key in &keys {
        let short = short(key);
        match delete(&s, key) {
            Ok(()) => {}
            Err(e) => assert!(refused(&e), "{short}: delete {e}"),
        }
        assert_eq!(f.outside_files(), before, "{short}: outside changed");
    }
    assert_eq!(fs::read(f.base.join("img/a.png")).expect("kept"), b"inside");
    // Refused puts (a name too long for the final rename) leave nothing.
    assert!(temp_files(&f.base).is_empty(), "temp files left");
}

#[test]
fn symlinks_out_of_the_base_dir_are_refused() {
    let f = Fixture::new("symlinks");
    fs::create_dir_all(f.base.join("img")).expect("img");
    fs::write(f.base.join("img/a.png"), b"inside").expect("inside");
    let link = |target: &Path, name: &str| symlink(target, f.base.join(name)).expect("symlink");
    link(&f.outside.join("secret"), "file-link");
    link(&f.outside, "dir-link");
    link(Path::new("dir-link"), "chain");
    link(Path::new("/etc"), "etc");
    link(Path::new("img/a.png"), "inside-link");
    link(Path::new("img"), "inside-dir");
    let s = f.storage(FileStorageOptions::default());
    let before = f.outside_files();

    assert_eq!(
        get(&s, "inside-link").expect("inside link").data,
        &b"inside"[..]
    );
    assert_eq!(
        get(&s, "inside-dir/a.png").expect("inside dir").data,
        &b"inside"[..]
    );
    for key in ["file-link", "dir-link/secret", "chain/secret", "etc/passwd"] {
        assert_eq!(get(&s, key), Err(Error::not_found(key)), "get {key}");
        assert_eq!(stat(&s, key), Err(Error::not_found(key)), "stat {key}");
    }
    for key in [
        "file-link",
        "dir-link/secret",
        "dir-link/new.png",
        "dir-link/sub/new.png",
        "chain/new.png",
        "chain/sub/deeper/new.png",
        "etc/new.png",
        "inside-link",
    ] {
        assert_eq!(
            put(&s, key, b"overwrite"),
            Err(Error::invalid()),
            "put {key}"
        );
        assert_eq!(f.outside_files(), before, "put {key} wrote outside");
    }
    assert!(temp_files(&f.base).is_empty());
    assert!(fs::symlink_metadata(f.base.join("file-link"))
        .expect("link kept")
        .file_type()
        .is_symlink());
    for key in ["dir-link/secret", "chain/secret", "dir-link/etc/passwd"] {
        assert_eq!(delete(&s, key), Err(Error::invalid()), "delete {key}");
    }
    // Deleting a link removes the link, never its target.
    delete(&s, "file-link").expect("delete link");
    assert!(fs::symlink_metadata(f.base.join("file-link")).is_err());
    assert_eq!(f.outside_files(), before);
}

#[test]
fn a_component_swapped_for_a_link_never_escapes() {
    let f = Fixture::new("swap");
    fs::write(f.outside.join("x.png"), SECRET).expect("outside x");
    let s = f.storage(FileStorageOptions::default());
    let flip = f.base.join("flip");
    let before = f.outside_files();
    let done = AtomicBool::new(false);
    let (reads, writes) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..3000 {
                match fs::symlink_metadata(&flip) {
                    Ok(m) if m.file_type().is_symlink() => {
                        let _ = fs::remove_file(&flip);
                        if fs::create_dir(&flip).is_ok() {
                            let _ = fs::write(flip.join("x.png"), b"inside");
                        }
                    }
                    Ok(_) => {
                        let _ = fs::remove_dir_all(&flip);
                        let _ = symlink(&f.outside, &flip);
                    }
                    Err(_) => {
                        let _ = symlink(&f.outside, &flip);
                    }
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                match get(&s, "flip/x.png") {
                    Ok(b) => {
                        // The flipper's own write is not atomic: empty is
                        // fine, the outside file never is.
                        assert!(
                            b.data == b"inside"[..] || b.data.is_empty(),
                            "read through the link"
                        );
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => assert!(matches!(e, Error::NotFound(_)), "{e}"),
                }
            }
        });
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if put(&s, "flip/sub/y.png", b"written").is_ok() {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    });
    assert_eq!(f.outside_files(), before, "something was written outside");
    eprintln!(
        "swap race: {} inside reads, {} inside writes",
        reads.load(Ordering::Relaxed),
        writes.load(Ordering::Relaxed)
    );
}

#[test]
fn put_get_stat_delete_round_trip() {
    let f = Fixture::new("roundtrip");
    let s = f.storage(FileStorageOptions::default());
    assert_eq!(get(&s, "a/b/c.jpg"), Err(Error::not_found("a/b/c.jpg")));
    assert_eq!(stat(&s, "a/b/c.jpg"), Err(Error::not_found("a/b/c.jpg")));
    put(&s, "a/b/c.jpg", b"first").expect("put");
    put(&s, "a/b/c.jpg", b"second, longer").expect("overwrite");
    let blob = get(&s, "a/b/c.jpg").expect("get");
    assert_eq!(blob.data, &b"second, longer"[..]);
    let st = blob.stat.expect("blob stat");
    assert_eq!(st.size, 14);
    assert!(st.modified.is_some());
    assert_eq!(st.etag, None);
    let st2 = stat(&s, "a/b/c.jpg").expect("stat");
    assert_eq!((st2.size, st2.modified), (14, st.modified));
    assert!(temp_files(&f.base).is_empty());
    // A directory is not an image.
    assert_eq!(get(&s, "a/b"), Err(Error::not_found("a/b")));
    assert_eq!(put(&s, "a/b", b"x"), Err(Error::invalid()));
    assert!(temp_files(&f.base).is_empty());
    delete(&s, "a/b/c.jpg").expect("delete");
    assert_eq!(get(&s, "a/b/c.jpg"), Err(Error::not_found("a/b/c.jpg")));
    delete(&s, "a/b/c.jpg").expect("absent is fine");
    assert_eq!(s.name(), "file");

    // The file loader is the same storage, read-only.
    let l = FileLoader::new(&f.base, "", "");
    put(&s, "l.png", b"loaded").expect("put");
    assert_eq!(get(&l, "l.png").expect("loader get").data, &b"loaded"[..]);
    assert_eq!(stat(&l, "l.png").expect("loader stat").size, 6);
    assert_eq!(l.path_of("l.png"), Some(f.base.join("l.png")));
}

/// A key no file could have, or nested deeper than the startup cleanup
/// looks, is refused before a directory is created: 2 500 nested
/// one-letter directories left 2 000 of them (8 MB on ext4) behind a
/// write that then failed.
#[test]
fn keys_too_deep_or_too_long_create_nothing() {
    let f = Fixture::new("deep");
    let s = f.storage(FileStorageOptions::default());
    let deep = |n: usize| format!("{}a.png", "d/".repeat(n));
    put(&s, &deep(64), b"ok").expect("64 directories deep");
    fs::remove_dir_all(f.base.join("d")).expect("clean");
    for key in [
        deep(65),
        deep(2500),
        format!("{}.png", "n".repeat(256)),
        format!("d/{}/a.png", "n".repeat(300)),
    ] {
        assert_eq!(put(&s, &key, b"x"), Err(Error::invalid()), "{}", key.len());
        let left: Vec<_> = fs::read_dir(&f.base).expect("base").flatten().collect();
        assert!(left.is_empty(), "{} bytes: left {left:?}", key.len());
    }
}

#[test]
fn put_creates_a_missing_base_dir() {
    let f = Fixture::new("missing");
    let base = f.base.join("not/yet");
    let s = FileStorage::new(&base, FileStorageOptions::default());
    assert_eq!(get(&s, "a.png"), Err(Error::not_found("a.png")));
    put(&s, "a.png", b"x").expect("put");
    assert_eq!(fs::read(base.join("a.png")).expect("written"), b"x");
}

#[test]
fn permissions_as_configured() {
    let f = Fixture::new("perm");
    // SAFETY: umask only changes the mode of files created from now on.
    let old = unsafe { libc::umask(0) };
    let s = f.storage(FileStorageOptions {
        mkdir_permission: 0o750,
        write_permission: 0o640,
        ..FileStorageOptions::default()
    });
    let written = put(&s, "p/q/r.jpg", b"x");
    // SAFETY: as above.
    unsafe { libc::umask(0o022) };
    let d = f.storage(FileStorageOptions::default());
    let defaults = put(&d, "u/v.jpg", b"x");
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    written.expect("put");
    defaults.expect("put");
    let mode = |p: &str| {
        fs::metadata(f.base.join(p))
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("p"), 0o750);
    assert_eq!(mode("p/q"), 0o750);
    assert_eq!(mode("p/q/r.jpg"), 0o640);
    // imagor's defaults 0755 / 0666 under a 022 umask.
    assert_eq!(mode("u"), 0o755);
    assert_eq!(mode("u/v.jpg"), 0o644);
}

#[test]
fn expiration_by_modification_time() {
    let f = Fixture::new("expire");
    let s = f.storage(FileStorageOptions {
        expiration: Some(Duration::from_secs(3600)),
        ..FileStorageOptions::default()
    });
    put(&s, "e.jpg", b"fresh").expect("put");
    assert!(get(&s, "e.jpg").is_ok());
    set_mtime(&f.base.join("e.jpg"), Duration::from_secs(7200));
    let e = get(&s, "e.jpg").expect_err("expired");
    assert_eq!((e.clone(), e.status()), (Error::Expired, 410));
    // stat ignores expiration; no expiration (or zero) serves it.
    assert_eq!(stat(&s, "e.jpg").expect("stat").size, 5);
    for expiration in [None, Some(Duration::ZERO)] {
        let n = f.storage(FileStorageOptions {
            expiration,
            ..FileStorageOptions::default()
        });
        assert!(get(&n, "e.jpg").is_ok());
    }
    // A modification time in the future is not expired (as imagor).
    let file = fs::File::options()
        .write(true)
        .open(f.base.join("e.jpg"))
        .expect("open");
    file.set_modified(SystemTime::now() + Duration::from_secs(7200))
        .expect("mtime");
    assert!(get(&s, "e.jpg").is_ok());
}

#[test]
fn readers_never_see_a_torn_write() {
    let f = Fixture::new("atomic");
    let s = f.storage(FileStorageOptions::default());
    let size = 8 << 20;
    let a: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = (0..size).map(|i| 255 - (i % 241) as u8).collect();
    put(&s, "big/x.bin", &a).expect("first put");
    let done = AtomicBool::new(false);
    let (reads, seen_b) = (AtomicUsize::new(0), AtomicBool::new(false));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..24 {
                let data = if i % 2 == 0 { &b } else { &a };
                put(&s, "big/x.bin", data).expect("put");
            }
            done.store(true, Ordering::SeqCst);
        });
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let got = get(&s, "big/x.bin").expect("always readable");
                let is_a = got.data == a[..];
                let is_b = got.data == b[..];
                assert!(is_a || is_b, "torn read of {} bytes", got.data.len());
                if is_b {
                    seen_b.store(true, Ordering::Relaxed);
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        });
    });
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(get(&s, "big/x.bin").expect("final").data, a[..]);
    assert!(temp_files(&f.base).is_empty(), "temp files left");
}

#[test]
fn stale_temp_files_are_removed_at_startup() {
    let f = Fixture::new("stale");
    fs::create_dir_all(f.base.join("sub/deeper")).expect("dirs");
    let stale = [
        f.base.join(format!("{TEMP_PREFIX}999-1")),
        f.base.join(format!("sub/deeper/{TEMP_PREFIX}999-2")),
    ];
    let fresh = f.base.join(format!("sub/{TEMP_PREFIX}999-3"));
    let not_temp = f.base.join("sub/.imagor-other");
    let outside_temp = f.outside.join(format!("{TEMP_PREFIX}999-4"));
    for p in stale.iter().chain([&fresh, &not_temp, &outside_temp]) {
        fs::write(p, b"partial").expect("temp");
    }
    for p in stale.iter().chain([&not_temp, &outside_temp]) {
        set_mtime(p, Duration::from_secs(3600));
    }
    symlink(&f.outside, f.base.join("dir-link")).expect("link");
    let s = f.storage(FileStorageOptions::default());
    for p in &stale {
        assert!(!p.exists(), "{} kept", p.display());
    }
    assert!(fresh.exists(), "a fresh temp file may be a put in progress");
    assert!(not_temp.exists());
    assert!(outside_temp.exists(), "the cleanup followed a link");
    // Never visible as a result.
    let key = format!("sub/{TEMP_PREFIX}999-3");
    assert_eq!(get(&s, &key), Err(Error::invalid()));
    assert_eq!(s.cleanup(Duration::ZERO), Ok(1));
    assert!(!fresh.exists());
}

#[test]
fn io_errors_name_the_key_not_the_host_path() {
    let f = Fixture::new("errors");
    let host_path = f.base.to_string_lossy().into_owned();
    let check = |e: Error| {
        assert_eq!(e.status(), 500, "{e}");
        let msg = e.message();
        assert!(msg.contains("x.png"), "{msg}");
        assert!(!msg.contains(&host_path), "{msg}");
    };
    // A base dir that is a file: the operator's mistake, a 500.
    fs::write(f.base.join("plain"), b"not a dir").expect("file");
    let s = FileStorage::new(f.base.join("plain"), FileStorageOptions::default());
    check(put(&s, "x.png", b"x").expect_err("base dir is a file"));

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("running as root: permission errors cannot be provoked");
        return;
    }
    let s = f.storage(FileStorageOptions::default());
    fs::create_dir_all(f.base.join("ro")).expect("dir");
    fs::set_permissions(f.base.join("ro"), fs::Permissions::from_mode(0o500)).expect("chmod");
    let e = put(&s, "ro/x.png", b"x").expect_err("read-only dir");
    let _ = fs::set_permissions(f.base.join("ro"), fs::Permissions::from_mode(0o700));
    check(e);
}

/// A file is read whole into memory, so one past `max_memory` is refused
/// (422 `limit_exceeded`) on its size, before a byte is read: by the
/// storage, the loader and a whole [`imagor::Imagor`] at its defaults.
#[test]
fn a_file_past_max_memory_is_not_read() {
    let f = Fixture::new("maxmem");
    let s = f.storage(FileStorageOptions {
        max_memory: 1024,
        ..FileStorageOptions::default()
    });
    put(&s, "small.png", &[7u8; 1024]).expect("put");
    assert_eq!(get(&s, "small.png").expect("at the bound").data.len(), 1024);
    put(&s, "big.png", &[7u8; 1025]).expect("put");
    let e = get(&s, "big.png").expect_err("past the bound");
    assert_eq!((e.status(), e.code()), (422, "limit_exceeded"), "{e}");
    assert!(e.to_string().contains("max_memory (1 KiB)"), "{e}");
    // Stat does not read, so it still answers.
    assert_eq!(stat(&s, "big.png").expect("stat").size, 1025);
    let unbounded = f.storage(FileStorageOptions {
        max_memory: 0,
        ..FileStorageOptions::default()
    });
    assert_eq!(
        get(&unbounded, "big.png").expect("0: no bound").data.len(),
        1025
    );
    let l = FileLoader::new(&f.base, "", "").with_max_memory(1024);
    assert_eq!(get(&l, "big.png").expect_err("loader").status(), 422);
    assert_eq!(get(&l, "small.png").expect("loader").data.len(), 1024);

    // At the defaults (256 MiB): a sparse 300 MiB file is refused at once,
    // also when it would only be passed through (`raw()`).
    let sparse = fs::File::create(f.base.join("huge.jpg")).expect("create");
    sparse.set_len(300 << 20).expect("sparse file");
    let base = f.base.to_string_lossy().into_owned();
    let im = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        file_loader_base_dir: base.clone(),
        ..imagor::Options::default()
    })
    .expect("imagor");
    for path in ["unsafe/10x10/huge.jpg", "unsafe/filters:raw()/huge.jpg"] {
        let e = im.serve(path).expect_err(path);
        assert_eq!(
            (e.status(), e.code()),
            (422, "limit_exceeded"),
            "{path}: {e}"
        );
        assert!(
            e.to_string().contains("larger than max_memory (256 MiB)"),
            "{path}: {e}"
        );
    }
    // The file storage that caches sources is bounded too; as in imagor, a
    // storage that fails falls through to the loaders (none here).
    let im = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        file_storage_base_dir: base,
        http_loader_disable: true,
        ..imagor::Options::default()
    })
    .expect("imagor");
    let e = im
        .serve("unsafe/filters:raw()/huge.jpg")
        .expect_err("storage");
    assert_eq!(e.status(), 404, "{e}");
}

/// A file loader and a file storage on one folder (imagor's own example):
/// with an expiration, an old original is a storage miss, so the loader
/// reads it. It must not be saved over itself, nor deleted when processing
/// fails (imagor deletes it: a GET lost the original).
#[test]
fn a_storage_on_the_loaders_folder_never_rewrites_or_deletes_the_original() {
    let f = Fixture::new("shared");
    let original = f.base.join("keep.png");
    let gopher = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher-front.png"
    ))
    .expect("gopher");
    fs::write(&original, &gopher).expect("write");
    set_mtime(&original, Duration::from_secs(2 * 86_400));
    let base = f.base.to_string_lossy().into_owned();
    let im = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        file_loader_base_dir: base.clone(),
        file_storage_base_dir: base,
        file_storage_expiration: Duration::from_secs(3600),
        http_loader_disable: true,
        ..imagor::Options::default()
    })
    .expect("imagor");
    use std::os::unix::fs::MetadataExt;
    let before = fs::metadata(&original).expect("meta");
    let failing = "unsafe/fit-in/10x10/filters:watermark(nope.png,0,0,0)/keep.png";
    assert_eq!(im.serve(failing).expect_err(failing).status(), 404);
    let after = fs::metadata(&original).expect("the original is still there");
    assert_eq!(after.ino(), before.ino(), "the original was replaced");
    assert_eq!(after.modified().ok(), before.modified().ok());
    im.serve("unsafe/10x10/keep.png").expect("served");
    let after = fs::metadata(&original).expect("the original is still there");
    assert_eq!(after.ino(), before.ino(), "the original was rewritten");
    assert_eq!(fs::read(&original).expect("read"), gopher);
    assert!(temp_files(&f.base).is_empty());
    // A storage in another folder still gets its copy.
    let other = f.outside.join("cache");
    let im = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        file_loader_base_dir: f.base.to_string_lossy().into_owned(),
        file_storage_base_dir: other.to_string_lossy().into_owned(),
        http_loader_disable: true,
        ..imagor::Options::default()
    })
    .expect("imagor");
    im.serve("unsafe/10x10/keep.png").expect("served");
    assert_eq!(fs::read(other.join("keep.png")).expect("copy"), gopher);
}

/// A result storage on the file loader's folder (one dir for both, or a
/// result key that names an original, `unsafe/keep.png` or
/// `unsafe/fit-in/keep.png` over `fit-in/keep.png`) never writes a result
/// over an original: once the original was older than the result
/// storage's expiration it read as an expired result, and the processed
/// copy (re-encoded, metadata stripped) replaced it for good. Results of
/// other keys are still stored there.
#[test]
fn a_result_storage_on_the_loaders_folder_never_rewrites_the_original() {
    let f = Fixture::new("shared-results");
    let gopher = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher-front.png"
    ))
    .expect("gopher");
    fs::create_dir_all(f.base.join("fit-in")).expect("mkdir");
    let originals = [f.base.join("keep.png"), f.base.join("fit-in/keep.png")];
    for original in &originals {
        fs::write(original, &gopher).expect("write");
        set_mtime(original, Duration::from_secs(2 * 86_400));
    }
    let base = f.base.to_string_lossy().into_owned();
    let im = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        file_loader_base_dir: base.clone(),
        file_result_storage_base_dir: base,
        file_result_storage_expiration: Duration::from_secs(3600),
        http_loader_disable: true,
        ..imagor::Options::default()
    })
    .expect("imagor");
    use std::os::unix::fs::MetadataExt;
    let before: Vec<_> = originals
        .iter()
        .map(|o| fs::metadata(o).expect("meta"))
        .collect();
    for path in ["unsafe/keep.png", "unsafe/fit-in/keep.png"] {
        im.serve(path).expect(path);
    }
    for (original, before) in originals.iter().zip(&before) {
        let after = fs::metadata(original).expect("the original is still there");
        assert_eq!(after.ino(), before.ino(), "{original:?} was replaced");
        assert_eq!(fs::read(original).expect("read"), gopher, "{original:?}");
    }
    im.serve("unsafe/10x10/keep.png").expect("served");
    assert!(
        f.base.join("10x10/keep.png").is_file(),
        "other results stored"
    );
    assert!(temp_files(&f.base).is_empty());
}
