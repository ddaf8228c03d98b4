//! Image keys whose URL decodes to bytes that are not UTF-8 (`caf%E9.png`,
//! Latin-1 names): each is its own image, as in imagor. The file loader
//! names the file by escaping each byte (`caf%E9.png`), the digest storage
//! style hashes the bytes, and in the original style such a key skips the
//! source storages: shown as text (with U+FFFD) it would name one entry
//! for `caf%E9.png`, `caf%E8.png` and `caf%EF%BF%BD.png`, and serve each
//! the others' image.

use std::fs;
use std::path::{Path, PathBuf};

use imagor::{Imagor, Options};

/// A PNG `width` pixels wide (the gopher, scaled).
fn png(width: u32) -> Vec<u8> {
    let gopher = fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/gopher.png"))
        .expect("testdata/gopher.png");
    imagor::process(&gopher, &format!("{width}x0/filters:format(png)"))
        .expect("scaled gopher")
        .data
        .to_vec()
}

/// A fresh folder under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("imagor-bytekeys-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn width(imagor: &Imagor, image: &str) -> i64 {
    let out = imagor
        .serve(&format!("unsafe/meta/{image}"))
        .unwrap_or_else(|e| panic!("{image}: {e}"));
    let meta: serde_json::Value = serde_json::from_slice(&out.data).expect("meta json");
    meta["width"].as_i64().expect("width")
}

/// Three files imagor names `caf%E9.png`, `caf%E8.png` (the bytes 0xE9 and
/// 0xE8 escaped) and `caf%EF%BF%BD.png` (U+FFFD, valid UTF-8), of widths
/// 30, 40 and 50.
fn loader_dir(name: &str) -> TempDir {
    let base = TempDir::new(name);
    for (name, w) in [
        ("caf%E9.png", 30),
        ("caf%E8.png", 40),
        ("caf%EF%BF%BD.png", 50),
    ] {
        fs::write(base.0.join(name), png(w)).expect("source");
    }
    base
}

fn imagor_with(base: &Path, storage: &Path, style: &str) -> Imagor {
    Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: base.to_string_lossy().into_owned(),
        file_storage_base_dir: storage.to_string_lossy().into_owned(),
        storage_path_style: style.into(),
        ..Options::default()
    })
    .expect("imagor")
}

#[test]
fn keys_that_differ_in_bytes_that_are_not_utf8_are_different_images() {
    let base = loader_dir("base-original");
    let store = TempDir::new("store");
    let imagor = imagor_with(&base.0, &store.0, "original");
    // The valid U+FFFD key first: its source is saved to the storage under
    // the name the two byte keys would have shared (they were served 50).
    for _ in 0..2 {
        assert_eq!(width(&imagor, "caf%EF%BF%BD.png"), 50);
        assert_eq!(width(&imagor, "caf%E9.png"), 30);
        assert_eq!(width(&imagor, "caf%E8.png"), 40);
    }
    // Only the text key was stored; the byte keys skip the storage.
    assert_eq!(files(&store.0), vec!["caf%EF%BF%BD.png".to_owned()]);
}

#[test]
fn the_digest_style_hashes_the_bytes_as_imagor() {
    let base = loader_dir("base-digest");
    let store = TempDir::new("digest");
    let imagor = imagor_with(&base.0, &store.0, "digest");
    for _ in 0..2 {
        assert_eq!(width(&imagor, "caf%E9.png"), 30);
        assert_eq!(width(&imagor, "caf%E8.png"), 40);
        assert_eq!(width(&imagor, "caf%EF%BF%BD.png"), 50);
    }
    // SHA1 of the bytes `caf\xE9.png`, `caf\xE8.png` and `caf\u{FFFD}.png`.
    let mut want = vec![
        "89/fe/7aa3ed9177b6741e2c8a4c9656c1ec483139".to_owned(),
        "e2/c1/e007870bd05ea279fbb8cef7b4a7ee22ddbf".to_owned(),
        "40/7d/6b6ff5bc738c218bba592e5773076aa78eb0".to_owned(),
    ];
    want.sort();
    assert_eq!(files(&store.0), want);
}

#[test]
fn a_served_copy_in_the_storage_is_read_back_for_its_own_key_only() {
    // A storage entry under the U+FFFD name, as a byte key would have
    // left it before (or an operator's file): the byte keys never read it.
    let base = loader_dir("base-planted");
    let store = TempDir::new("planted");
    fs::write(store.0.join("caf%EF%BF%BD.png"), png(70)).expect("planted");
    let imagor = imagor_with(&base.0, &store.0, "original");
    assert_eq!(width(&imagor, "caf%E9.png"), 30);
    assert_eq!(width(&imagor, "caf%E8.png"), 40);
    assert_eq!(width(&imagor, "caf%EF%BF%BD.png"), 70);
}

/// imagor retries a refused request with its path query-unescaped, and
/// signs the bytes that gives: a client that signed `meta/caf\xE9.png` (a
/// Latin-1 name) and sent `caf%E9.png` is served that file. A signature
/// over the U+FFFD text, or over another byte, is refused (both were
/// wrong before: the retry signed the U+FFFD text).
#[test]
fn a_signature_over_bytes_that_are_not_utf8_is_checked_on_those_bytes() {
    let base = loader_dir("signed");
    let imagor = Imagor::new(Options {
        secret: "s3cret".into(),
        file_loader_base_dir: base.0.to_string_lossy().into_owned(),
        ..Options::default()
    })
    .expect("imagor");
    // HMAC-SHA1 of the bytes, padded base64url (imagor's signer).
    let sign = |path: &[u8]| {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"s3cret").expect("key");
        mac.update(path);
        base64::engine::general_purpose::URL_SAFE.encode(mac.finalize().into_bytes())
    };
    let cases: [(&[u8], bool); 3] = [
        (b"meta/caf\xe9.png", true),
        ("meta/caf\u{FFFD}.png".as_bytes(), false),
        (b"meta/caf\xe8.png", false),
    ];
    for (signed, ok) in cases {
        let path = format!("{}/meta/caf%E9.png", sign(signed));
        let served = imagor.serve(&path);
        let handled = imagor.handle(&imagor::request::Request::get(&format!("/{path}")));
        if ok {
            let out = served.unwrap_or_else(|e| panic!("{signed:?}: {e}"));
            let meta: serde_json::Value = serde_json::from_slice(&out.data).expect("json");
            assert_eq!(meta["width"], 30, "{signed:?}");
            assert_eq!(handled.status, 200, "{signed:?}");
            assert_eq!(handled.body, out.data, "{signed:?}");
        } else {
            assert_eq!(served.map(|_| ()).unwrap_err().status(), 403, "{signed:?}");
            assert_eq!(handled.status, 403, "{signed:?}");
        }
    }
}
