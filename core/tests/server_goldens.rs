//! Every public golden of `testdata/golden/manifest.json` requested over
//! HTTP through the real `imagor` binary must answer exactly what the
//! library answers for the same request: the same bytes and Content-Type
//! for an image or `/meta` JSON, the same status and JSON body for an
//! error. (How close both are to imagor's golden pixels is
//! `tests/golden.rs`'s job; this test proves the server adds nothing and
//! loses nothing on the way.)
//!
//! Setup as imagor's golden tests, but signed: the server runs with
//! `-imagor-secret` (no `-imagor-unsafe`) and the file loader on
//! `testdata/`; each request is the entry's `request` with `unsafe/`
//! replaced by the HMAC of its path ([`imagor::sign::Signer`]), sent
//! byte-exact (a path starting with `/` keeps its double slash). The
//! entry's `config` (imagor flag names) becomes flags for the server and
//! the same [`Options`] fields for the library, which builds
//! `Imagor::new(options)` and calls `serve(<the same path>)`. Both keep the
//! default `block_untrusted_loaders: true` (the server has no flag for it),
//! so the entries whose source is JPEG 2000, PDF or JPEG XL must be refused
//! with 406 both ways; the test asserts that.
//!
//! Not served from `testdata/`: the in-memory source (`memory-test.png`,
//! imagor's raw-pixel loader) is written as a lossless PNG of the same
//! pixels into a temp dir that both sides use as their file loader root.
//! Skipped, counted: entries that need imagor's stub detector (fixed
//! regions cannot be handed to the binary; `tests/golden.rs` runs them
//! through `Imagor::with_detector`).
//!
//! Run: `cargo test -p imagor --features server --test server_goldens --
//! --nocapture` (`GOLDEN_FILTER=substring` runs matching entries only).
#![cfg(feature = "server")]

mod server_common;

use std::collections::BTreeMap;
use std::time::Duration;

use imagor::sign::Signer;
use imagor::{Imagor, Options};
use serde_json::Value;
use server_common::*;

const SECRET: &str = "golden-secret";
/// Conformance, not the budget: a debug build on a busy machine.
const TIMEOUT: &str = "60s";

/// The raw pixels of imagor's in-memory golden source: 3x1 RGB.
const MEMORY_PIXELS: [u8; 9] = [255, 0, 0, 0, 255, 0, 0, 0, 255];

struct Entry {
    id: String,
    request: String,
    config: serde_json::Map<String, Value>,
    skip: Option<String>,
    memory: bool,
    untrusted: bool,
}

fn entries() -> Vec<Entry> {
    let text = std::fs::read_to_string(testdata().join("golden/manifest.json")).expect("manifest");
    let v: Value = serde_json::from_str(&text).expect("manifest JSON");
    let filter = std::env::var("GOLDEN_FILTER").unwrap_or_default();
    v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            let config = e["config"].as_object().cloned().unwrap_or_default();
            let skip = e["skip_reason"].as_str().map(str::to_owned).or_else(|| {
                config
                    .contains_key("detectors")
                    .then(|| "stub detector regions (config.detectors) cannot be given to the binary; tests/golden.rs covers them".to_owned())
            });
            let source = s("source");
            Entry {
                id: s("id"),
                request: s("request"),
                skip,
                memory: e["source"].is_null() && s("generated_source").starts_with("in-memory"),
                untrusted: [".jp2", ".pdf", ".jxl"].iter().any(|x| source.ends_with(x)),
                config,
            }
        })
        .filter(|e| filter.is_empty() || e.id.contains(&filter) || e.request.contains(&filter))
        .collect()
}

