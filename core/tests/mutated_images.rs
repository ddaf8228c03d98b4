//! Damaged copies of every test image (bits flipped, bytes and lengths
//! overwritten, pieces cut, moved or dropped, half of the edits in the
//! first 2 KiB where headers live) through `process` and `meta`: each call
//! answers within its budget, with an error a damaged image may cause
//! (never a panic, a crash, or a 400 or 500 that blames the request or the
//! server). Seeded, so a failure replays exactly.
//!
//! Longer runs (release, 54 calls a second on 2 cores):
//! `IMAGOR_FUZZ_CASES=100000 IMAGOR_FUZZ_SEED=7 cargo test --release -p imagor
//! --features own-jpeg,own-av1 --test mutated_images -- --nocapture`.
//! The case being run is written to `imagor-mutated-images.case` in the
//! temporary directory first (a crash leaves it there);
//! `IMAGOR_FUZZ_REPLAY=SEED:INDEX` runs that one case and writes its bytes
//! beside it (`.bin`).

mod image_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use imagor::vips::{Arg, Blob, Call};
use imagor::{Imagor, Options};

/// xorshift64*: deterministic and seedable.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 for 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What is asked of each damaged image: resizes, crops, trims, filters
/// that read its size, pages and metadata, every output format, the
/// source's own format and size.
const PATHS: &[&str] = &[
    "fit-in/200x200",
    "300x200",
    "0x0",
    "filters:format(png)",
    "fit-in/64x64/filters:format(webp)",
    "trim/100x100",
    "-120x80/filters:grayscale():format(jpeg)",
    "fit-in/100x100/filters:format(gif)",
    "50x50/filters:format(avif)",
    "smart/100x100",
    "fit-in/120x120/filters:fill(blur):round_corner(10)",
    "filters:page(2):max_frames(3):proportion(50)",
    "200x0/filters:rotate(90):strip_exif():format(tiff)",
];

/// Errors a damaged image may cause: the bytes are not an image libvips
/// reads, or one over a limit or the deadline; nothing at all is not found.
const DAMAGE: &[&str] = &[
    "unsupported_format",
    "processing",
    "limit_exceeded",
    "max_resolution_exceeded",
    "timeout",
    "not_found",
];

/// A damaged copy of `data`: one to four edits.
fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            out.push(0);
        }
        let at = match rng.below(2) {
            0 => rng.below(out.len().min(2048)),
            _ => rng.below(out.len()),
        };
        let overwrite = |out: &mut Vec<u8>, bytes: &[u8]| {
            for (k, b) in bytes.iter().enumerate() {
                if let Some(x) = out.get_mut(at + k) {
                    *x = *b;
                }
            }
        };
        match rng.below(9) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => out[at] = 0,
            2 => out[at] = 0xFF,
            3 => out[at] = rng.next() as u8,
            4 => out.truncate(at.max(1)),
            // A 32-bit big-endian length or size, made extreme.
            5 => {
                let v = [0, 1, 0x7FFF_FFFF, u32::MAX, 65_535, 0x1_0000][rng.below(6)];
                overwrite(&mut out, &v.to_be_bytes());
            }
            // A 16-bit little-endian one.
            6 => {
                let v: u16 = [0, 1, u16::MAX, 0x7FFF, 8, 16][rng.below(6)];
                overwrite(&mut out, &v.to_le_bytes());
            }
            7 => {
                let len = rng.below(64).min(out.len() - at);
                let piece = out[at..at + len].to_vec();
                let to = rng.below(out.len());
                out.splice(to..to, piece);
            }
            _ => {
                let end = (at + 1 + rng.below(32)).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `data` (its first `pages` frames, all for -1) made at most `width`
/// wide and saved by `saver` with `options`.
fn reencoded(data: &[u8], pages: i64, width: i64, saver: &str, options: &[(&str, Arg)]) -> Vec<u8> {
    let blob = Blob::copy_from(data);
    let pages = format!("n={pages}");
    let mut call = Call::new("thumbnail_buffer")
        .arg("buffer", Arg::Blob(&blob))
        .arg("width", Arg::Int(width));
    if pages != "n=1" {
        call = call.arg("option_string", Arg::Str(&pages));
    }
    let img = call.run().unwrap().out().unwrap();
    image_common::encode_with(&img, saver, options)
}

/// Encodings the test images do not have, so that their decoders are
/// damaged too: progressive JPEG, interlaced, palette and 16-bit PNG,
/// lossless and animated WebP, tiled TIFF.
fn reencodings() -> Vec<(String, Vec<u8>)> {
    let photo = image_common::testdata("demo1.jpg");
    let drawing = image_common::testdata("gopher.png");
    let animation = image_common::testdata("dancing-banana.gif");
    let yes = Arg::Bool(true);
    let webp = "webpsave_buffer";
    let png = "pngsave_buffer";
    [
        (
            "progressive.jpg",
            reencoded(&photo, 1, 320, "jpegsave_buffer", &[("interlace", yes)]),
        ),
        (
            "interlaced.png",
            reencoded(&drawing, 1, 200, png, &[("interlace", yes)]),
        ),
        (
            "palette.png",
            reencoded(&drawing, 1, 200, png, &[("palette", yes)]),
        ),
        (
            "16-bit.png",
            reencoded(&photo, 1, 200, png, &[("bitdepth", Arg::Int(16))]),
        ),
        (
            "lossless.webp",
            reencoded(&drawing, 1, 200, webp, &[("lossless", yes)]),
        ),
        ("animated.webp", reencoded(&animation, -1, 100, webp, &[])),
        (
            "tiled.tiff",
            reencoded(&photo, 1, 300, "tiffsave_buffer", &[("tile", yes)]),
        ),
    ]
    .into_iter()
    .map(|(name, data)| (name.to_owned(), data))
    .collect()
}

/// The test images and [`reencodings`], by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../testdata", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".md") && !name.starts_with("LICENSE"))
        .map(|name| {
            let data = image_common::testdata(&name);
            (name, data)
        })
        .collect();
    files.extend(reencodings());
    files.sort();
    files
}

