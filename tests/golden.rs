//! Golden-image conformance: every entry of `testdata/golden/manifest.json`
//! (imagor 1.9.5's processor goldens) is rendered by [`imagor::Imagor`] and
//! compared with the golden as `shared/conformance/README.md`, "Comparing
//! images", prescribes:
//!
//! 1. the output's format (sniffed from its bytes) and `content_type` must be
//!    the golden's; for `check: type_only` that is all;
//! 2. both images are decoded by the same code (libvips, all frames, 8-bit
//!    sRGB or B_W, colour premultiplied by alpha); width, frame height,
//!    pages and bands must match exactly;
//! 3. pixels, band by band and frame by frame (the worst band of the worst
//!    frame counts): lossless outputs (PNG without `palette()`, TIFF,
//!    `lossless()` WebP) MAD <= 1.5 and PSNR >= 35 dB; lossy or palette
//!    outputs PSNR >= 27 dB or MAD <= 4; `platform_sensitive` entries also
//!    pass at PSNR >= 25 dB; entries whose notes mention text rendering also
//!    pass at PSNR >= 20 dB (fonts differ).
//!
//! `kind: meta` entries compare the `/meta` JSON like `tests/meta.rs`.
//!
//! Server setup as imagor's tests: unsafe URLs, the file loader rooted at
//! `testdata/`, defaults plus the entry's `config` (imagor flag names;
//! `detectors` are imagor's stub detectors, added as fixed regions). The
//! request is the entry's `request` minus its first `/`, so a path starting
//! with `/` keeps the double slash imagor's router saw. The in-memory
//! `memory-test.png` source goes through `Imagor::process_pixels`.
//!
//! Run: `cargo test -p imagor-tests --test golden`. Environment:
//! - `GOLDEN_FILTER=substring` (or a positional argument): only entries whose
//!   id, golden name or path contains it;
//! - `GOLDEN_DUMP=dir`: write our output as `dir/<id>.<ext>` and the golden
//!   as `dir/<id>.golden.<ext>`;
//! - `GOLDEN_SELFTEST=1`: check the comparison machinery itself on the
//!   goldens alone (see `selftest` below) instead of running imagor.
//!
//! Output: one `PASS`/`FAIL`/`SKIP` line per entry (skips are only the
//! entries the manifest itself marks with a `skip_reason`), then
//! `N passed, M failed, S skipped`; the exit code is non-zero when
//! anything failed.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use common::{timeline, Decoded, Entry, Metrics};
use imagor::{Error, Imagor, Options, Output};
use serde_json::Value;

/// Hang detection only, never a speed assertion.
const ENTRY_TIMEOUT: Duration = Duration::from_secs(180);

/// The fields of imagor's `/meta` JSON compared exactly (meta.json).
pub const META_EXACT: &[&str] = &[
    "format",
    "content_type",
    "width",
    "height",
    "orientation",
    "pages",
    "bands",
];

enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

