//! The HTTP loader through the real `imagor` binary: the SSRF matrix of
//! SECURITY-NOTES Appendix A over HTTP (403, canary untouched) with the
//! default flags, redirects, names resolving to loopback, a local origin
//! explicitly allowed, the size limit on a streamed body, coalescing of
//! identical requests into one origin fetch, fetches aborted when their
//! request is given up, and the loader's Prometheus figures.
//!
//! Run: `cargo test -p imagor --features server --test server_http_loader`.
#![cfg(feature = "server")]

mod origin;
mod server_common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use origin::{ssrf_matrix, Canary, Origin};
use server_common::*;

/// A server with metrics on a port of its own: (server, metrics port).
fn with_metrics(extra: &[&str]) -> (Server, u16) {
    let port = free_port();
    let mut args = vec![format!("-prometheus-bind=127.0.0.1:{port}")];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (unsafe_server(&refs), port)
}

fn scrape(port: u16) -> String {
    send(port, &Req::get("/")).expect("metrics").text()
}

fn unsafe_server(extra: &[&str]) -> Server {
    let mut args = vec!["-imagor-unsafe".to_owned()];
    args.extend(extra.iter().map(|s| s.to_string()));
    Server::start(&args)
}

/// Percent-encode what cannot go raw into a request target (non-ASCII,
/// `#`, `\`, space), leaving the rest as typed.
fn target_of(url: &str) -> String {
    let mut out = String::from("/unsafe/");
    for b in url.bytes() {
        match b {
            b'#' | b'\\' | b' ' | 0x80..=0xff => out.push_str(&format!("%{b:02X}")),
            _ => out.push(b as char),
        }
    }
    out
}

fn kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_ssrf_matrix_is_refused_over_http_by_default() {
    let canary = Canary::start();
    let (server, metrics) = with_metrics(&[]);
    let mut failures = Vec::new();
    let mut refused = 0;
    for (label, url) in ssrf_matrix(canary.port) {
        let r = server.get(&target_of(&url));
        refused += usize::from(r.text().contains("unauthorized request"));
        // `127.0.0.1#@allowed` sent %-escaped names the host `allowed`
        // (userinfo `127.0.0.1:PORT#`): no such host, 404, and never the
        // canary; every other entry addresses a refused network.
        let ok = match label {
            "fragment" => r.status == 403 || r.status == 404,
            _ => r.status == 403,
        };
        if !ok {
            failures.push(format!("{label} {url}: {} {}", r.status, r.text()));
        }
    }
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));
    assert_eq!(canary.hits(), 0, "the canary was connected to");
    // Every refusal by the address policy is counted, none was fetched.
    let text = scrape(metrics);
    let blocked = metric(&text, "imagor_http_loader_errors_total{class=\"blocked\"}");
    assert_eq!(blocked as usize, refused, "{text}");
    assert!(refused >= 38, "{refused} refused by the address policy");
    assert_eq!(metric(&text, "imagor_http_loader_bytes_total"), 0.0);
    let r = server.get(&format!("/unsafe/http://127.0.0.1:{}/x.jpg", canary.port));
    assert_eq!(
        r.text(),
        error_body(
            &format!(
                "unauthorized request: loopback address blocked: http://127.0.0.1:{}/x.jpg",
                canary.port
            ),
            403
        )
    );
    // Names resolving to loopback (`localhost` is in /etc/hosts here).
    for name in ["localhost", "LOCALHOST.", "localhost.localdomain"] {
        let r = server.get(&format!("/unsafe/http://{name}:{}/x.jpg", canary.port));
        assert!(matches!(r.status, 403 | 404), "{name}: {}", r.status);
        if name != "localhost.localdomain" {
            assert_eq!(r.status, 403, "{name}");
        }
    }
    // Schemes other than http(s).
    for url in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1:70/x",
        "dict://127.0.0.1:11211/stat",
        "data:image/png;base64,iVBORw0KGgo=",
        "ldap://127.0.0.1/x",
        "jar:http://127.0.0.1/x.jar!/y",
    ] {
        let r = server.get(&format!("/unsafe/{url}"));
        assert!(matches!(r.status, 400 | 403), "{url}: {}", r.status);
    }
    assert_eq!(canary.hits(), 0);
}

