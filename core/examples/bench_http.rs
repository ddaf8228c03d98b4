//! The client side of the server benchmark in `make bench`: N keep-alive
//! connections, each sending `GET /unsafe/PATH/FILE` for the corpus files in
//! turn for a fixed time, and one JSON line with the throughput and the
//! median latency. `core/benches/server_compare.py` starts the server and
//! runs this next to `bench_process --serve` (the same work as a library
//! call).
//!
//! ```text
//! bench_http --addr 127.0.0.1:8000 --corpus DIR --path "512x512/filters:format(jpeg)" --threads 2
//! ```
//!
//! A minimal HTTP/1.1 client on `std::net`: the server under test answers
//! with `Content-Length`, which is all it needs to read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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

/// One GET on a kept-alive connection; returns the status and body size.
fn get(conn: &mut BufReader<TcpStream>, target: &str) -> std::io::Result<(u16, usize)> {
    let request = format!("GET {target} HTTP/1.1\r\nHost: bench\r\nAccept: */*\r\n\r\n");
    conn.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    Ok((status, length))
}

fn main() {
    let addr = arg("--addr", "127.0.0.1:8000");
    let corpus = arg("--corpus", "target/bench-corpus/jpeg");
    let path = arg("--path", "512x512");
    let threads: usize = arg("--threads", "1").parse().unwrap_or(1);
    let seconds: f64 = arg("--seconds", "4").parse().unwrap_or(4.0);
    let mut names: Vec<(u64, String)> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{corpus}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| {
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            (size, e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let targets: Arc<Vec<String>> = Arc::new(
        names
            .into_iter()
            .map(|(_, name)| format!("/unsafe/{path}/{name}"))
            .collect(),
    );
    let connect = || {
        let stream = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        BufReader::new(stream)
    };
    // Warm-up pass, as on the library side (skipped with --no-warmup when
    // the driver warmed the server up and reads its CPU time in between).
    if !std::env::args().any(|a| a == "--no-warmup") {
        let mut warm = connect();
        for t in targets.iter() {
            let (status, _) = get(&mut warm, t).expect("warm-up request");
            assert_eq!(status, 200, "{t}");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (targets, stop, ops) = (targets.clone(), stop.clone(), ops.clone());
            let bytes = bytes.clone();
            let mut conn = connect();
            std::thread::spawn(move || {
                let mut i = t;
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let target = &targets[i % targets.len()];
                    let (status, size) = get(&mut conn, target).expect("request");
                    assert!(status == 200 && size > 0, "{target}: {status}");
                    latencies.push(start.elapsed().as_secs_f64());
                    ops.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(size as u64, Ordering::Relaxed);
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
    let n = ops.load(Ordering::Relaxed).max(1);
    latencies.sort_by(f64::total_cmp);
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{{\"impl\":\"http\",\"ops\":{n},\"wall_s\":{wall:.3},\"ops_per_s\":{:.3},\"p50_ms\":{:.3},\"bytes_per_op\":{:.0}}}",
        n as f64 / wall,
        p50 * 1000.0,
        bytes.load(Ordering::Relaxed) as f64 / n as f64
    );
}
