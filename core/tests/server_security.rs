//! Security through the real binary: the traversal matrix of
//! SECURITY-NOTES.md Appendix B against the file loader, the file storage
//! and the file result storage; symbolic links inside each base dir that
//! point outside (to a file, a folder, along a chain); and URL signatures
//! (tampered, truncated, other algorithm, missing, `unsafe/` when unsafe is
//! off).
//!
//! Layout (one temp dir `D`): `D/x/root` (file loader), `D/x/storage`,
//! `D/x/results`, and real images as canaries outside them where the
//! traversals would land (`D/etc/passwd`, `D/x/images-sibling/secret`,
//! `D/outside/...`): a traversal that worked would answer 200 with a
//! canary's bytes. Every file outside the three base dirs is fingerprinted
//! before and after: nothing may be written, changed or removed there.
#![cfg(feature = "server")]

mod server_common;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use imagor::sign::{Signer, SignerAlg};
use server_common::*;

/// SECURITY-NOTES.md Appendix B, as request path keys (sent raw).
fn appendix_b() -> Vec<String> {
    let mut keys: Vec<String> = [
        "../../etc/passwd",
        "..%2f..%2fetc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e/%252e%252e/etc/passwd",
        "....//....//etc/passwd",
        "../%2e%2e/etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        "..\\..\\etc\\passwd",
        "%5c..%5c..%5cetc/passwd",
        "img.jpg%00.png",
        "%c0%ae%c0%ae/etc/passwd",
        "../images-sibling/secret",
        ".git/config",
        ".env",
        "a/./././b",
    ]
    .iter()
    .map(|k| (*k).to_owned())
    .collect();
    keys.push("a".repeat(5000));
    keys
}

struct Layout {
    dir: TempDir,
}

impl Layout {
    fn new() -> Layout {
        let dir = TempDir::new("security");
        let image = testdata_file("gopher-front.png");
        for rel in [
            "x/root/ok.png",
            "x/root/real-dir/x.png",
            "x/root/real-file.png",
            "x/root/.git/config",
            "x/root/.env",
            "etc/passwd",
            "x/images-sibling/secret",
            "x/etc/passwd",
            "outside/secret.png",
            "outside/dir/x.png",
        ] {
            dir.write(rel, &image);
        }
        std::fs::create_dir_all(dir.path().join("x/storage")).unwrap();
        std::fs::create_dir_all(dir.path().join("x/results")).unwrap();
        let d = dir.path();
        let link = |target: &Path, at: &str| symlink(target, d.join(at)).unwrap();
        for base in ["root", "storage", "results"] {
            link(
                &d.join("outside/secret.png"),
                &format!("x/{base}/link-file.png"),
            );
            link(&d.join("outside/dir"), &format!("x/{base}/link-dir"));
            link(
                &d.join("outside/secret.png"),
                &format!("x/{base}/chain2.png"),
            );
            link(Path::new("chain2.png"), &format!("x/{base}/chain1.png"));
            link(Path::new("/etc"), &format!("x/{base}/etc-link"));
        }
        // Real files under the names the storages have as links: the
        // loader finds them, the storages must not write through the links.
        for rel in ["link-dir2/x.png", "store-file.png", "store-chain.png"] {
            dir.write(&format!("x/root/{rel}"), &image);
        }
        for base in ["storage", "results"] {
            link(&d.join("outside/dir"), &format!("x/{base}/link-dir2"));
            link(
                &d.join("outside/secret.png"),
                &format!("x/{base}/store-file.png"),
            );
            link(
                &d.join("outside/chain-end.png"),
                &format!("x/{base}/chain-mid.png"),
            );
            link(
                Path::new("chain-mid.png"),
                &format!("x/{base}/store-chain.png"),
            );
        }
        Layout { dir }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel)
    }

    /// Every entry outside the three base dirs: path → content or link
    /// target (links are not followed).
    fn outside(&self) -> BTreeMap<String, Vec<u8>> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                if ["x/root", "x/storage", "x/results"].contains(&rel.as_str()) {
                    continue;
                }
                let t = e.file_type().unwrap();
                let value = if t.is_symlink() {
                    std::fs::read_link(&p)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                        .into_bytes()
                } else if t.is_dir() {
                    walk(base, &p, out);
                    b"<dir>".to_vec()
                } else {
                    std::fs::read(&p).unwrap()
                };
                out.insert(rel, value);
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out
    }
}

fn refused(r: &Resp) -> bool {
    r.status == 400 || r.status == 404
}

