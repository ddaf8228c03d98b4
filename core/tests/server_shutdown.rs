//! Graceful shutdown of the real binary (imagor `server.go`, spec §10):
//! with 20 requests in flight, SIGTERM stops accepting at once, every
//! request in flight still completes with 200, and the process exits 0
//! within the shutdown timeout (10 s); a request started after the signal
//! is refused. And what follows an answer: the result's save to the result
//! storage, after the answer as in imagor, which shutdown waits for.
#![cfg(feature = "server")]

mod server_common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use imagor::loader::{BoxFuture, LoadContext, Loader};
use imagor::storage::Storage;
use imagor::Blob;

use server_common::*;

/// imagor's shutdown timeout (no flag).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
const IN_FLIGHT: usize = 20;
/// Real work: a 1600x1600 blur encoded as PNG, under 0.1 s of libvips per
/// request alone, a second or two for 20 at once on two cores.
const SLOW: &str = "/unsafe/1600x1600/filters:blur(15):format(png)/color:red";

#[test]
fn sigterm_finishes_requests_in_flight_and_refuses_new_ones() {
    let metrics_port = free_port();
    let mut server = Server::start(&flags(&[
        ("imagor-unsafe", "true"),
        ("imagor-process-timeout", "10s"),
        // A slot for each request: the in-flight gauge tells when they all
        // run.
        ("imagor-process-concurrency", "20"),
        ("prometheus-bind", &format!("127.0.0.1:{metrics_port}")),
    ]));
    assert_eq!(server.get(SLOW).status, 200, "warm-up");
    let port = server.port;
    let (tx, rx) = mpsc::channel();
    let answered = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    for i in 0..IN_FLIGHT {
        let (tx, answered) = (tx.clone(), Arc::clone(&answered));
        std::thread::spawn(move || {
            // Distinct paths: identical ones would be coalesced into one.
            let slow = format!(
                "/unsafe/{}x1600/filters:blur(15):format(png)/color:red",
                1600 + i
            );
            let r = send(port, &Req::get(&slow));
            answered.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send((i, r.map(|r| (r.status, r.body.len())), Instant::now()));
        });
    }
    drop(tx);
    // Every request is accepted and processing when the signal comes.
    let running = Instant::now() + Duration::from_secs(30);
    loop {
        let text = send(metrics_port, &Req::get("/")).map(|r| r.text());
        let in_flight = text
            .as_deref()
            .map_or(0.0, |t| metric(t, "imagor_process_in_flight"));
        if in_flight == IN_FLIGHT as f64 {
            break;
        }
        assert!(
            Instant::now() < running && answered.load(Ordering::SeqCst) == 0,
            "never {IN_FLIGHT} in flight at once ({in_flight})\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let signalled = Instant::now();
    // SAFETY: kill(2) with a pid we own (our child) and SIGTERM.
    let rc = unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill");

    // New connections are refused once the listener is closed, and it
    // closes while the requests in flight still run.
    let late = loop {
        match send(port, &Req::get("/healthcheck")) {
            Err(refused) => break refused,
            Ok(_) if signalled.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(r) => panic!("requests still answered 5 s after SIGTERM: {}", r.status),
        }
    };
    assert!(
        answered.load(Ordering::SeqCst) < IN_FLIGHT,
        "the listener closed only after every request in flight was answered"
    );

    let mut results: Vec<_> = rx.iter().collect();
    results.sort_by_key(|(i, _, _)| *i);
    assert_eq!(results.len(), IN_FLIGHT, "every request answered");
    let mut after = 0;
    for (i, result, done) in &results {
        match result {
            Ok((200, len)) if *len > 0 => {}
            other => panic!("request {i}: {other:?}\n{}", server.stderr()),
        }
        after += usize::from(*done > signalled);
    }
    let status = server
        .wait_exit(SHUTDOWN_TIMEOUT + Duration::from_secs(2))
        .unwrap_or_else(|| panic!("no exit within the shutdown timeout\n{}", server.stderr()));
    let exited = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(server.stderr().contains("\"msg\":\"shutdown\""));
    // The requests were really in flight when the signal came.
    assert_eq!(after, IN_FLIGHT, "all {IN_FLIGHT} completed after SIGTERM");
    println!(
        "{IN_FLIGHT} in flight: all 200 after SIGTERM; last answer {:?} after start; \
         exit 0 {exited:?} after SIGTERM; late request refused ({})",
        results.iter().map(|r| r.2).max().unwrap() - started,
        late
    );
}

/// Work that nothing stops (one AVIF encode at speed 0 of a photo, some
/// 12 s) outlasting the shutdown timeout: the server returns soon after
/// the timeout without it, as Go's imagor abandons its goroutines when it
/// exits. It used to wait for the work to end, so a decoder stuck in one
/// call kept a server alive for hours after SIGTERM. (In-process, with a
/// shutdown timeout of 1 s, which the binary does not let one set.)
#[test]
fn shutdown_abandons_work_that_outlasts_its_timeout() {
    let port = free_port();
    let imagor = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        avif_speed: 0,
        process_timeout: Duration::from_secs(300),
        file_loader_base_dir: testdata().to_string_lossy().into_owned(),
        ..imagor::Options::default()
    })
    .expect("imagor");
    let opts = imagor::server::ServerOptions {
        addr: format!("127.0.0.1:{port}"),
        shutdown_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let (started, signal) = (Instant::now(), Duration::from_secs(2));
    let server = std::thread::spawn(move || {
        imagor::server::run_until(
            imagor,
            opts,
            async move { tokio::time::sleep(signal).await },
        )
    });
    let request = std::thread::spawn(move || loop {
        match send(
            port,
            &Req::get("/unsafe/1400x1400/filters:format(avif)/faces-astronaut.jpg"),
        ) {
            Err(_) if started.elapsed() < Duration::from_millis(500) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            answer => return answer,
        }
    });
    server.join().expect("server thread").expect("served");
    let returned = started.elapsed();
    // Signal at 2 s, timeout 1 s, 1 s to unwind: the encode alone takes
    // several times that.
    assert!(
        returned < Duration::from_secs(6),
        "returned {returned:?} after start"
    );
    let answer = request.join().expect("request thread");
    assert!(answer.is_err(), "{:?}", answer.map(|r| r.status));
    println!("returned {returned:?} after start, the encode abandoned");
}

/// A gate the test opens; futures waiting on it are woken.
#[derive(Default)]
struct Gate(Mutex<(bool, Vec<Waker>)>);

impl Gate {
    fn open(&self) {
        let mut g = self.0.lock().unwrap();
        g.0 = true;
        for w in g.1.drain(..) {
            w.wake();
        }
    }
}

struct Opened<'a>(&'a Gate);