#[test]
fn an_explicitly_allowed_local_origin_is_served() {
    let origin = Origin::start();
    let server = unsafe_server(&["-http-loader-block-loopback-networks=false"]);
    let r = server.get(&format!(
        "/unsafe/fit-in/40x40/filters:format(png)/{}",
        origin.url("/image/gopher.png")
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("image/png"));
    assert_eq!(sniff(&r.body), "png");
    // The same through the environment, as imagor reads it.
    let env = Server::launch(
        &["-imagor-unsafe".to_owned()],
        Launch {
            env: vec![("HTTP_LOADER_BLOCK_LOOPBACK_NETWORKS".into(), "false".into())],
            ..Launch::default()
        },
    );
    let r = env.get(&format!("/unsafe/filters:raw()/{}", origin.url("/ok")));
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    // Defaults: the same origin is refused.
    let default = unsafe_server(&[]);
    let r = default.get(&format!("/unsafe/{}", origin.url("/image/gopher.png")));
    assert_eq!(r.status, 403);
    assert!(origin.seen().len() == 2, "{:?}", origin.seen());
}

/// `%E9` in the imagor path is the byte 0xE9 (Latin-1 `é`, not UTF-8):
/// imagor unescapes it and Go's `net/url` escapes that byte again, so the
/// origin is asked for `caf%E9.jpg`, not for U+FFFD's `%EF%BF%BD`.
#[test]
fn an_origin_url_with_latin1_escapes_is_fetched_with_its_own_bytes() {
    let origin = Origin::start();
    let server = unsafe_server(&["-http-loader-block-loopback-networks=false"]);
    let url = origin.url("/image/caf%E9.jpg");
    let _ = server.get(&format!("/unsafe/filters:raw()/{url}"));
    let b64 = base64_url(origin.url("/image/caf\u{e9}.jpg").as_bytes());
    let latin1: Vec<u8> = format!("{}/image/caf", origin.url(""))
        .bytes()
        .chain(*b"\xe9.jpg")
        .collect();
    let _ = server.get(&format!(
        "/unsafe/filters:raw()/b64:{}",
        base64_url(&latin1)
    ));
    let _ = server.get(&format!("/unsafe/filters:raw()/b64:{b64}"));
    let targets: Vec<String> = origin.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(
        targets,
        [
            "/image/caf%E9.jpg",
            "/image/caf%E9.jpg",
            "/image/caf%C3%A9.jpg"
        ]
    );
    let r = server.get(&format!("/params/unsafe/{url}"));
    assert!(r.text().contains(r"caf\ufffd.jpg"), "{}", r.text());
}

/// Base64url without padding, as imagor's `b64:` images are written.
fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn redirects_to_refused_targets_are_403() {
    let origin = Origin::start();
    let canary = Canary::start();
    let via = |to: &str| format!("/unsafe/{}", origin.url(&format!("/to/{to}")));
    // Only the origin is an allowed source: a hop to the canary is not.
    let allowed = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        &format!("-http-loader-allowed-sources={}", origin.host()),
    ]);
    let r = allowed.get(&via(&format!("http://127.0.0.1:{}/x.jpg", canary.port)));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.text(), error_body("http source not allowed", 403));
    let r = allowed.get(&format!(
        "/unsafe/filters:raw()/{}",
        origin.url(&format!("/to/{}", origin.url("/ok")))
    ));
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    // Address policy at every hop: 127.0.0.2 blocked by network, and the
    // link-local class still blocked while loopback is lifted.
    let blocked = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        "-http-loader-block-networks=127.0.0.2/32",
    ]);
    for to in [
        format!("http://127.0.0.2:{}/x.jpg", canary.port),
        format!("http://[::ffff:127.0.0.2]:{}/x.jpg", canary.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let r = blocked.get(&via(&to));
        assert_eq!(r.status, 403, "{to}: {}", r.text());
        assert!(r.text().contains("unauthorized request"), "{}", r.text());
    }
    // With the defaults the origin itself is refused before any hop.
    let default = unsafe_server(&[]);
    let r = default.get(&via(&format!("http://127.0.0.1:{}/x.jpg", canary.port)));
    assert_eq!(r.status, 403);
    assert_eq!(canary.hits(), 0);
}