#[test]
fn traversal_and_symlinks_are_refused_and_nothing_is_written_outside() {
    let l = Layout::new();
    let before = l.outside();
    // A name for write probes that nothing on this machine has: keys that
    // would reach /etc write-side use it instead of `passwd`.
    let probe = format!("imagor-e2e-probe-{}", std::process::id());
    let server = Server::start(&flags(&[
        ("imagor-unsafe", "true"),
        ("file-loader-base-dir", &l.path("x/root")),
        ("file-storage-base-dir", &l.path("x/storage")),
        ("file-result-storage-base-dir", &l.path("x/results")),
    ]));
    assert_eq!(server.get("/unsafe/ok.png").status, 200, "control");
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut record = |what: &str, target: String, r: &Resp, ok: bool| {
        let shown: String = target.chars().take(70).collect();
        rows.push(vec![
            what.to_owned(),
            shown,
            r.status.to_string(),
            (if ok { "ok" } else { "FAIL" }).into(),
        ]);
        if !ok {
            bad.push(format!("{what} {target}: {} {}", r.status, r.text()));
        }
    };
    for key in appendix_b() {
        // The key as the image: the loader refuses it; a source or result
        // would be saved under it if the loader had not.
        for target in [
            format!("/unsafe/{key}"),
            format!("/unsafe/fit-in/20x20/{key}"),
        ] {
            let r = server.get(&target);
            record("loader key", target, &r, refused(&r));
        }
        // The key inside the result key (an unknown filter is skipped, the
        // image is processed and saved under the whole path).
        let write_key = key.replace("passwd", &probe);
        let target = format!("/unsafe/filters:foo({write_key})/ok.png");
        let r = server.get(&target);
        record("result key", target, &r, r.status == 200 || refused(&r));
    }
    for link in [
        "link-file.png",
        "link-dir/x.png",
        "chain1.png",
        "etc-link/passwd",
        "etc-link/hostname",
    ] {
        let target = format!("/unsafe/{link}");
        let r = server.get(&target);
        record("loader symlink", target, &r, refused(&r));
    }
    // Sources the loader finds under names that are links out of the
    // storage and result-storage dirs: served (the bytes are the loader's
    // own), never written through the links.
    for name in ["link-dir2/x.png", "store-file.png", "store-chain.png"] {
        for target in [
            format!("/unsafe/{name}"),
            format!("/unsafe/fit-in/30x30/{name}"),
        ] {
            let r = server.get(&target);
            record("storage symlink", target, &r, r.status == 200);
        }
    }
    drop(server);
    print_table(&["probe", "request", "status", ""], &rows);
    let after = l.outside();
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "written outside the base dirs: {changed:?}"
    );
    assert!(
        !Path::new("/etc").join(&probe).exists(),
        "/etc/{probe} was written"
    );
    assert!(bad.is_empty(), "not refused:\n{}", bad.join("\n"));
    // The storages did work where they may: inside their own dirs.
    assert!(!files_under(&l.dir.path().join("x/results")).is_empty());
    println!(
        "{} probes, outside the base dirs unchanged ({} entries)",
        rows.len(),
        after.len()
    );
}

#[test]
fn signatures_are_checked() {
    let dir = TempDir::new("signatures");
    dir.write("ok.png", &testdata_file("gopher-front.png"));
    let server = Server::start(&flags(&[
        ("imagor-secret", "security-secret"),
        ("file-loader-base-dir", &dir.join("")),
    ]));
    let path = "fit-in/40x40/ok.png";
    let sha1 = Signer::sha1("security-secret");
    let good = sha1.sign(path);
    let mut tampered = good.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let sha256 = Signer::new(SignerAlg::Sha256, 0, "security-secret").sign(path);
    let other_secret = Signer::sha1("not-the-secret").sign(path);
    let mismatch = error_body("url signature mismatch", 403);
    let cases: Vec<(&str, String, u16, String)> = vec![
        ("valid", format!("/{good}/{path}"), 200, String::new()),
        (
            "tampered hash",
            format!("/{tampered}/{path}"),
            403,
            mismatch.clone(),
        ),
        (
            "tampered path",
            format!("/{good}/fit-in/41x40/ok.png"),
            403,
            mismatch.clone(),
        ),
        (
            "truncated to 20",
            format!("/{}/{path}", &good[..20]),
            403,
            mismatch.clone(),
        ),
        (
            "truncated to 10",
            format!("/{}/{path}", &good[..10]),
            403,
            mismatch.clone(),
        ),
        (
            "sha256 on sha1",
            format!("/{sha256}/{path}"),
            403,
            mismatch.clone(),
        ),
        (
            "other secret",
            format!("/{other_secret}/{path}"),
            403,
            mismatch.clone(),
        ),
        ("missing", format!("/{path}"), 403, mismatch.clone()),
        (
            "unsafe/ (off)",
            format!("/unsafe/{path}"),
            403,
            mismatch.clone(),
        ),
        (
            "/unsafe/ alone",
            "/unsafe/".to_owned(),
            404,
            error_body("not found", 404),
        ),
    ];
    let mut rows = Vec::new();
    for (what, target, status, body) in &cases {
        let r = server.get(target);
        let ok = r.status == *status && (body.is_empty() || r.text() == *body);
        let shown = match sniff(&r.body) {
            "unknown" => r.text().chars().take(60).collect(),
            kind => format!("<{kind}, {} bytes>", r.body.len()),
        };
        rows.push(vec![
            (*what).to_owned(),
            target.clone(),
            r.status.to_string(),
            shown,
        ]);
        assert!(ok, "{what} {target}: {} {}", r.status, r.text());
        if r.status == 403 {
            assert_eq!(r.header("Content-Type"), Some("application/json"), "{what}");
        }
    }
    print_table(&["signature", "request", "status", "body"], &rows);
}

/// imagor answers a POST it does not accept (no `-upload-loader-enable`,
/// or no `-imagor-unsafe`) with 405 before touching the body (spec §4.3
/// step 2): a server without uploads must not buffer tens of megabytes per
/// request. The client sends only the head of a 40 MB POST.
#[test]
fn post_without_uploads_is_405_without_reading_the_body() {
    use std::io::{Read, Write};
    for extra in [&[][..], &[("upload-loader-enable", "true")][..]] {
        let mut list = vec![("imagor-secret", "s")];
        list.extend_from_slice(extra);
        let server = Server::start(&flags(&list));
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let head = "POST /unsafe/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                    Content-Type: image/jpeg\r\nContent-Length: 40000000\r\n\r\n";
        s.write_all(head.as_bytes()).unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).expect("an answer before the body");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(text.starts_with("HTTP/1.1 405"), "{extra:?}: {text}");
    }
}