fn main() -> ExitCode {
    let arg_filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let filter = std::env::var("GOLDEN_FILTER").ok().or(arg_filter);
    let dump = std::env::var_os("GOLDEN_DUMP").map(PathBuf::from);
    let entries: Vec<Entry> = common::manifest()
        .into_iter()
        .filter(|e| {
            filter
                .as_deref()
                .is_none_or(|f| e.id.contains(f) || e.path.contains(f) || e.golden.contains(f))
        })
        .collect();
    if std::env::var_os("GOLDEN_SELFTEST").is_some() {
        return selftest::run(&entries);
    }
    if let Some(dir) = &dump {
        std::fs::create_dir_all(dir).expect("GOLDEN_DUMP folder can be created");
    }
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);

    // The comparison must be able to fail: a quick check on the first pixel
    // golden before trusting any PASS below.
    if let Err(e) = selftest::sanity(&entries) {
        println!("FAIL harness-self-check {e}");
        failed += 1;
    }

    // Nothing from libvips, GLib or the decoders may reach stderr.
    let stderr = common::StderrCapture::start();
    for entry in &entries {
        let label = match &entry.config_dir {
            Some(dir) => format!("{} [{dir}] {}", entry.id, entry.path),
            None => format!("{} {}", entry.id, entry.path),
        };
        match run_entry(entry, dump.as_deref()) {
            Outcome::Pass(d) => {
                passed += 1;
                println!("PASS {label} ({d})");
            }
            Outcome::Fail(r) => {
                failed += 1;
                println!("FAIL {label} {r}");
            }
            Outcome::Skip(r) => {
                skipped += 1;
                println!("SKIP {label} {r}");
            }
        }
    }
    let written = stderr.finish();
    if !written.is_empty() {
        println!("FAIL stderr was written to during the goldens: {written:?}");
        failed += 1;
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Options for an entry's `config` (imagor flag names), or why not.
fn options_for(entry: &Entry) -> Result<Options, Outcome> {
    let mut o = Options {
        unsafe_: true,
        file_loader_base_dir: common::testdata().to_string_lossy().into_owned(),
        // imagor's configuration: it loads JPEG 2000 and PDF, which we
        // refuse by default as libvips flags their loaders untrusted.
        block_untrusted_loaders: false,
        // Conformance, not the budget: a debug build on a busy 2-core
        // machine may take longer than the default 2 s on large goldens.
        process_timeout: std::time::Duration::from_secs(60),
        ..Options::default()
    };
    for (key, value) in &entry.config {
        let int = || {
            value
                .as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| Outcome::Fail(format!("config {key}: not an integer: {value}")))
        };
        let boolean = || {
            value
                .as_bool()
                .ok_or_else(|| Outcome::Fail(format!("config {key}: not a boolean: {value}")))
        };
        match key.as_str() {
            "vips-max-animation-frames" => o.max_animation_frames = int()?,
            "vips-max-filter-ops" => o.max_filter_ops = int()?,
            "vips-disable-blur" => o.disable_blur = boolean()?,
            "vips-strip-metadata" => o.strip_metadata = boolean()?,
            "vips-disable-filters" => {
                let list = value
                    .as_str()
                    .ok_or_else(|| Outcome::Fail(format!("config {key}: not a string: {value}")))?;
                o.disable_filters = list
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            // A test-only switch of imagor; BMP falls back to our own
            // decoder anyway.
            "force-bmp-fallback" => {}
            // Added to the instance in `produce`.
            "detectors" => {}
            other => return Err(Outcome::Fail(format!("unknown config key {other}"))),
        }
    }
    Ok(o)
}

fn run_entry(entry: &Entry, dump: Option<&Path>) -> Outcome {
    if let Some(reason) = &entry.skip_reason {
        if !entry.config.contains_key("detectors") {
            return Outcome::Skip(reason.clone());
        }
    }
    let opts = match options_for(entry) {
        Ok(o) => o,
        Err(outcome) => return outcome,
    };
    let golden = match std::fs::read(entry.golden_path()) {
        Ok(b) => b,
        Err(e) => return Outcome::Fail(format!("cannot read golden {}: {e}", entry.golden)),
    };
    let result = produce(entry, opts).and_then(|out| {
        if let Some(dir) = dump {
            write_dump(dir, entry, &out.data, &golden);
        }
        evaluate(entry, &out, &golden)
    });
    match result {
        Ok(detail) => Outcome::Pass(detail),
        Err(reason) => Outcome::Fail(reason),
    }
}

fn describe(e: &Error) -> String {
    format!("error {} {}: {}", e.status(), e.code(), e.message())
}

/// Render the entry in its own thread: a panic or a hang becomes a failure
/// of this entry only.
fn produce(entry: &Entry, opts: Options) -> Result<Output, String> {
    let (tx, rx) = mpsc::channel();
    let job = entry.clone();
    let spawned = std::thread::Builder::new()
        .name(entry.id.clone())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let imagor =
                    Imagor::new(opts).map_err(|e| format!("Imagor::new: {}", describe(&e)))?;
                let imagor = common::with_stub_detectors(imagor, job.config.get("detectors"))?;
                let out = if job.is_memory_source() {
                    imagor.process_pixels(&common::MEMORY_TEST_PIXELS, 3, 1, 3, &job.path)
                } else {
                    let request = job.request.strip_prefix('/').unwrap_or(&job.request);
                    imagor.serve(request)
                };
                out.map_err(|e| describe(&e))
            }));
            let _ =
                tx.send(result.unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(&p)))));
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start a thread: {e}"));
    }
    match rx.recv_timeout(ENTRY_TIMEOUT) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("no answer within {ENTRY_TIMEOUT:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("worker thread died".to_owned()),
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".to_owned())
}

