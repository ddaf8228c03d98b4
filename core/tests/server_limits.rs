//! The server under the process's resource limits: a storage write past
//! the file size limit is an error like a full disk (the process lives),
//! and the soft limit on open files is raised to the hard one at start,
//! as Go's runtime does for imagor.

mod server_common;

use std::path::Path;

use server_common::*;

/// Every file name under `dir`, hidden ones included.
fn all_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(all_names(&entry.path()));
        }
        out.push(name);
    }
    out
}

/// A write past `ulimit -f` raises SIGXFSZ, whose default action killed
/// the server on the first storage write of a large source or result
/// (and left a partial temporary file). It now fails with EFBIG: the
/// request is answered from the processed image, nothing partial stays.
#[test]
fn a_storage_write_past_the_file_size_limit_fails_and_the_server_lives() {
    let dir = TempDir::new("fsize");
    let limit = 64 * 1024;
    let args: Vec<String> = [
        "-imagor-unsafe".to_owned(),
        format!("-file-loader-base-dir={}", testdata().display()),
        format!("-file-storage-base-dir={}", dir.join("storage")),
        format!("-file-result-storage-base-dir={}", dir.join("results")),
    ]
    .to_vec();
    let server = Server::launch(
        &args,
        Launch {
            rlimits: vec![(libc::RLIMIT_FSIZE as i32, limit, limit)],
            ..Launch::default()
        },
    );
    for path in [
        "/unsafe/filters:format(png)/gopher.png",
        "/unsafe/fit-in/10x10/gopher.png",
        "/unsafe/filters:format(png)/gopher.png",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(sniff(&r.body), "png", "{path}");
    }
    // The small result was stored (after its answer); the large ones were
    // not.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let settled =
        |names: &[String]| !names.is_empty() && names.iter().all(|n| !n.starts_with(".imagor-tmp"));
    while !settled(&all_names(dir.path())) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let names = all_names(dir.path());
    assert!(
        names.iter().all(|n| !n.starts_with(".imagor-tmp")),
        "partial files left: {names:?}"
    );
    assert!(!names.is_empty(), "nothing stored at all");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

/// A soft limit of 256 open files is raised to the hard limit (4096 here).
#[test]
fn the_open_file_limit_is_raised_to_the_hard_one() {
    let server = Server::launch(
        &["-imagor-unsafe".to_owned()],
        Launch {
            rlimits: vec![(libc::RLIMIT_NOFILE as i32, 256, 4096)],
            ..Launch::default()
        },
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let figures: Vec<&str> = open_files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(figures, ["4096", "4096"], "{open_files}");
}
