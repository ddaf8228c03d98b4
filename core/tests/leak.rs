//! 10 000 mixed calls (successes, decode failures, filter errors, budget
//! refusals, loader misses) leave no libvips object alive and no memory
//! behind, and the detector is shown to catch a deliberate leak.
//!
//! Two measures, both stable from run to run:
//! - live libvips objects (`imagor::vips::live_objects`, libvips' own
//!   registry of every VipsObject: images, operations, sources ...) must
//!   return exactly to the count after warm-up;
//! - resident memory may not grow by more than `RSS_SLACK` between call
//!   1 000 and call 10 000 (allocator noise stays far below it; a leak of
//!   one 64 KiB blob per call is over 500 MiB).
//!
//! The same detector then runs with the test-only hook
//! (`imagor::testing::leak_every_call`, feature `leak-hook`) that leaks one
//! image and one blob per call, and must report the leak.
//!
//! Run: `cargo test -p imagor --features leak-hook --test leak`.

use std::time::Duration;

use imagor::{Imagor, Options};

const CALLS: usize = 10_000;
const RSS_SLACK: u64 = 24 << 20;

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

struct Workload {
    imagor: Imagor,
    inputs: Vec<(Vec<u8>, &'static str)>,
}

impl Workload {
    fn new() -> Workload {
        let imagor = Imagor::new(Options {
            file_loader_base_dir: format!("{}/../testdata", env!("CARGO_MANIFEST_DIR")),
            unsafe_: true,
            process_timeout: Duration::from_secs(60),
            max_memory: 64 << 20,
            // `missing.png` stays a file-loader miss, without a DNS query.
            http_loader_disable: true,
            ..Options::default()
        })
        .expect("imagor");
        // Small inputs keep 10 000 calls quick in a debug build.
        let small = |data: &[u8], path: &str| imagor.process(data, path).expect("small input").data;
        let png = small(
            &testdata("gopher-front.png"),
            "fit-in/48x48/filters:format(png)",
        );
        let jpeg = small(&testdata("demo1.jpg"), "fit-in/64x64/filters:format(jpeg)");
        let gif = small(&testdata("dancing-banana.gif"), "fit-in/24x24/");
        let webp = small(&testdata("demo3.webp"), "fit-in/24x24/");
        // A still WebP: decoded by our own libwebp, not by libvips.
        let still_webp = small(
            &testdata("gopher-front.png"),
            "fit-in/64x64/filters:format(webp)",
        );
        let mut truncated_webp = still_webp.clone();
        truncated_webp.truncate(still_webp.len() * 2 / 3);
        let mut truncated = jpeg.clone();
        truncated.truncate(jpeg.len() / 2);
        let inputs = vec![
            (jpeg.clone(), "fit-in/32x32/filters:format(webp)"),
            (png.clone(), "20x20/smart"),
            (gif, "fit-in/16x16"),
            (webp, "10x10/filters:rotate(90)"),
            (still_webp, "fit-in/20x20/filters:format(png)"),
            (truncated_webp, "fit-in/20x20"),
            (png.clone(), "meta/filters:fill(white)"),
            (truncated, "fit-in/30x30/filters:format(png)"),
            (b"garbage garbage garbage garbage".to_vec(), "10x10"),
            (jpeg.clone(), "filters:quality(nope)"),
            (png.clone(), "fit-in/40x40/filters:fill(blur):format(jpeg)"),
            (png.clone(), "filters:padding(white,100000,100000)"),
            (jpeg, "fit-in/40x40/filters:blur(3)"),
            (
                png,
                "filters:watermark(gopher-front.png,0,0,50):text(hi,0,0):format(png)",
            ),
        ];
        Workload { imagor, inputs }
    }

    fn run(&self, calls: usize) {
        for i in 0..calls {
            let (data, path) = &self.inputs[i % self.inputs.len()];
            let _ = self.imagor.process(data, path);
            if i % 25 == 0 {
                let _ = self
                    .imagor
                    .serve("unsafe/20x20/filters:format(png)/gopher-front.png");
                let _ = self.imagor.serve("unsafe/20x20/missing.png");
                let _ = self.imagor.meta(data, "");
            }
        }
    }
}

/// Objects and RSS after `calls` more calls, relative to `base`.
#[derive(Debug)]
struct Growth {
    objects: i64,
    rss: i64,
}

impl Growth {
    fn leaked(&self) -> bool {
        self.objects != 0 || self.rss > RSS_SLACK as i64
    }
}

fn measure(w: &Workload, calls: usize) -> Growth {
    let objects = imagor::vips::live_objects() as i64;
    let rss = rss_bytes() as i64;
    w.run(calls);
    Growth {
        objects: imagor::vips::live_objects() as i64 - objects,
        rss: rss_bytes() as i64 - rss,
    }
}

#[test]
fn ten_thousand_calls_leak_nothing_and_a_leak_is_caught() {
    let w = Workload::new();
    // Warm-up: libvips creates per-class and per-thread state once.
    w.run(1_000);
    let clean = measure(&w, CALLS - 1_000);
    eprintln!("clean: {clean:?} over {} calls", CALLS - 1_000);
    assert!(!clean.leaked(), "leak over {CALLS} calls: {clean:?}");

    imagor::testing::leak_every_call(true);
    let leaky = measure(&w, 1_000);
    imagor::testing::leak_every_call(false);
    eprintln!("with the leak hook: {leaky:?} over 1000 calls");
    assert!(
        leaky.leaked(),
        "the detector missed a deliberate leak: {leaky:?}"
    );
    assert!(leaky.objects >= 1_000, "{leaky:?}");
}
