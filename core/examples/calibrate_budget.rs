//! Measures the per-pixel costs behind the budget's time estimates
//! (`core/src/budget.rs`): `cargo run --release -p imagor --example calibrate_budget`.
//! Prints nanoseconds per output pixel (wall clock, libvips' default
//! threads) for each kind of work the budget estimates.

use std::time::{Duration, Instant};

use imagor::{Imagor, Options};

fn time(im: &Imagor, data: &[u8], path: &str) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let r = if data.is_empty() {
            im.serve(path).map(|o| o.data.len())
        } else {
            im.process(data, path).map(|o| o.data.len())
        };
        let e = t.elapsed();
        if let Err(err) = r {
            println!("  {path}: {err}");
        }
        best = best.min(e);
    }
    best
}

fn main() {
    let im = Imagor::new(Options {
        unsafe_: true,
        process_timeout: Duration::ZERO,
        max_memory: 0,
        ..Options::default()
    })
    .unwrap();
    let (w, h) = (2000, 2000);
    let px = (w * h) as f64;
    let base = format!("unsafe/{w}x{h}/filters:format(png):compression(1)/color:ff8040");
    let t0 = time(&im, &[], &base);
    println!(
        "baseline png c1 {w}x{h}: {:.1} ns/px",
        t0.as_nanos() as f64 / px
    );
    for f in [
        "brightness(10)",
        "blur(2)",
        "blur(0,10)",
        "blur(0,40)",
        "sharpen(5)",
        "pixelate(5)",
        "rotate(90)",
        "round_corner(20)",
        "grayscale()",
        "fill(blur)",
        "rgb(10,10,10)",
        "hue(30)",
        "modulate(10,10,10)",
    ] {
        let p = format!("unsafe/{w}x{h}/filters:{f}:format(png):compression(1)/color:ff8040");
        let t = time(&im, &[], &p);
        println!(
            "{f:>20}: {:>8.1} ns/px extra",
            (t.as_nanos() as f64 - t0.as_nanos() as f64) / px
        );
    }
    // Encoders, on a noisy photo-like image.
    let src = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/demo1.jpg"
    ))
    .unwrap();
    let big = im
        .process(&src, "2000x2000/filters:format(png):compression(1)")
        .unwrap()
        .data;
    let t_png1 = time(&im, &big, "filters:format(png):compression(1)");
    for fmt in [
        "jpeg", "png", "webp", "avif", "gif", "tiff", "heif", "jxl", "jp2",
    ] {
        let t = time(&im, &big, &format!("filters:format({fmt})"));
        println!(
            "encode {fmt:>5}: {:>8.1} ns/px (incl. decode of png; png c1 = {:.1})",
            t.as_nanos() as f64 / px,
            t_png1.as_nanos() as f64 / px
        );
    }
    for fmt in ["jpeg", "png", "webp", "avif", "gif", "tiff"] {
        let enc = im
            .process(&big, &format!("filters:format({fmt})"))
            .unwrap()
            .data;
        let t = time(&im, &enc, "filters:format(png):compression(1)");
        println!(
            "decode {fmt:>5}: {:>8.1} ns/px (incl. png c1 encode)",
            t.as_nanos() as f64 / px
        );
    }
    let lossless = im
        .process(&big, "filters:format(webp):lossless()")
        .unwrap()
        .data;
    let t = time(&im, &lossless, "100x100/filters:format(png)");
    println!(
        "decode webp lossless (shrunk to 100x100): {:>8.1} ns/px",
        t.as_nanos() as f64 / px
    );
    let t = time(&im, &[], &format!("unsafe/{w}x{h}/filters:text(hello,0,0,sans-400):format(png):compression(1)/color:ff8040"));
    println!(
        "text sans-400: {:>8.1} ns/px",
        (t.as_nanos() as f64 - t0.as_nanos() as f64) / px
    );
}