#[test]
fn a_50_mb_body_is_cut_at_the_limit_with_bounded_server_memory() {
    let origin = Origin::start();
    let server = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        "-http-loader-max-allowed-size=1048576",
    ]);
    // Warm up, then measure the server process.
    let r = server.get(&format!("/unsafe/filters:raw()/{}", origin.url("/ok")));
    assert_eq!(r.status, 200);
    let before = kib(server.pid(), "VmRSS:");
    let r = server.get(&format!("/unsafe/{}", origin.url("/big/52428800")));
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), error_body("maximum size exceeded", 400));
    let peak = kib(server.pid(), "VmHWM:");
    let grew = peak.saturating_sub(before);
    println!("server: 50 MB body, 1 MB limit: peak RSS {peak} KiB, {grew} KiB over the warm RSS");
    assert!(grew < 32 * 1024, "peak grew {grew} KiB");
    let r = server.get(&format!("/unsafe/{}", origin.url("/big-cl/52428800")));
    assert_eq!(r.status, 400);
    let r = server.get(&format!("/unsafe/{}", origin.url("/gzip-bomb")));
    assert_eq!(r.status, 400);
    assert!(
        origin.big_written.load(std::sync::atomic::Ordering::SeqCst) < 50 << 20,
        "the origin sent it all"
    );
}

#[test]
fn bad_http_loader_flags_refuse_to_start() {
    for flag in [
        "-http-loader-allowed-source-regexp=(",
        "-http-loader-base-url=not a url",
        "-http-loader-proxy-urls=::",
    ] {
        let out = std::process::Command::new(bin())
            .args(["-imagor-unsafe", flag, "-port", "1"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid configuration"), "{flag}: {err}");
    }
}

#[test]
fn fifty_identical_requests_fetch_the_origin_once() {
    let origin = Origin::start();
    let (server, metrics) = with_metrics(&["-http-loader-block-loopback-networks=false"]);
    // The origin holds its answer until all 50 requests are in: one fetch
    // in flight, 49 requests waiting for it.
    let source = "/held/gopher.png";
    let target = format!(
        "/unsafe/fit-in/64x64/filters:format(png)/{}",
        origin.url(source)
    );
    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (port, barrier, target) = (server.port, barrier.clone(), target.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = send(port, &Req::get(&target)).expect("request");
                (r.status, r.body)
            })
        })
        .collect();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let mut waiting = 0.0;
    while std::time::Instant::now() < until {
        waiting = metric(&scrape(metrics), "imagor_coalesced_waiting");
        if waiting == 49.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    origin.release();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(waiting, 49.0, "requests waiting for the one fetch");
    assert!(
        results.iter().all(|r| r.0 == 200),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert!(results.iter().all(|r| r.1 == results[0].1));
    assert_eq!(sniff(&results[0].1), "png");
    assert_eq!(origin.count(source), 1, "origin fetches");
    let text = scrape(metrics);
    assert_eq!(
        metric(&text, "imagor_http_loader_fetches_total"),
        1.0,
        "{text}"
    );
    assert_eq!(metric(&text, "imagor_processed_total"), 1.0);
    assert_eq!(metric(&text, "imagor_coalesced_requests_total"), 49.0);
    let size = std::fs::metadata(testdata().join("gopher.png"))
        .unwrap()
        .len();
    assert_eq!(metric(&text, "imagor_http_loader_bytes_total"), size as f64);
    // A PNG without interlacing: decoded while it arrived, once.
    assert_eq!(metric(&text, "imagor_http_loader_streamed_total"), 1.0);
}

#[test]
fn a_client_that_leaves_aborts_the_origin_fetch() {
    let origin = Origin::start();
    let (server, metrics) = with_metrics(&["-http-loader-block-loopback-networks=false"]);
    let mut conn = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let head = format!(
        "GET /unsafe/filters:raw()/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        origin.url("/drip")
    );
    conn.write_all(head.as_bytes()).expect("send");
    // Wait until the origin is sending (30 s of body unless stopped).
    let start = std::time::Instant::now();
    while origin.dripping.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "no fetch");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    drop(conn);
    assert!(
        origin.drips_end_within(Duration::from_secs(10)),
        "the fetch went on after the client left"
    );
    let text = scrape(metrics);
    assert_eq!(
        metric(
            &text,
            "imagor_http_loader_errors_total{class=\"cancelled\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(server.get("/healthcheck").status, 200);
}

#[test]
fn a_load_timeout_answers_408_and_aborts_the_origin_fetch() {
    let origin = Origin::start();
    let server = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        "-imagor-load-timeout=300ms",
    ]);
    let r = server.get(&format!("/unsafe/filters:raw()/{}", origin.url("/drip")));
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.text(), error_body("timeout", 408));
    assert!(
        origin.drips_end_within(Duration::from_secs(10)),
        "the origin is still sending after the 408"
    );
}

