//! Two replicas of the real server binary share one S3 result storage
//! (S3Server): what one processed, the other serves from the bucket without
//! processing. Proved with each server's `imagor_processed_total` metric
//! and with the response headers (a result-storage hit carries the
//! object's `ETag` and `Last-Modified`; a fresh result does not).

mod object_common;
mod server_common;

use std::sync::{Arc, Barrier};

use object_common::shared;
use server_common::{flags, free_port, send, Req, Server};

struct Replica {
    server: Server,
    metrics_port: u16,
}

impl Replica {
    fn start(base_dir: &str) -> Replica {
        let g = shared();
        let metrics_port = free_port();
        let testdata = server_common::testdata();
        let args = flags(&[
            ("imagor-unsafe", "true"),
            ("http-loader-disable", "true"),
            ("file-loader-base-dir", &testdata.to_string_lossy()),
            ("s3-result-storage-bucket", "imagor"),
            ("s3-result-storage-base-dir", base_dir),
            ("s3-endpoint", &g.endpoint),
            ("s3-force-path-style", "true"),
            ("aws-region", "us-east-1"),
            ("aws-access-key-id", &g.key),
            ("aws-secret-access-key", &g.secret),
            ("prometheus-bind", &format!("127.0.0.1:{metrics_port}")),
        ]);
        Replica {
            server: Server::start(&args),
            metrics_port,
        }
    }

    /// `imagor_processed_total` of this replica.
    fn processed(&self) -> u64 {
        let resp = send(self.metrics_port, &Req::get("/metrics")).expect("metrics");
        let text = resp.text();
        text.lines()
            .find_map(|l| l.strip_prefix("imagor_processed_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no imagor_processed_total in:\n{text}"))
    }
}

/// Files called `name` under `dir`, at any depth.
fn files_under(dir: &std::path::Path, name: &str) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&e.path(), name),
            Ok(_) => usize::from(e.file_name() == name),
            Err(_) => 0,
        })
        .sum()
}

fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), free_port())
}

#[test]
fn the_second_replica_serves_what_the_first_processed() {
    let base = unique("replicas");
    let (a, b) = (Replica::start(&base), Replica::start(&base));
    let path = "/unsafe/fit-in/120x90/filters:format(webp)/gopher.png";
    let first = a.server.get(path);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(a.processed(), 1);
    assert!(first.header("last-modified").is_none(), "freshly processed");
    // A saves the result after answering (as imagor does): B finds it once
    // it is in the bucket (s3s-fs keeps objects as files under the base dir).
    let saved = shared().dir().join("data/imagor").join(&base);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while files_under(&saved, "gopher.png") == 0 && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(files_under(&saved, "gopher.png"), 1, "A saved its result");
    let second = b.server.get(path);
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.body, first.body, "the same image");
    assert_eq!(b.processed(), 0, "served from the shared result storage");
    assert!(
        second.header("last-modified").is_some(),
        "a result-storage hit"
    );
    assert!(second.header("etag").is_some());
    eprintln!("replica A processed 1, replica B processed 0 (served from S3)");
}

#[test]
fn a_burst_across_two_replicas_is_processed_at_most_once_per_replica() {
    let base = unique("burst");
    let replicas = Arc::new([Replica::start(&base), Replica::start(&base)]);
    // One server coalesces identical requests in flight.
    let probe = "/unsafe/fit-in/64x64/filters:format(png)/demo1.jpg";
    let single = burst(&replicas, &[(0, 50)], probe);
    assert_eq!(single, 1, "50 identical requests to one replica");
    // Across replicas: at most one processing each; the later one may
    // already find the first one's result in the bucket.
    let path = "/unsafe/fit-in/100x80/filters:format(webp):quality(70)/demo1.jpg";
    let processed = burst(&replicas, &[(0, 50), (1, 50)], path);
    eprintln!("2 x 50 identical concurrent requests over 2 replicas: {processed} processings");
    assert!(
        (1..=2).contains(&processed),
        "{processed} processings for 2 replicas"
    );
    // Afterwards both serve the stored result without processing.
    let before: u64 = replicas.iter().map(Replica::processed).sum();
    for r in replicas.iter() {
        assert_eq!(r.server.get(path).status, 200);
    }
    let after: u64 = replicas.iter().map(Replica::processed).sum();
    assert_eq!(after, before, "repeat requests are result-storage hits");
}

/// Send `count` concurrent GETs of `path` to each listed replica at once;
/// every answer must be 200 with the same body. Returns the processings
/// this caused, summed over the replicas.
fn burst(replicas: &Arc<[Replica; 2]>, plan: &[(usize, usize)], path: &str) -> u64 {
    let before: u64 = replicas.iter().map(Replica::processed).sum();
    let total: usize = plan.iter().map(|p| p.1).sum();
    let barrier = Arc::new(Barrier::new(total));
    let mut handles = Vec::new();
    for &(i, count) in plan {
        for _ in 0..count {
            let (replicas, barrier, path) =
                (Arc::clone(replicas), Arc::clone(&barrier), path.to_owned());
            handles.push(std::thread::spawn(move || {
                barrier.wait();
                replicas[i].server.get(&path)
            }));
        }
    }
    let responses: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("client"))
        .collect();
    for r in &responses {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.body, responses[0].body);
    }
    let after: u64 = replicas.iter().map(Replica::processed).sum();
    after - before
}