fn write_dump(dir: &Path, entry: &Entry, ours: &[u8], golden: &[u8]) {
    let ext = |b: &[u8]| {
        if entry.kind == "meta" {
            "json"
        } else {
            common::sniff_format(b).unwrap_or("bin")
        }
    };
    for (name, bytes) in [
        (format!("{}.{}", entry.id, ext(ours)), ours),
        (format!("{}.golden.{}", entry.id, ext(golden)), golden),
    ] {
        if let Err(e) = std::fs::write(dir.join(&name), bytes) {
            eprintln!("GOLDEN_DUMP: cannot write {name}: {e}");
        }
    }
}

/// Compare one output with its golden; `Ok(detail)` when it conforms.
fn evaluate(entry: &Entry, out: &Output, golden: &[u8]) -> Result<String, String> {
    if out.content_type != entry.content_type {
        return Err(format!(
            "content type {:?}, want {:?}",
            out.content_type, entry.content_type
        ));
    }
    if entry.kind == "meta" {
        return evaluate_meta(entry, &out.data);
    }
    let sniffed = common::sniff_format(&out.data).unwrap_or("unknown");
    if sniffed != entry.format {
        return Err(format!(
            "format {sniffed} ({} bytes), want {}",
            out.data.len(),
            entry.format
        ));
    }
    if entry.check == "type_only" {
        return Ok("type only".to_owned());
    }
    let ours = common::decode(&out.data).map_err(|e| format!("cannot decode our output: {e}"))?;
    let mut want = common::decode(golden).map_err(|e| format!("cannot decode the golden: {e}"))?;
    let mut how = String::new();
    match entry.requires.as_deref() {
        None => {}
        Some(timeline::GIF_WRITER_MERGES) if !timeline::gif_writer_merges_identical_frames() => {
            let (ours_d, want_d) = (timeline::delays(&out.data)?, timeline::delays(golden)?);
            want = timeline::along_timeline(&want, &want_d, &ours_d)?;
            how = format!(
                ", along the timeline: {} golden frames over our {}, as this libvips' GIF writer keeps identical frames",
                want_d.len(),
                ours_d.len()
            );
        }
        Some(timeline::GIF_WRITER_MERGES) => {}
        Some(other) => return Err(format!("unknown requirement {other}")),
    }
    let rule = entry.rule();
    let m = common::compare(&ours, &want)?;
    if rule.passes(&m) {
        Ok(format!("{m}{how}"))
    } else {
        Err(format!("pixels differ: {m} (rule {})", rule.describe()))
    }
}

fn evaluate_meta(entry: &Entry, data: &[u8]) -> Result<String, String> {
    let got: Value = serde_json::from_slice(data)
        .map_err(|e| format!("output is not JSON: {e}: {}", String::from_utf8_lossy(data)))?;
    let want = entry
        .meta_expect
        .as_ref()
        .ok_or("meta entry without meta_expect")?;
    let errors = common::check_meta(&got, want, META_EXACT, "subset-optional");
    if errors.is_empty() {
        Ok("meta json".to_owned())
    } else {
        Err(errors.join("; "))
    }
}

/// Checks of the comparison machinery that need no imagor: every golden
/// against itself (must be perfect), against re-encodes and thumbnails
/// (calibration, informational), and against altered copies (must fail).
mod selftest {
    use super::*;
    use imagor::vips::{Arg, Blob, Call};

    /// Compare the first pixel golden with itself (must pass, perfectly)
    /// and with its negative (must fail).
    pub fn sanity(entries: &[Entry]) -> Result<(), String> {
        let all;
        let pool = if entries.iter().any(is_pixel_entry) {
            entries
        } else {
            all = common::manifest();
            &all[..]
        };
        let Some(e) = pool.iter().find(|e| is_pixel_entry(e)) else {
            return Ok(());
        };
        let bytes = std::fs::read(e.golden_path()).map_err(|err| format!("{}: {err}", e.id))?;
        let d = common::decode(&bytes).map_err(|err| format!("{}: {err}", e.id))?;
        let same = common::compare(&d, &d)?;
        if !same.psnr.is_infinite() || same.mad != 0.0 || !e.rule().passes(&same) {
            return Err(format!("{}: golden vs itself gives {same}", e.id));
        }
        let neg = common::compare(&negative(&d), &d)?;
        if e.rule().passes(&neg) {
            return Err(format!(
                "{}: the negative of the golden passes ({neg})",
                e.id
            ));
        }
        Ok(())
    }

