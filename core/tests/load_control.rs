//! Load control through `Imagor::handle`: admission (process concurrency
//! and queue), request coalescing, cancellation and the request, load and
//! save timeouts. Library level: loaders here are test closures or futures
//! that count their calls; core/tests/server_load.rs drives the binary.

mod wait_common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use imagor::loader::{BoxFuture, LoadContext, Loader};
use imagor::request::{Cancel, Request};
use imagor::{Blob, Error, Imagor, Options};
use wait_common::{eventually, Latch};

fn gopher() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher")
}

/// A blocking loader that sleeps `delay`, counts its calls and answers
/// gopher.png for every key.
fn slow_loader(delay: Duration, calls: Arc<AtomicUsize>) -> Arc<dyn Loader> {
    let image = gopher();
    Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(delay);
        Ok(image.clone())
    })
}

/// A blocking loader that counts its calls, waits for `gate` and answers
/// gopher.png for every key.
fn gated_loader(gate: Latch, calls: Arc<AtomicUsize>) -> Arc<dyn Loader> {
    let image = gopher();
    Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        calls.fetch_add(1, Ordering::SeqCst);
        gate.wait();
        Ok(image.clone())
    })
}

fn instance(opts: Options, loader: Arc<dyn Loader>) -> Imagor {
    Imagor::new(Options {
        unsafe_: true,
        ..opts
    })
    .expect("imagor")
    .with_loader(loader)
}

/// A request's status, when it returned and its body.
type Answer = (u16, Instant, Vec<u8>);

/// Start `paths` as requests at once (released together by a barrier);
/// `answered` counts those that returned.
fn start_all(
    imagor: &Imagor,
    paths: Vec<String>,
    answered: &Arc<AtomicUsize>,
) -> Vec<JoinHandle<Answer>> {
    let barrier = Arc::new(Barrier::new(paths.len()));
    paths
        .into_iter()
        .map(|path| {
            let (imagor, barrier) = (imagor.clone(), Arc::clone(&barrier));
            let answered = Arc::clone(answered);
            std::thread::spawn(move || {
                barrier.wait();
                let res = imagor.handle(&Request::get(&path));
                let at = Instant::now();
                answered.fetch_add(1, Ordering::SeqCst);
                (res.status, at, res.body.to_vec())
            })
        })
        .collect()
}

fn join_all(threads: Vec<JoinHandle<Answer>>) -> Vec<Answer> {
    threads
        .into_iter()
        .map(|t| t.join().expect("request thread"))
        .collect()
}

#[test]
fn concurrency_three_queue_six_admits_nine_of_twenty() {
    let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Latch::default());
    let imagor = instance(
        Options {
            process_concurrency: 3,
            process_queue_size: 6,
            ..Options::default()
        },
        gated_loader(gate.clone(), Arc::clone(&calls)),
    );
    // Different sizes: different result keys, so nothing is coalesced.
    let paths = (0..20)
        .map(|i| format!("/unsafe/{}x0/slow-{i}.png", 20 + i))
        .collect();
    let answered = Arc::new(AtomicUsize::new(0));
    let threads = start_all(&imagor, paths, &answered);
    // Refusals come at once: 11 answers while three requests are held in
    // their loads and six wait for a slot.
    let held = eventually(|| {
        let s = imagor.stats();
        answered.load(Ordering::SeqCst) == 11 && (s.in_flight, s.queued) == (3, 6)
    });
    let opened = Instant::now();
    gate.set(true);
    let results = join_all(threads);
    assert!(held, "{:?} {:?}", imagor.stats(), statuses(&results));
    let ok: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    assert_eq!(
        (ok.len(), refused.len()),
        (9, 11),
        "{:?}",
        statuses(&results)
    );
    assert!(refused.iter().all(|r| r.1 < opened) && ok.iter().all(|r| r.1 > opened));
    assert!(refused
        .iter()
        .all(|r| r.2 == br#"{"message":"too many requests","status":429}"#));
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    let stats = imagor.stats();
    assert_eq!((stats.rejected, stats.in_flight, stats.queued), (11, 0, 0));
}

fn statuses<T>(results: &[(u16, T, Vec<u8>)]) -> Vec<u16> {
    results.iter().map(|r| r.0).collect()
}

#[test]
fn a_request_waiting_in_the_queue_ends_at_the_request_timeout() {
    let imagor = instance(
        Options {
            process_concurrency: 1,
            process_queue_size: 5,
            request_timeout: Duration::from_millis(300),
            ..Options::default()
        },
        slow_loader(Duration::from_millis(1000), Arc::new(AtomicUsize::new(0))),
    );
    // Through `serve()`, whose errors name the limit that passed (an HTTP
    // answer's body is imagor's bare `timeout`).
    let errors: Vec<String> = std::thread::scope(|scope| {
        let calls: Vec<_> = ["unsafe/10x0/a.png", "unsafe/11x0/b.png"]
            .into_iter()
            .map(|p| scope.spawn(|| imagor.serve(p)))
            .collect();
        calls
            .into_iter()
            .filter_map(|c| c.join().expect("no panic").err())
            .map(|e| format!("{} {}", e.status(), e.message()))
            .collect()
    });
    // The first holds the slot (its blocking load ends late); the second
    // gives up waiting at 300 ms, with the request's timeout.
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("408 ") && e.contains("request_timeout")),
        "{errors:?}"
    );
}

