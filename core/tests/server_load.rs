//! The server under load, through the real binary on 127.0.0.1: admission
//! (concurrency and queue), coalescing of identical requests (counted by
//! the Prometheus figures), the process timeout and client disconnects
//! stopping the work (CPU use read from /proc), slow clients cut off at
//! the header timeout while others are served, a client that stops reading
//! its answer cut off at the send timeout (the answer counted against
//! `max_total_memory` until then), and no spinning when accepting fails for
//! want of file descriptors.

mod origin;
mod server_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use server_common::{flags, free_port, metric, send, Req, Server};

fn args(extra: &[(&str, &str)]) -> Vec<String> {
    let mut list = vec![
        ("imagor-unsafe", "true"),
        ("http-loader-disable", "true"),
        ("vips-max-width", "20000"),
        ("vips-max-height", "20000"),
        ("vips-max-resolution", "400000000"),
    ];
    list.extend_from_slice(extra);
    flags(&list)
}

/// These tests measure CPU use and arrival order: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// CPU the server uses over `window` after `settle`: near zero once its
/// work has stopped.
fn cpu_after(server: &Server, settle: Duration, window: Duration) -> f64 {
    std::thread::sleep(settle);
    let before = cpu_seconds(server.pid());
    std::thread::sleep(window);
    cpu_seconds(server.pid()) - before
}