    fn is_pixel_entry(e: &Entry) -> bool {
        e.kind == "image" && e.check == "pixels"
    }

    /// Every value v -> 255 - v (alpha included).
    fn negative(d: &Decoded) -> Decoded {
        let mut n = d.clone();
        for f in &mut n.frames {
            for v in f.iter_mut() {
                *v = 255.0 - *v;
            }
        }
        n
    }

    /// Decode, re-encode with libvips' default saver of the same format,
    /// decode again.
    fn reencode(bytes: &[u8], format: &str, lossless: bool) -> Result<Decoded, String> {
        let (img, _) = common::load(bytes, true)?;
        let saver = match format {
            "jpeg" | "png" | "gif" | "webp" | "tiff" => format!("{format}save_buffer"),
            other => return Err(format!("no re-encoder for {other}")),
        };
        let flags: &[(&str, bool)] = if format == "webp" && lossless {
            &[("lossless", true)]
        } else {
            &[]
        };
        common::decode(&common::save(&img, &saver, flags)?)
    }

    /// `thumbnail_buffer` of a source to a size (README calibration).
    fn thumbnail(
        source: &str,
        w: i32,
        h: i32,
        force: bool,
        saver: &str,
    ) -> Result<Vec<u8>, String> {
        let bytes = common::read_testdata(source);
        let blob = Blob::copy_from(&bytes);
        let mut call = Call::new("thumbnail_buffer")
            .arg("buffer", Arg::Blob(&blob))
            .arg("width", Arg::Int(w.into()))
            .arg("height", Arg::Int(h.into()));
        if force {
            call = call.arg("size", Arg::Nick("force"));
        }
        let img = call
            .run()
            .and_then(|o| o.out())
            .map_err(|e| e.to_string())?;
        common::save(&img, saver, &[])
    }

    fn first_frame(d: &Decoded) -> Decoded {
        let mut f = d.clone();
        f.frames.truncate(1);
        f.pages = 1;
        f
    }

    fn show(m: &Metrics) -> String {
        format!(
            "worst band psnr {} mad {:.2}; all bands psnr {} mad {:.2}",
            common::fmt_db(m.psnr),
            m.mad,
            common::fmt_db(m.overall_psnr),
            m.overall_mad
        )
    }