#[test]
fn fifty_identical_requests_share_one_load_and_one_processing() {
    let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Latch::default());
    let imagor = instance(
        Options::default(),
        gated_loader(gate.clone(), Arc::clone(&calls)),
    );
    let paths = vec!["/unsafe/fit-in/64x64/filters:format(webp)/same.png".to_owned(); 50];
    let threads = start_all(&imagor, paths, &Arc::default());
    // The load is held until the 49 others wait for it.
    let joined = eventually(|| imagor.stats().following == 49);
    gate.set(true);
    let results = join_all(threads);
    assert!(joined, "{:?}", imagor.stats());
    assert!(
        results.iter().all(|r| r.0 == 200),
        "{:?}",
        statuses(&results)
    );
    assert!(
        results.iter().all(|r| r.2 == results[0].2),
        "every answer is the same image"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one load");
    let stats = imagor.stats();
    assert_eq!((stats.processed, stats.loaded, stats.coalesced), (1, 1, 49));
}

#[test]
fn a_leader_that_goes_away_does_not_fail_its_followers() {
    let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Latch::default());
    let imagor = instance(
        Options::default(),
        gated_loader(gate.clone(), Arc::clone(&calls)),
    );
    let path = "/unsafe/fit-in/32x32/leader.png";
    let leader_cancel = Cancel::new();
    let leader = {
        let (imagor, cancel) = (imagor.clone(), leader_cancel.clone());
        std::thread::spawn(move || {
            imagor
                .handle_cancellable(&Request::get(path), &cancel)
                .status
        })
    };
    // The leader is in its load when the followers join, and goes away
    // before the load ends.
    assert!(eventually(|| calls.load(Ordering::SeqCst) == 1));
    let followers: Vec<_> = (0..5)
        .map(|_| {
            let imagor = imagor.clone();
            std::thread::spawn(move || imagor.handle(&Request::get(path)).status)
        })
        .collect();
    let joined = eventually(|| imagor.stats().following == 5);
    leader_cancel.cancel();
    gate.set(true);
    assert!(joined, "{:?}", imagor.stats());
    for f in followers {
        assert_eq!(f.join().expect("follower"), 200);
    }
    let _ = leader.join().expect("leader");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cancelled_request_stops_its_processing() {
    let imagor = Imagor::new(Options {
        unsafe_: true,
        process_timeout: Duration::from_secs(60),
        max_width: 20000,
        max_height: 20000,
        max_resolution: 400_000_000,
        max_memory: 0,
        ..Options::default()
    })
    .expect("imagor");
    // Seconds of blur on a big generated image.
    let path = "/unsafe/6000x6000/filters:blur(60):format(png)/color:gray";
    let uncancelled_probe = Instant::now();
    let cancel = Cancel::new();
    let worker = {
        let (imagor, cancel) = (imagor.clone(), cancel.clone());
        std::thread::spawn(move || {
            let res = imagor.handle_cancellable(&Request::get(path), &cancel);
            (res.status, Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let cancelled_at = Instant::now();
    cancel.cancel();
    let (status, done_at) = worker.join().expect("worker");
    assert_eq!(status, 499);
    let after_cancel = done_at.duration_since(cancelled_at);
    assert!(
        after_cancel < Duration::from_secs(2),
        "stopped {after_cancel:?} after the cancel"
    );
    eprintln!(
        "cancel: stopped {after_cancel:?} after the cancel ({:?} after the start)",
        done_at.duration_since(uncancelled_probe)
    );
}

/// A loader whose answer comes from another thread after `delay`: its
/// future is pending meanwhile, so a timeout can drop it.
struct AsyncSlow {
    delay: Duration,
    dropped: Arc<AtomicUsize>,
}

struct Pending {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    dropped: Arc<AtomicUsize>,
    image: Vec<u8>,
}

impl Future for Pending {
    type Output = imagor::Result<Blob>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.state.lock().expect("state");
        if s.0 {
            return Poll::Ready(Ok(Blob::new(self.image.clone())));
        }
        s.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.state.lock().map(|s| s.0).unwrap_or(true) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Loader for AsyncSlow {
    fn get<'a>(
        &'a self,
        _ctx: LoadContext<'a>,
        _key: &'a str,
    ) -> BoxFuture<'a, imagor::Result<Blob>> {
        let state = Arc::new(Mutex::new((false, None::<Waker>)));
        let (s, delay) = (Arc::clone(&state), self.delay);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut g = s.lock().expect("state");
            g.0 = true;
            if let Some(w) = g.1.take() {
                w.wake();
            }
        });
        Box::pin(Pending {
            state,
            dropped: Arc::clone(&self.dropped),
            image: gopher(),
        })
    }
}

#[test]
fn a_load_past_the_load_timeout_is_dropped_with_a_408() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let imagor = instance(
        Options {
            load_timeout: Duration::from_millis(100),
            ..Options::default()
        },
        Arc::new(AsyncSlow {
            delay: Duration::from_secs(3),
            dropped: Arc::clone(&dropped),
        }),
    );
    let start = Instant::now();
    let res = imagor.handle(&Request::get("/unsafe/10x10/late.png"));
    assert_eq!(res.status, 408);
    assert_eq!(
        String::from_utf8_lossy(&res.body),
        r#"{"message":"timeout","status":408}"#
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the pending load was dropped"
    );

    // A fast enough async load is served.
    let quick = instance(
        Options::default(),
        Arc::new(AsyncSlow {
            delay: Duration::from_millis(50),
            dropped: Arc::new(AtomicUsize::new(0)),
        }),
    );
    assert_eq!(
        quick.handle(&Request::get("/unsafe/10x10/soon.png")).status,
        200
    );
}