#[test]
fn twenty_slow_requests_with_concurrency_three_and_queue_six() {
    let _serial = serial();
    let server = Server::start(&args(&[
        ("imagor-process-concurrency", "3"),
        ("imagor-process-queue-size", "6"),
        ("imagor-process-timeout", "60s"),
    ]));
    let barrier = Arc::new(Barrier::new(20));
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let (port, barrier) = (server.port, Arc::clone(&barrier));
            std::thread::spawn(move || {
                // About a second of blur each; different sizes, different keys.
                let target = format!(
                    "/unsafe/{}x1800/filters:blur(25):format(png)/color:gray",
                    1800 + i
                );
                barrier.wait();
                let start = Instant::now();
                let res = send(port, &Req::get(&target)).expect("request");
                (res.status, start.elapsed(), res.text())
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let ok: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    assert_eq!(
        (ok.len(), refused.len()),
        (9, 11),
        "{:?}\n{}",
        results.iter().map(|r| r.0).collect::<Vec<_>>(),
        server.stderr()
    );
    assert!(refused
        .iter()
        .all(|r| r.2 == r#"{"message":"too many requests","status":429}"#));
    let slowest_refusal = refused.iter().map(|r| r.1).max().unwrap_or_default();
    let fastest_ok = ok.iter().map(|r| r.1).min().unwrap_or_default();
    assert!(
        slowest_refusal < fastest_ok,
        "429s come before any processing ends"
    );
    eprintln!("HTTP admission: 9 x 200, 11 x 429; slowest 429 {slowest_refusal:?}, fastest 200 {fastest_ok:?}");
}

/// A server on `testdata/` with its metrics on a port of their own, and
/// that port.
fn server_with_metrics(extra: &[(&str, &str)]) -> (Server, u16) {
    let metrics_port = free_port();
    let testdata = server_common::testdata().to_string_lossy().into_owned();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let mut list = vec![
        ("file-loader-base-dir", testdata.as_str()),
        ("prometheus-bind", metrics.as_str()),
    ];
    list.extend_from_slice(extra);
    (Server::start(&args(&list)), metrics_port)
}

#[test]
fn fifty_identical_requests_are_processed_once() {
    let _serial = serial();
    let (server, metrics_port) = server_with_metrics(&[("imagor-process-timeout", "60s")]);
    // About a second of work: every request arrives while it runs.
    let target = "/unsafe/2500x2500/filters:blur(20):format(webp)/demo1.jpg";
    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (port, barrier) = (server.port, Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let res = send(port, &Req::get(target)).expect("request");
                (res.status, res.body)
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(results.iter().all(|r| r.0 == 200));
    assert!(results.iter().all(|r| r.1 == results[0].1));
    let text = send(metrics_port, &Req::get("/")).expect("metrics").text();
    assert_eq!(metric(&text, "imagor_processed_total"), 1.0, "{text}");
    assert_eq!(metric(&text, "imagor_loaded_total"), 1.0);
    assert_eq!(metric(&text, "imagor_coalesced_requests_total"), 49.0);
    assert_eq!(metric(&text, "imagor_process_in_flight"), 0.0);
    assert_eq!(metric(&text, "imagor_process_working"), 0.0);
    assert_eq!(metric(&text, "imagor_process_slot_waiting"), 0.0);
    assert_eq!(metric(&text, "imagor_memory_refused_total"), 0.0);
    // The work is done: its memory is back in the process-wide pool once
    // the answers are sent. An answer counts until the server has written
    // its last byte and dropped it, which may come a moment after a client
    // has read that byte (a clean-clone CI run read 45658 bytes, one
    // answer, still reserved).
    let reserved = reserved_when(metrics_port, Duration::from_secs(10), |r| r == 0.0);
    assert_eq!(reserved, 0.0);
}

#[test]
fn the_memory_limits_are_flags_and_sources_count_before_they_are_read() {
    let _serial = serial();
    let dir = server_common::TempDir::new("memory-flags");
    dir.write("large.jpg", &vec![0u8; 1 << 20]);
    dir.write("gopher.png", &server_common::testdata_file("gopher.png"));
    let gopher = server_common::testdata_file("gopher.png");
    let limit = |res: &server_common::Resp, what: &str| {
        let text = res.text();
        res.status == 422 && text.contains(what) && text.contains("max_total_memory (1 MiB)")
    };
    // The file loader: a file past what a call may take of the pool is
    // refused on its size; one that fits is served and given back.
    let metrics_port = free_port();
    let server = Server::start(&args(&[
        ("file-loader-base-dir", &dir.path().to_string_lossy()),
        ("imagor-max-total-memory", "1048576"),
        ("prometheus-bind", &format!("127.0.0.1:{metrics_port}")),
    ]));
    let res = server.get("/unsafe/large.jpg");
    assert!(
        limit(&res, "the image file needs about 1 MiB"),
        "{}",
        res.text()
    );
    assert_eq!(server.get("/unsafe/32x32/gopher.png").status, 200);
    let reserved = reserved_when(metrics_port, Duration::from_secs(10), |r| r == 0.0);
    assert_eq!(reserved, 0.0);
    drop(server);
    // Uploads: refused on their announced length before they are read;
    // and -imagor-max-memory bounds one call's processing.
    let server = Server::start(&args(&[
        ("upload-loader-enable", "true"),
        ("imagor-max-total-memory", "1048576"),
        ("imagor-max-memory", "100000"),
    ]));
    let upload = |path: &str, body: &[u8]| {
        server.send(
            &Req::new("POST", path)
                .header("Content-Type", "image/png")
                .body(body),
        )
    };
    let res = upload("/unsafe/", &vec![0u8; 900_000]);
    assert!(
        limit(&res, "the upload needs about 879 KiB"),
        "{}",
        res.text()
    );
    assert_eq!(upload("/unsafe/filters:raw()/", &gopher).status, 200);
    let res = upload("/unsafe/200x200/", &gopher);
    assert_eq!(res.status, 422, "{}", res.text());
    assert!(res.text().contains("max_memory (98 KiB)"), "{}", res.text());
}

/// With uploads on, a GET's file-loader error is what answers, not the
/// upload loader's "not found" (which has nothing for a GET): a file over
/// `max_memory` stays a 422 (before: 404, as imagor answers).
#[test]
fn uploads_on_do_not_turn_loader_errors_into_not_found() {
    let _serial = serial();
    let dir = server_common::TempDir::new("upload-masks");
    dir.write("large.jpg", &vec![0u8; 200_000]);
    let server = Server::start(&args(&[
        ("upload-loader-enable", "true"),
        ("file-loader-base-dir", &dir.path().to_string_lossy()),
        ("imagor-max-memory", "100000"),
    ]));
    let res = server.get("/unsafe/large.jpg");
    assert_eq!(res.status, 422, "{}", res.text());
    assert!(res.text().contains("max_memory"), "{}", res.text());
    assert_eq!(server.get("/unsafe/missing.jpg").status, 404);
}

/// An upload that announces a large body and then stalls holds no room in
/// `max_total_memory`: the room follows the bytes that came, so others are
/// served meanwhile (before, the announced length was reserved until the
/// request timeout, and a few such sockets locked every call out).
#[test]
fn stalled_uploads_hold_only_the_bytes_they_sent() {
    let _serial = serial();
    let dir = server_common::TempDir::new("stalled-uploads");
    dir.write(
        "gopher.png",
        &server_common::testdata_file("gopher-front.png"),
    );
    let server = Server::start(&args(&[
        ("upload-loader-enable", "true"),
        ("file-loader-base-dir", &dir.path().to_string_lossy()),
        ("imagor-max-total-memory", "1048576"),
        ("imagor-request-timeout", "30s"),
    ]));
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            c.write_all(
                b"POST /unsafe/ HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\
                  Content-Length: 780000\r\n\r\n\x89PNG",
            )
            .expect("send");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let res = server.get("/unsafe/32x32/gopher.png");
    assert_eq!(res.status, 200, "{}", res.text());
    drop(stalled);
}

/// A file loader refusing a source for want of room in `max_total_memory`
/// ends the lookup with its 429: the HTTP loader after it (which would
/// meet the same pool) is not asked, so no name is looked up and no
/// origin reached. Under a flood of such keys, each went on to a DNS
/// lookup and the 429s came after up to 20 s.
#[test]
fn a_full_pool_answers_429_without_asking_later_loaders() {
    let _serial = serial();
    let canary = origin::Canary::start();
    let dir = server_common::TempDir::new("full-pool");
    let key = format!("127.0.0.1:{}/big.png", canary.port);
    // The file loader escapes the colon in its file names, as imagor's.
    let file = format!("127.0.0.1%3A{}/big.png", canary.port);
    dir.write(&file, &server_common::testdata_file("gopher.png"));
    let mut list = vec![
        ("imagor-unsafe", "true"),
        ("upload-loader-enable", "true"),
        ("file-loader-base-dir", &*dir.path().to_string_lossy()),
        ("imagor-max-total-memory", "1048576"),
        ("imagor-request-timeout", "30s"),
        ("http-loader-default-scheme", "http"),
        ("http-loader-block-loopback-networks", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect::<Vec<_>>();
    list.sort();
    let pairs: Vec<(&str, &str)> = list.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&flags(&pairs));
    // An upload that has sent 700 KB of its 780 holds them.
    let mut held = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    held.write_all(
        b"POST /unsafe/ HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\
          Content-Length: 780000\r\n\r\n",
    )
    .expect("send");
    held.write_all(&vec![0u8; 700_000]).expect("send body");
    std::thread::sleep(Duration::from_millis(500));
    let res = server.get(&format!("/unsafe/32x32/{key}"));
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(canary.hits(), 0, "the HTTP loader reached the origin");
    drop(held);
}

/// An upload whose chunked body is malformed is a 400 that says so (it
/// was reported as `maximum size exceeded`).
#[test]
fn a_malformed_upload_body_is_a_400_that_says_so() {
    let _serial = serial();
    let server = Server::start(&args(&[("upload-loader-enable", "true")]));
    let mut conn = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(
        b"POST /unsafe/ HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
    )
    .expect("send");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("reading the request body"), "{answer}");
}

#[test]
fn a_process_timeout_answers_408_and_the_work_stops() {
    let _serial = serial();
    let server = Server::start(&args(&[("imagor-process-timeout", "1s")]));
    let start = Instant::now();
    let res = server.get("/unsafe/6000x6000/filters:blur(50):format(png)/color:gray");
    let took = start.elapsed();
    assert_eq!(res.status, 408, "{}", res.text());
    // imagor's body; the only limit this request can meet is the process
    // timeout (the request timeout is 30 s).
    assert_eq!(res.text(), r#"{"message":"timeout","status":408}"#);
    let cpu = cpu_after(&server, Duration::from_millis(500), Duration::from_secs(1));
    assert!(
        cpu < 0.3,
        "the server used {cpu:.2} s of CPU in the second after the 408"
    );
    eprintln!("process timeout: 408 after {took:?}; {cpu:.3} CPU s in the next second");
}

#[test]
fn a_client_that_disconnects_stops_its_work() {
    let _serial = serial();
    let server = Server::start(&args(&[("imagor-process-timeout", "60s")]));
    let mut conn = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    conn.write_all(
        b"GET /unsafe/6000x6000/filters:blur(60):format(png)/color:gray HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .expect("send");
    std::thread::sleep(Duration::from_millis(700));
    let busy = cpu_after(&server, Duration::ZERO, Duration::from_millis(500));
    drop(conn);
    let idle = cpu_after(&server, Duration::from_millis(500), Duration::from_secs(1));
    assert!(busy > 0.3, "the work was running: {busy:.2} CPU s in 0.5 s");
    assert!(
        idle < 0.3,
        "the work went on after the client left: {idle:.2} CPU s in 1 s"
    );
    // The server still answers.
    assert_eq!(server.get("/healthcheck").status, 200);
    eprintln!("disconnect: {busy:.3} CPU s per 0.5 s before, {idle:.3} per 1 s after");
}

#[test]
fn slow_header_senders_are_cut_off_while_others_are_served() {
    let _serial = serial();
    let server = Server::start(&args(&[(
        "file-loader-base-dir",
        &server_common::testdata().to_string_lossy(),
    )]));
    let port = server.port;
    let start = Instant::now();
    let slow: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                c.set_read_timeout(Some(Duration::from_millis(50))).ok();
                let head = b"GET /healthcheck HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
                for b in head.iter().cycle() {
                    if c.write_all(&[*b]).is_err() {
                        break;
                    }
                    let mut buf = [0u8; 256];
                    match c.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                    std::thread::sleep(Duration::from_millis(950));
                    if start.elapsed() > Duration::from_secs(25) {
                        return None;
                    }
                }
                Some(start.elapsed())
            })
        })
        .collect();
    // Meanwhile, normal requests are answered.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_secs(1));
        let res = server.get("/unsafe/fit-in/40x40/gopher.png");
        assert_eq!(res.status, 200);
    }
    let closed: Vec<Option<Duration>> = slow.into_iter().map(|t| t.join().expect("slow")).collect();
    assert!(
        closed.iter().all(Option::is_some),
        "every slow connection was closed"
    );
    let latest = closed.iter().flatten().max().copied().unwrap_or_default();
    assert!(latest < Duration::from_secs(15), "closed by {latest:?}");
    eprintln!(
        "slowloris: 100 slow connections closed by {latest:?}; 5 normal requests served meanwhile"
    );
}

/// The server's `imagor_memory_reserved_bytes` once `done` holds of it, or
/// the last value read after `within`.
fn reserved_when(metrics_port: u16, within: Duration, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        let text = send(metrics_port, &Req::get("/")).expect("metrics").text();
        let reserved = metric(&text, "imagor_memory_reserved_bytes");
        if done(reserved) || Instant::now() > deadline {
            return reserved;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_client_that_stops_reading_is_cut_off_and_its_answer_counts_until_then() {
    let _serial = serial();
    let (server, metrics_port) = server_with_metrics(&[
        ("imagor-process-timeout", "30s"),
        // The send timeout is the request timeout.
        ("imagor-request-timeout", "3s"),
    ]);
    // A 16 MB answer: more than the kernel buffers of a loopback socket.
    let target = "/unsafe/2000x2000/filters:format(tiff)/gopher.png";
    let mut c = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(c, "GET {target} HTTP/1.1\r\nHost: slow\r\n\r\n").expect("request");
    // The first bytes of the answer: the work is over, its memory given
    // back; from now on the client takes nothing more.
    c.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut got = vec![0u8; 1024];
    let first = c.read(&mut got).expect("the answer starts");
    got.truncate(first);
    let start = Instant::now();
    // While the client takes none of it, the answer is held and counted.
    std::thread::sleep(Duration::from_millis(500));
    let held = reserved_when(metrics_port, Duration::ZERO, |_| true);
    assert!(
        (15e6..17e6).contains(&held),
        "the answer alone is counted while held: {held}"
    );
    // Past the send timeout, the connection is cut off: the client gets
    // only what the kernel buffers held.
    std::thread::sleep(Duration::from_secs(6));
    let _ = c.read_to_end(&mut got);
    let cut = start.elapsed();
    let head_end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("content-length");
    let body = got.len() - head_end - 4;
    assert!(length > 15_000_000 && body < length, "{body} of {length}");
    assert!(cut < Duration::from_secs(25), "cut off after {cut:?}");
    // Its memory is given back.
    let after = reserved_when(metrics_port, Duration::from_secs(10), |r| r == 0.0);
    assert_eq!(after, 0.0);
    // A client that reads is served the whole answer.
    let res = server.get(target);
    assert_eq!((res.status, res.body.len()), (200, length));
    eprintln!("slow reader: {held} bytes counted while held, cut off after {cut:?} with {body} of {length} bytes");
}

/// Set the server's soft limit of open files to `soft`.
fn limit_open_files(pid: u32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a null new limit only reads the old one into `old`.
    let read = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            std::ptr::null(),
            &mut old,
        )
    };
    assert_eq!(read, 0, "prlimit read");
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: both pointers are valid for the call.
    let set = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &new,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "prlimit set");
}

#[test]
fn out_of_file_descriptors_the_server_waits_to_accept_instead_of_spinning() {
    let _serial = serial();
    let server = Server::start(&args(&[(
        "file-loader-base-dir",
        &server_common::testdata().to_string_lossy(),
    )]));
    let pid = server.pid();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .count() as u64;
    limit_open_files(pid, open + 4);
    // More connections than the server may open: the kernel completes
    // them, and accepting the rest fails with EMFILE.
    let conns: Vec<TcpStream> = (0..30)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).expect("connect"))
        .collect();
    let busy = cpu_after(&server, Duration::from_millis(500), Duration::from_secs(2));
    assert!(
        busy < 0.5,
        "accepting in a loop: {busy:.2} CPU s in 2 s\n{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("\"msg\":\"accept\""),
        "the failure is logged:\n{}",
        server.stderr()
    );
    // With descriptors back, it serves again.
    drop(conns);
    limit_open_files(pid, 4096);
    let res = server.get("/unsafe/fit-in/40x40/gopher.png");
    assert_eq!(res.status, 200);
    eprintln!("EMFILE: {busy:.3} CPU s in 2 s while accepting failed");
}