    pub fn run(entries: &[Entry]) -> ExitCode {
        let mut problems = 0;
        let (mut selfs, mut negs, mut dims, mut reenc) = (0, 0, 0, 0);
        let mut worst_reencode: Option<(f64, String)> = None;
        for e in entries.iter().filter(|e| e.kind == "image") {
            let bytes = match std::fs::read(e.golden_path()) {
                Ok(b) => b,
                Err(err) => {
                    problems += 1;
                    println!("BAD {} cannot read golden: {err}", e.id);
                    continue;
                }
            };
            let sniffed = common::sniff_format(&bytes).unwrap_or("unknown");
            if sniffed != e.format || common::content_type_of(sniffed) != e.content_type {
                problems += 1;
                println!(
                    "BAD {} sniffed {sniffed}, manifest {} {}",
                    e.id, e.format, e.content_type
                );
            }
            if e.check != "pixels" {
                continue;
            }
            let d = match common::decode(&bytes) {
                Ok(d) => d,
                Err(err) => {
                    problems += 1;
                    println!("BAD {} cannot decode golden: {err}", e.id);
                    continue;
                }
            };
            let manifest_geo = (e.width, e.height, e.pages, e.bands);
            let local_geo = (
                i64::from(d.width),
                i64::from(d.page_height),
                Some(i64::from(d.pages)),
                Some(i64::from(d.bands)),
            );
            if manifest_geo != local_geo {
                println!(
                    "NOTE {} local decode {local_geo:?} vs manifest {manifest_geo:?}",
                    e.id
                );
            }
            let rule = e.rule();
            match common::compare(&d, &d) {
                Ok(m) if m.psnr.is_infinite() && m.mad == 0.0 && rule.passes(&m) => selfs += 1,
                other => {
                    problems += 1;
                    println!("BAD {} golden vs itself: {other:?}", e.id);
                }
            }
            match common::compare(&negative(&d), &d) {
                Ok(m) if !rule.passes(&m) => negs += 1,
                other => {
                    problems += 1;
                    println!("BAD {} negative not rejected: {other:?}", e.id);
                }
            }
            let mut narrower = d.clone();
            narrower.width -= 1;
            if common::compare(&narrower, &d).is_err() {
                dims += 1;
            } else {
                problems += 1;
                println!("BAD {} a width change is not rejected", e.id);
            }
            match reencode(&bytes, &e.format, rule.lossless).and_then(|r| common::compare(&r, &d)) {
                Ok(m) => {
                    if rule.passes(&m) {
                        reenc += 1;
                    } else {
                        println!(
                            "NOTE {} libvips re-encode fails the rule: {}",
                            e.id,
                            show(&m)
                        );
                    }
                    if worst_reencode.as_ref().is_none_or(|(p, _)| m.psnr < *p) {
                        worst_reencode = Some((m.psnr, format!("{} {}", e.id, show(&m))));
                    }
                }
                Err(err) => println!("NOTE {} re-encode: {err}", e.id),
            }
        }
        println!(
            "golden vs itself perfect: {selfs}; negatives rejected: {negs}; width changes rejected: {dims}; re-encodes passing: {reenc}"
        );
        if let Some((_, w)) = worst_reencode {
            println!("lowest re-encode: {w}");
        }
        problems += calibration(entries);
        problems += timeline_checks();
        println!("selftest: {problems} problem(s)");
        if problems > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    /// The timeline comparison of merged-frame goldens: frames land where
    /// they are shown, and a golden frame starting inside one of ours or a
    /// different length is refused.
    fn timeline_checks() -> usize {
        let frame = |v: f32| vec![v; 4];
        let golden = Decoded {
            format: "gif".to_owned(),
            loader: "gifload".to_owned(),
            width: 1,
            page_height: 1,
            pages: 2,
            bands: 4,
            norm_bands: 4,
            has_alpha: true,
            frames: vec![frame(10.0), frame(20.0)],
        };
        let mut problems = 0;
        match timeline::along_timeline(&golden, &[200, 100], &[100, 100, 100]) {
            Ok(d) if d.pages == 3 && d.frames == vec![frame(10.0), frame(10.0), frame(20.0)] => {}
            other => {
                problems += 1;
                println!("BAD timeline: [200, 100] over [100, 100, 100] gives {other:?}");
            }
        }
        for ours in [&[150, 150][..], &[100, 100][..], &[100, 100, 100, 100][..]] {
            if let Ok(d) = timeline::along_timeline(&golden, &[200, 100], ours) {
                problems += 1;
                println!("BAD timeline: [200, 100] over {ours:?} accepted: {d:?}");
            }
        }
        problems
    }

    /// The README's calibration: plain libvips thumbnails against goldens.
    fn calibration(entries: &[Entry]) -> usize {
        let cases: [(&str, &str, i32, i32, bool, &str, bool); 3] = [
            (
                "fit-in/67x67/gopher-front.png",
                "gopher-front.png",
                67,
                67,
                false,
                "pngsave_buffer",
                false,
            ),
            (
                "full-fit-in/102x30/Canon_40D.jpg",
                "Canon_40D.jpg",
                102,
                69,
                true,
                "jpegsave_buffer",
                false,
            ),
            (
                "fit-in/67x67/dancing-banana.gif",
                "dancing-banana.gif",
                67,
                67,
                false,
                "gifsave_buffer",
                true,
            ),
        ];
        let mut problems = 0;
        for (path, source, w, h, force, saver, first_only) in cases {
            let Some(e) = entries
                .iter()
                .find(|e| e.path == path && e.config.len() <= 1)
            else {
                continue;
            };
            let result = std::fs::read(e.golden_path())
                .map_err(|err| err.to_string())
                .and_then(|g| common::decode(&g))
                .and_then(|golden| {
                    let ours = common::decode(&thumbnail(source, w, h, force, saver)?)?;
                    if first_only {
                        common::compare(&first_frame(&ours), &first_frame(&golden))
                    } else {
                        common::compare(&ours, &golden)
                    }
                });
            match result {
                Ok(m) => println!(
                    "CALIBRATION {} {path}: {} -> {}",
                    e.id,
                    show(&m),
                    if e.rule().passes(&m) {
                        "passes"
                    } else {
                        "fails"
                    }
                ),
                Err(err) => {
                    problems += 1;
                    println!("BAD calibration {path}: {err}");
                }
            }
        }
        problems
    }
}