impl Future for Opened<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.0 .0.lock().unwrap();
        if g.0 {
            return Poll::Ready(());
        }
        g.1.push(cx.waker().clone());
        Poll::Pending
    }
}

/// A result storage that has nothing, and whose saves wait for the gate.
#[derive(Default)]
struct GatedResults {
    gate: Gate,
    lookups: AtomicUsize,
    saved: Mutex<Vec<String>>,
}

impl Loader for GatedResults {
    fn get<'a>(
        &'a self,
        _ctx: LoadContext<'a>,
        _key: &'a str,
    ) -> BoxFuture<'a, imagor::Result<Blob>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(imagor::Error::NOT_FOUND) })
    }
}

impl Storage for GatedResults {
    fn put<'a>(&'a self, key: &'a str, _blob: &'a Blob) -> BoxFuture<'a, imagor::Result<()>> {
        Box::pin(async move {
            Opened(&self.gate).await;
            self.saved.lock().unwrap().push(key.to_owned());
            Ok(())
        })
    }

    fn delete<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, imagor::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// An in-process server on `results`, stopped when `stop` is sent to (or
/// dropped); its thread returns what `run_until` did.
fn serve_with_results(
    results: Arc<GatedResults>,
) -> (
    u16,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let port = free_port();
    let imagor = imagor::Imagor::new(imagor::Options {
        unsafe_: true,
        file_loader_base_dir: testdata().to_string_lossy().into_owned(),
        ..imagor::Options::default()
    })
    .expect("imagor")
    .with_result_storage(results);
    let opts = imagor::server::ServerOptions {
        addr: format!("127.0.0.1:{port}"),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        imagor::server::run_until(imagor, opts, async move {
            let _ = stopped.await;
        })
    });
    (port, stop, server)
}

/// A GET sent from its own thread: its answer, or `None` if none came
/// within 10 s.
fn get_within(port: u16, target: &str) -> Option<Resp> {
    let (tx, rx) = mpsc::channel();
    let target = target.to_owned();
    std::thread::spawn(move || loop {
        match send(port, &Req::get(&target)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(Duration::from_millis(10))
            }
            r => return tx.send(r.expect("an answer")),
        }
    });
    rx.recv_timeout(Duration::from_secs(10)).ok()
}

/// imagor answers a request before it saves the result to the result
/// storages; ours answered only once the save was done (up to the save
/// timeout, 20 s, on a slow store). Identical requests that come while the
/// save runs share the result rather than look for it again.
#[test]
fn the_answer_comes_before_the_result_is_saved() {
    let results = Arc::new(GatedResults::default());
    let (port, stop, server) = serve_with_results(Arc::clone(&results));
    const PATH: &str = "/unsafe/10x10/gopher.png";
    let first = get_within(port, PATH);
    let again = get_within(port, PATH);
    let pending = results.saved.lock().unwrap().len();
    results.gate.open();
    let first = first.expect("answered while the save waits");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(pending, 0, "saved before the gate opened");
    let again = again.expect("the same path, answered while the save waits");
    assert_eq!((again.status, again.body.len()), (200, first.body.len()));
    assert_eq!(
        results.lookups.load(Ordering::SeqCst),
        1,
        "the second shared the first's work"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while results.saved.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        results.saved.lock().unwrap().len(),
        1,
        "saved once the gate opened"
    );
    // Saved: a new request finds the flight gone and looks again.
    assert_eq!(get_within(port, PATH).expect("answered").status, 200);
    assert_eq!(results.lookups.load(Ordering::SeqCst), 2);
    drop(stop);
    server.join().expect("server thread").expect("served");
}

/// Shutdown waits for the saves that follow answers (within its timeout).
#[test]
fn shutdown_waits_for_saves_after_answers() {
    let results = Arc::new(GatedResults::default());
    let (port, stop, server) = serve_with_results(Arc::clone(&results));
    let r = get_within(port, "/unsafe/12x12/gopher.png").expect("answered");
    assert_eq!(r.status, 200);
    let _ = stop.send(());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!server.is_finished(), "returned with a save pending");
    results.gate.open();
    server.join().expect("server thread").expect("served");
    assert_eq!(results.saved.lock().unwrap().len(), 1);
}