#[test]
fn raw_requests_and_result_storage_hits_take_no_processing_slot() {
    let dir = std::env::temp_dir().join(format!("imagor-lc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Latch::default());
    let imagor = instance(
        Options {
            process_concurrency: 1,
            process_queue_size: 0,
            file_result_storage_base_dir: dir.to_string_lossy().into_owned(),
            ..Options::default()
        },
        {
            // Only the busy request's load waits for the gate.
            let (gate, calls, image) = (gate.clone(), Arc::clone(&calls), gopher());
            Arc::new(move |key: &str| -> imagor::Result<Vec<u8>> {
                calls.fetch_add(1, Ordering::SeqCst);
                if key == "busy.png" {
                    gate.wait();
                }
                Ok(image.clone())
            })
        },
    );
    // Store one result first.
    assert_eq!(
        imagor
            .handle(&Request::get("/unsafe/12x0/stored.png"))
            .status,
        200
    );
    // While a slow request holds the only slot, a result-storage hit and a
    // raw() request are still served; another processing request is 429.
    let busy = {
        let imagor = imagor.clone();
        std::thread::spawn(move || imagor.handle(&Request::get("/unsafe/13x0/busy.png")).status)
    };
    let held = eventually(|| imagor.stats().in_flight == 1 && calls.load(Ordering::SeqCst) == 2);
    if !held {
        gate.set(true);
        panic!("the busy request never held its slot: {:?}", imagor.stats());
    }
    assert_eq!(
        imagor
            .handle(&Request::get("/unsafe/14x0/other.png"))
            .status,
        429
    );
    assert_eq!(
        imagor
            .handle(&Request::get("/unsafe/12x0/stored.png"))
            .status,
        200
    );
    assert_eq!(
        imagor
            .handle(&Request::get("/unsafe/filters:raw()/raw.png"))
            .status,
        200
    );
    gate.set(true);
    assert_eq!(busy.join().expect("busy"), 200);
    assert!(imagor.stats().result_hits >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_obeys_the_same_control() {
    let imagor = instance(
        Options {
            load_timeout: Duration::from_millis(50),
            ..Options::default()
        },
        Arc::new(AsyncSlow {
            delay: Duration::from_secs(2),
            dropped: Arc::new(AtomicUsize::new(0)),
        }),
    );
    match imagor.serve("unsafe/10x10/late.png") {
        Err(Error::Timeout(m)) => assert!(m.contains("load"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// imagor's http-055: a client that goes away while the source loads gets
/// 499 with an empty body (what the server would send, had it a client).
#[test]
fn a_cancel_during_a_slow_load_is_499_without_a_body() {
    let imagor = instance(
        Options::default(),
        Arc::new(AsyncSlow {
            delay: Duration::from_secs(1),
            dropped: Arc::new(AtomicUsize::new(0)),
        }),
    );
    let cancel = Cancel::new();
    let c = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1));
        c.cancel();
    });
    let start = Instant::now();
    let res = imagor.handle_cancellable(&Request::get("/unsafe/foo"), &cancel);
    t.join().ok();
    assert_eq!((res.status, res.body.len()), (499, 0));
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "the load was abandoned"
    );
}