/// The entry's config as flags, and the same on `Options`.
fn settings(e: &Entry, root: &str) -> (Vec<String>, Options) {
    let mut flags = vec![
        format!("-imagor-secret={SECRET}"),
        format!("-file-loader-base-dir={root}"),
        format!("-imagor-process-timeout={TIMEOUT}"),
    ];
    let mut o = Options {
        secret: SECRET.to_owned(),
        file_loader_base_dir: root.to_owned(),
        process_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    for (key, value) in &e.config {
        let int = || value.as_i64().expect("integer config") as i32;
        let boolean = || value.as_bool().expect("boolean config");
        match key.as_str() {
            // imagor's test-only switch; no flag, nothing to set.
            "force-bmp-fallback" => continue,
            "vips-max-animation-frames" => o.max_animation_frames = int(),
            "vips-max-filter-ops" => o.max_filter_ops = int(),
            "vips-disable-blur" => o.disable_blur = boolean(),
            "vips-strip-metadata" => o.strip_metadata = boolean(),
            "vips-disable-filters" => {
                let list = value.as_str().expect("string config");
                o.disable_filters = list.split(',').map(|s| s.trim().to_owned()).collect();
            }
            other => panic!("{}: unknown config key {other}", e.id),
        }
        let text = match value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        flags.push(format!("-{key}={text}"));
    }
    (flags, o)
}

/// The signed request: `/unsafe/<path>` with `unsafe` replaced by the
/// signature of the path imagor signs (the parsed `path`).
fn signed(request: &str, signer: &Signer) -> String {
    let rest = request.strip_prefix("/unsafe/").expect("unsafe request");
    let signed_path = imagor::path::parse(request).path;
    let target = format!("/{}/{rest}", signer.sign(&signed_path));
    let p = imagor::path::parse(&target);
    assert!(p.path == signed_path && !p.hash.is_empty() && !p.r#unsafe);
    target
}

enum Verdict {
    Equal,
    Refused406,
    Fail(String),
}

fn compare(server: &Server, imagor: &Imagor, e: &Entry, target: &str) -> Verdict {
    let r = server.get(target);
    let lib = imagor.serve(target);
    let fail = |m: String| Verdict::Fail(m);
    match lib {
        Ok(out) => {
            if r.status != 200 {
                return fail(format!("server {}: {}", r.status, r.text()));
            }
            if r.header("Content-Type") != Some(out.content_type.as_str()) {
                return fail(format!(
                    "Content-Type {:?} vs library {:?}",
                    r.header("Content-Type"),
                    out.content_type
                ));
            }
            if r.body != out.data {
                return fail(format!(
                    "bytes differ: server {} B ({}), library {} B ({})",
                    r.body.len(),
                    sniff(&r.body),
                    out.data.len(),
                    sniff(&out.data)
                ));
            }
            if e.untrusted {
                return fail("untrusted loader answered 200 with block_untrusted_loaders".into());
            }
            Verdict::Equal
        }
        Err(err) => {
            let want = err.to_json();
            if r.status != err.status() || r.text() != want {
                return fail(format!(
                    "server {} {} vs library {} {want}",
                    r.status,
                    r.text(),
                    err.status()
                ));
            }
            match (e.untrusted, r.status) {
                (true, 406) => Verdict::Refused406,
                _ => fail(format!("both refused: {} {want}", r.status)),
            }
        }
    }
}

#[test]
fn goldens_over_http_equal_the_library() {
    let signer = Signer::sha1(SECRET);
    let memory_root = TempDir::new("memory-source");
    let png = imagor::Imagor::new(Options::default())
        .and_then(|i| i.process_pixels(&MEMORY_PIXELS, 3, 1, 3, "filters:format(png)"))
        .expect("PNG of the in-memory source");
    memory_root.write("memory-test.png", &png.data);
    let testdata_root = testdata().to_string_lossy().into_owned();

    // One server per distinct (root, flags); entries in manifest order.
    let mut groups: BTreeMap<Vec<String>, (Options, Vec<Entry>)> = BTreeMap::new();
    let mut skipped = Vec::new();
    for e in entries() {
        if let Some(reason) = &e.skip {
            skipped.push(vec![e.id.clone(), "skipped".into(), reason.clone()]);
            continue;
        }
        let root = if e.memory {
            memory_root.join("")
        } else {
            testdata_root.clone()
        };
        let (flags, opts) = settings(&e, &root);
        groups.entry(flags).or_insert((opts, Vec::new())).1.push(e);
    }
    let (mut equal, mut refused, mut failed) = (0, 0, Vec::new());
    let mut rows = Vec::new();
    for (flags, (opts, list)) in &groups {
        let server = Server::start(flags);
        let imagor = Imagor::new(opts.clone()).expect("library instance");
        // Two entries at a time (the machine's two cores; each waits on the
        // server half the time), reported in manifest order.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut verdicts: Vec<(usize, String, Verdict)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(e) = list.get(i) else { break done };
                            let target = signed(&e.request, &signer);
                            let verdict = compare(&server, &imagor, e, &target);
                            done.push((i, target, verdict));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("golden worker"))
                .collect()
        });
        verdicts.sort_by_key(|(i, ..)| *i);
        for (i, target, verdict) in verdicts {
            let e = &list[i];
            let (verdict, detail) = match verdict {
                Verdict::Equal => {
                    equal += 1;
                    ("equal", String::new())
                }
                Verdict::Refused406 => {
                    refused += 1;
                    ("equal 406", "untrusted loader refused both ways".to_owned())
                }
                Verdict::Fail(m) => {
                    failed.push(format!("{} {target}: {m}", e.id));
                    ("FAIL", m)
                }
            };
            rows.push(vec![
                e.id.clone(),
                verdict.to_owned(),
                format!("{target} {detail}"),
            ]);
        }
    }
    rows.extend(skipped.iter().cloned());
    print_table(&["id", "result", "request / detail"], &rows);
    println!(
        "\nequal {} (of which 406 both ways: {refused}); failed {}; skipped {} (detector)",
        equal + refused,
        failed.len(),
        skipped.len()
    );
    assert!(
        failed.is_empty(),
        "server and library differ:\n{}",
        failed.join("\n")
    );
}
