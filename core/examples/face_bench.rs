//! The built-in face detector's added CPU per request on a 12-megapixel
//! photo, as a ratio to the same request without it.
//!
//! ```sh
//! cargo run --release -p imagor --features face --example face_bench
//! ```
//!
//! The photo is `testdata/faces-solvay.png` enlarged to 4000x3000 and
//! encoded as JPEG (12 MP, five faces). Each request (`500x500/smart`,
//! `fit-in/1000x1000/filters:redact()` and `meta/filters:redact()`) runs
//! `ITERATIONS` times on an instance without and with `face_detector`; the
//! process's CPU time (user + system, all threads) is measured around each
//! batch with `getrusage`.

use std::time::Duration;

use imagor::{Imagor, Options};

const ITERATIONS: u32 = 5;

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn batch(imagor: &Imagor, photo: &[u8], path: &str) -> Duration {
    // One warm-up call, then the measured ones.
    imagor.process(photo, path).expect("process");
    let start = cpu_time();
    for _ in 0..ITERATIONS {
        imagor.process(photo, path).expect("process");
    }
    (cpu_time() - start) / ITERATIONS
}

fn main() {
    let source = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/faces-solvay.png"
    ))
    .expect("testdata/faces-solvay.png");
    let opts = Options {
        process_timeout: Duration::from_secs(120),
        max_memory: 0,
        ..Options::default()
    };
    let plain = Imagor::new(opts.clone()).expect("imagor");
    let photo = plain
        .process(&source, "4000x3000/filters:format(jpeg):quality(90)")
        .expect("12 MP photo")
        .data;
    let faced = Imagor::new(Options {
        face_detector: true,
        ..opts
    })
    .expect("imagor with face_detector (build with --features face)");
    let faces = faced
        .meta(&photo, "filters:redact()")
        .expect("meta")
        .detected_regions
        .len();
    println!(
        "12 MP JPEG ({} bytes, 4000x3000), {faces} faces found; CPU per request, {ITERATIONS} runs each",
        photo.len()
    );
    println!(
        "{:<36} {:>10} {:>10} {:>7}",
        "request", "without", "with", "ratio"
    );
    for path in [
        "500x500/smart/filters:format(jpeg)",
        "fit-in/1000x1000/filters:redact():format(jpeg)",
        "meta/filters:redact()",
    ] {
        let without = batch(&plain, &photo, path);
        let with = batch(&faced, &photo, path);
        println!(
            "{path:<36} {:>8.1}ms {:>8.1}ms {:>6.2}x",
            without.as_secs_f64() * 1e3,
            with.as_secs_f64() * 1e3,
            with.as_secs_f64() / without.as_secs_f64()
        );
    }
}
