//! One side of `make bench`: run `imagor::process` over a corpus for a fixed
//! time from N threads and print a JSON line with the throughput and CPU time.
//! The peer (pyvips, sharp) prints the same line; `core/benches/compare.py`
//! runs both side by side and reports ratios.
//!
//! ```text
//! bench_process --corpus DIR --path "512x512/filters:format(jpeg)" --threads 2 --seconds 4
//! bench_process --corpus DIR --path "512x512/filters:format(jpeg)" --serve
//! bench_process --corpus DIR --path "512x512/filters:format(jpeg)" --fast-shrink
//! bench_process --corpus DIR --path "512x512/filters:format(avif)" --concurrency 1
//! ```
//!
//! `--fast-shrink` turns on `Options::fast_shrink_on_load` (sharp's
//! default shrink-on-load for JPEG). `--concurrency N` sets
//! `Options::concurrency`, libvips' threads per image (sharp's default on
//! glibc is 1; ours, libvips' default, is one per core).
//!
//! With `--serve`, each call is `Imagor::serve("unsafe/PATH/FILE")` with the
//! file loader on the corpus: the work the HTTP server does per request,
//! without HTTP (the library side of the server benchmark).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// CPU time (user + system) of this process, from getrusage.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills a zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn main() {
    let corpus = arg("--corpus", "target/bench-corpus/jpeg");
    let path = arg("--path", "512x512");
    let threads: usize = arg("--threads", "1").parse().unwrap_or(1);
    let seconds: f64 = arg("--seconds", "4").parse().unwrap_or(4.0);
    let serve = std::env::args().any(|a| a == "--serve");
    let fast_shrink = std::env::args().any(|a| a == "--fast-shrink");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{corpus}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("read corpus file"))
        })
        .collect();
    files.sort_by_key(|(name, data)| (data.len(), name.clone()));
    let files = Arc::new(files);
    // Overlays (watermark, image) load from --base-dir when given; --serve
    // loads the corpus itself through the file loader.
    let options = imagor::Options {
        file_loader_base_dir: if serve {
            corpus.clone()
        } else {
            arg("--base-dir", "")
        },
        unsafe_: true,
        fast_shrink_on_load: fast_shrink,
        concurrency: arg("--concurrency", "0").parse().unwrap_or(0),
        // A loaded benchmark machine must not turn a slow 12 MP call into a
        // 408: the budget is not what is measured here.
        process_timeout: Duration::from_secs(60),
        ..imagor::Options::default()
    };
    let imagor = Arc::new(imagor::Imagor::new(options).expect("imagor"));
    let call = move |imagor: &imagor::Imagor, (name, data): &(String, Vec<u8>)| {
        if serve {
            imagor.serve(&format!("unsafe/{path}/{name}"))
        } else {
            imagor.process(data, &path)
        }
    };
    let call = Arc::new(call);
    // Warm-up pass: first-use costs (codec init, font cache) are not
    // measured; it gives the mean output size over the corpus, as the
    // peers' drivers report it (independent of which files the timed loop
    // happened to reach).
    let mut out_bytes = 0u64;
    for f in files.iter() {
        out_bytes += call(&imagor, f).expect("warm-up process").data.len() as u64;
    }
    let bytes_per_file = out_bytes as f64 / files.len().max(1) as f64;
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (files, imagor, stop, ops, call) = (
                files.clone(),
                imagor.clone(),
                stop.clone(),
                ops.clone(),
                call.clone(),
            );
            std::thread::spawn(move || {
                let mut i = t;
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let out = call(&imagor, &files[i % files.len()]).expect("process");
                    latencies.push(start.elapsed().as_secs_f64());
                    std::hint::black_box(out);
                    ops.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<f64> = Vec::new();
    for w in workers {
        latencies.extend(w.join().expect("worker"));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let n = ops.load(Ordering::Relaxed).max(1);
    latencies.sort_by(f64::total_cmp);
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{{\"impl\":\"imagor-rs\",\"ops\":{n},\"wall_s\":{wall:.3},\"ops_per_s\":{:.3},\"cpu_ms_per_op\":{:.3},\"p50_ms\":{:.3},\"bytes_per_op\":{:.0}}}",
        n as f64 / wall,
        cpu * 1000.0 / n as f64,
        p50 * 1000.0,
        bytes_per_file
    );
}