/// A listener that answers every request with a redirect to
/// `http://127.0.0.1:<server>/unsafe/filters:watermark(<itself>/r/N+1,0,0,50)/gopher.png`
/// (the server's port set once it runs), recording each request's `Via`.
struct LoopBack {
    port: u16,
    server: Arc<std::sync::atomic::AtomicU16>,
    vias: Arc<std::sync::Mutex<Vec<String>>>,
}

impl LoopBack {
    fn start() -> LoopBack {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = Arc::new(std::sync::atomic::AtomicU16::new(0));
        let vias = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (to, seen) = (Arc::clone(&server), Arc::clone(&vias));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut via = String::new();
                let mut line = String::new();
                // `GET /r/N HTTP/1.1`: the next hop asks for N + 1, so
                // that no two hops share a path (identical requests would
                // wait on each other instead: coalescing).
                let _ = reader.read_line(&mut line);
                let n: u32 = line
                    .split(['/', ' '])
                    .find_map(|t| t.parse().ok())
                    .unwrap_or(0);
                line.clear();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("via:") {
                        via = v.trim().to_owned();
                    }
                    line.clear();
                }
                seen.lock().unwrap().push(via);
                let back = format!(
                    "http://127.0.0.1:{}/unsafe/filters:watermark(http://127.0.0.1:{port}/r/{},0,0,50)/gopher.png",
                    to.load(std::sync::atomic::Ordering::SeqCst),
                    n + 1
                );
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 302 Found\r\nLocation: {back}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        LoopBack { port, server, vias }
    }
}

/// An image URL that leads back to a path loading it again took a server
/// thread per hop until all were taken (about 520, every other request
/// waiting 17 s): each fetch now says `Via: 1.1 imagor-rs`, and a request
/// that has passed through three loaders fetches nothing more.
#[test]
fn a_fetch_that_loops_back_to_the_server_ends_after_three_hops() {
    let dir = TempDir::new("loop-back");
    dir.write("gopher.png", &testdata_file("gopher.png"));
    let loop_back = LoopBack::start();
    let server = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        &format!("-file-loader-base-dir={}", dir.join("")),
    ]);
    loop_back
        .server
        .store(server.port, std::sync::atomic::Ordering::SeqCst);
    let started = std::time::Instant::now();
    // The client's own proxies are not named to origins.
    let r = server.send(
        &Req::get(&format!(
            "/unsafe/filters:watermark(http://127.0.0.1:{}/r/0,0,0,50)/gopher.png",
            loop_back.port
        ))
        .header("Via", "1.1 corp-proxy"),
    );
    let vias = loop_back.vias.lock().unwrap().clone();
    assert!(r.status >= 400, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?} {} {:?}",
        started.elapsed(),
        vias.len(),
        &vias[..vias.len().min(5)]
    );
    assert_eq!(
        vias,
        vec![
            "1.1 imagor-rs".to_owned(),
            "1.1 imagor-rs, 1.1 imagor-rs".to_owned(),
            "1.1 imagor-rs, 1.1 imagor-rs, 1.1 imagor-rs".to_owned(),
        ]
    );
    // One server fetching from another (here from itself) is served.
    let r = server.get(&format!(
        "/unsafe/fit-in/10x10/http://127.0.0.1:{}/unsafe/20x20/gopher.png",
        server.port
    ));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Requests waiting on an origin that does not answer held every server
