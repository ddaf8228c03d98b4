//! What decoding while the origin still sends saves (`make bench`).
//!
//! For each corpus JPEG and PNG, one call at a time, medians of `--runs`:
//! - `process`: decode + resize to 512x512 + encode, source in memory;
//! - `fetch`: the source through the HTTP loader alone (`raw()`, which
//!   needs the whole body, so it is never streamed);
//! - `buffered` = fetch + process: what a request cost when the loader
//!   read the whole body before processing (the two steps in sequence);
//! - `streamed`: the request itself (`/unsafe/512x512/URL`), processed
//!   as the body arrives.
//!
//! against a local origin on 127.0.0.1 sending at each `--rates` MB/s
//! (0: as fast as loopback goes), in 64 KiB chunks on a schedule.
//!
//!   cargo run --release --example bench_stream -- --corpus target/bench-corpus [--runs 5] [--rates 20,100,0]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imagor::{Imagor, Options};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// `/RATE/NAME`: the body at RATE MB/s (0: at once), with Content-Length.
fn serve(stream: TcpStream, files: &HashMap<String, Vec<u8>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
    }
    let target = line.split(' ').nth(1).unwrap_or("/");
    let (rate, name) = target
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("0", ""));
    let Some(body) = files.get(name) else {
        return out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    let rate: f64 = rate.parse::<f64>().unwrap_or(0.0) * 1e6;
    if rate <= 0.0 {
        return out.write_all(body);
    }
    let start = Instant::now();
    let mut sent = 0usize;
    for chunk in body.chunks(64 << 10) {
        out.write_all(chunk)?;
        out.flush()?;
        sent += chunk.len();
        let due = start + Duration::from_secs_f64(sent as f64 / rate);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = arg(&args, "--corpus", "target/bench-corpus");
    let runs: usize = arg(&args, "--runs", "5").parse().expect("--runs");
    let rates: Vec<String> = arg(&args, "--rates", "20,100,0")
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut files = HashMap::new();
    for format in ["jpeg", "png"] {
        let dir = std::path::Path::new(&corpus).join(format);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = format!("{format}-{}", e.file_name().to_string_lossy());
            files.insert(name, std::fs::read(e.path()).expect("read"));
        }
    }
    let files = Arc::new(files);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr");
    let f = files.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let f = f.clone();
            std::thread::spawn(move || {
                let _ = serve(stream, &f);
            });
        }
    });
    let imagor = Imagor::new(Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        process_timeout: Duration::from_secs(60),
        ..Options::default()
    })
    .expect("imagor");
    let path = "512x512";
    println!("median ms of {runs} runs, /unsafe/{path}/URL from a local origin at RATE MB/s (0: unthrottled)");
    println!(
        "{:<16} {:>6} {:>5} {:>8} {:>8} {:>9} {:>9} {:>7}",
        "image", "MB", "rate", "process", "fetch", "buffered", "streamed", "saved"
    );
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    let mut totals: HashMap<&str, (f64, f64)> = HashMap::new();
    for name in names {
        let body = &files[name];
        let process = median(runs, || {
            imagor.process(body, path).expect("process");
        });
        for rate in &rates {
            let url = format!("http://{host}/{rate}/{name}");
            let fetch = median(runs, || {
                imagor
                    .serve(&format!("/unsafe/filters:raw()/{url}"))
                    .expect("fetch");
            });
            let streamed = median(runs, || {
                imagor
                    .serve(&format!("/unsafe/{path}/{url}"))
                    .expect("serve");
            });
            let buffered = fetch + process;
            let t = totals.entry(rate.as_str()).or_default();
            t.0 += buffered;
            t.1 += streamed;
            println!(
                "{:<16} {:>6.2} {:>5} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>6.0}%",
                name,
                body.len() as f64 / 1e6,
                rate,
                process,
                fetch,
                buffered,
                streamed,
                (1.0 - streamed / buffered) * 100.0
            );
        }
    }
    for rate in &rates {
        if let Some((buffered, streamed)) = totals.get(rate.as_str()) {
            println!(
                "rate {rate:>4} MB/s: streamed / buffered = {:.2}x over the corpus",
                streamed / buffered
            );
        }
    }
}