#[test]
fn damaged_images_get_a_damaged_image_error_within_the_budget() {
    let seed: u64 = env("IMAGOR_FUZZ_SEED").map_or(1, |s| s.parse().unwrap());
    let cases: u64 = env("IMAGOR_FUZZ_CASES").map_or(1500, |s| s.parse().unwrap());
    let replay = env("IMAGOR_FUZZ_REPLAY").map(|r| {
        let (s, i) = r.split_once(':').expect("SEED:INDEX");
        (s.parse::<u64>().unwrap(), i.parse::<u64>().unwrap())
    });
    let seed = replay.map_or(seed, |(s, _)| s);
    let timeout = Duration::from_secs(3);
    let imagor = Imagor::new(Options {
        unsafe_: true,
        process_timeout: timeout,
        ..Options::default()
    })
    .unwrap();
    let files = corpus();
    assert!(files.len() >= 30, "the test images");
    let log = std::env::temp_dir().join("imagor-mutated-images.case");
    let mut rng = Rng::new(seed);
    let mut codes = BTreeMap::<&str, u64>::new();
    let mut failures = Vec::new();
    let last = replay.map_or(cases, |(_, i)| i + 1);
    for index in 0..last {
        let (name, data) = &files[rng.below(files.len())];
        let damaged = mutate(&mut rng, data);
        let path = PATHS[rng.below(PATHS.len())];
        let meta = rng.below(8) == 0;
        if replay.is_some_and(|(_, i)| index < i) {
            continue;
        }
        let case = format!(
            "{seed}:{index} {name} {path}{}",
            if meta { " meta" } else { "" }
        );
        std::fs::write(&log, &case).unwrap();
        if replay.is_some() {
            std::fs::write(log.with_extension("bin"), &damaged).unwrap();
        }
        let started = Instant::now();
        let result = if meta {
            imagor.meta(&damaged, path).map(drop)
        } else {
            imagor.process(&damaged, path).map(drop)
        };
        let took = started.elapsed();
        // The deadline is asked between steps: one step may run past it.
        if took > timeout * 2 {
            failures.push(format!("{case}: {took:?}"));
        }
        let code = result.as_ref().err().map_or("ok", |e| e.code());
        *codes.entry(code).or_default() += 1;
        if let Err(e) = result {
            if !DAMAGE.contains(&code) || (code == "not_found") != damaged.is_empty() {
                failures.push(format!("{case}: {e:?}"));
            }
        }
    }
    println!("{last} damaged images from seed {seed}: {codes:?}");
    assert!(failures.is_empty(), "{failures:#?}");
    if replay.is_none() {
        // The edits reach past the signatures: most answers are errors,
        // and a good share of images still decode.
        assert!(codes["ok"] > cases / 10, "{codes:?}");
        assert!(codes["unsupported_format"] > cases / 10, "{codes:?}");
    }
}