/// thread once there were 512 of them (tokio's default cap): a request
/// for a local file then waited 17 s. 700 now leave room for it.
#[test]
fn requests_stalled_on_an_origin_leave_threads_for_the_others() {
    const STALLED: usize = 700;
    // 700 client sockets and the origin's 700 here: past a soft limit of
    // 1024 descriptors, raised to the hard one as the server does.
    raise_open_file_limit();
    let origin = Origin::start();
    let dir = TempDir::new("stalled-origin");
    dir.write("gopher.png", &testdata_file("gopher.png"));
    let server = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        "-imagor-load-timeout=60s",
        &format!("-file-loader-base-dir={}", dir.join("")),
    ]);
    let held = origin.url("/held/gopher.png");
    let streams: Vec<TcpStream> = (1..=STALLED)
        .map(|width| ask_held(server.port, &held, width))
        .collect();
    // Every one of them reaches the origin (with 512 threads, the rest
    // waited for a thread until the first timed out).
    wait_until_asked(&origin, STALLED);
    let started = std::time::Instant::now();
    let r = server.get("/unsafe/10x10/gopher.png");
    let took = started.elapsed();
    origin.release();
    drop(streams);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(took < Duration::from_secs(5), "a local file took {took:?}");
}

#[test]
fn waits_on_sources_past_their_bound_answer_429_and_local_files_are_served() {
    let origin = Origin::start();
    let dir = TempDir::new("source-waits");
    dir.write("gopher.png", &testdata_file("gopher.png"));
    let server = unsafe_server(&[
        "-http-loader-block-loopback-networks=false",
        "-imagor-max-source-waits=3",
        &format!("-file-loader-base-dir={}", dir.join("")),
    ]);
    let held = origin.url("/held/gopher.png");
    let streams: Vec<TcpStream> = (1..=3)
        .map(|width| ask_held(server.port, &held, width))
        .collect();
    wait_until_asked(&origin, 3);
    // A fourth wait on the origin is refused, not queued.
    let r = server.get(&format!("/unsafe/4x0/{held}"));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(origin.count("/held/gopher.png"), 3, "never asked");
    // A local file needs no wait.
    assert_eq!(server.get("/unsafe/10x10/gopher.png").status, 200);
    // Once the origin answers, the waits are given back.
    origin.release();
    for mut s in streams {
        let mut answer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut answer);
        let status = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
        assert_eq!(status, "HTTP/1.1 200");
    }
    let r = server.get(&format!("/unsafe/5x0/{held}"));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A request for `held` (an origin's `/held/` image) resized to `width`
/// wide: distinct widths are distinct requests, none coalesced into another.
fn ask_held(port: u16, held: &str, width: usize) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET /unsafe/{width}x0/{held} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    s
}

/// Wait (15 s at most) until the origin has been asked for its held image
/// `n` times, and check that it was.
fn wait_until_asked(origin: &Origin, n: usize) {
    let until = std::time::Instant::now() + Duration::from_secs(15);
    while origin.count("/held/gopher.png") < n && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(origin.count("/held/gopher.png"), n);
}

/// The soft limit on open files raised to the hard one.
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a zeroed struct this function owns.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
