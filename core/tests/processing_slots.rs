//! Processing slots (`process_slots`): requests of `handle` / `serve` that
//! do pixel work at once. One that finds them all taken waits after its
//! source is loaded and before its `process_timeout` starts, until its
//! request timeout. Work is held inside processing with a detector that
//! waits for a latch, so nothing here depends on how fast the machine is.

mod wait_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imagor::detector::{Detector, Probe, Region};
use imagor::request::Request;
use imagor::{Imagor, Options};
use wait_common::{eventually, eventually_within, Latch};

/// Counts its calls; the first waits for the latch.
struct HoldFirst {
    latch: Latch,
    calls: Arc<AtomicUsize>,
}

impl Detector for HoldFirst {
    fn detect(&self, _key: &str, _probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.latch.wait();
        }
        Ok(Vec::new())
    }

    /// Stands for pixel work: the call keeps its slot meanwhile.
    fn keeps_slot(&self) -> bool {
        true
    }
}

struct Setup {
    imagor: Imagor,
    latch: Latch,
    detected: Arc<AtomicUsize>,
    loaded: Arc<AtomicUsize>,
}

/// What the loader does for a key besides answering the gopher, given the
/// detector's call count.
type OnLoad = Box<dyn Fn(&str, &AtomicUsize) + Send + Sync>;

/// An unsafe instance with `opts`, a loader that counts its calls and
/// answers the gopher for every key (after `on_load`), and [`HoldFirst`].
fn setup(opts: Options, on_load: Option<OnLoad>) -> Setup {
    let gopher = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher");
    let (latch, detected, loaded) = (
        Latch::default(),
        Arc::<AtomicUsize>::default(),
        Arc::<AtomicUsize>::default(),
    );
    let (counted, calls) = (Arc::clone(&loaded), Arc::clone(&detected));
    let imagor = Imagor::new(Options {
        unsafe_: true,
        ..opts
    })
    .expect("imagor")
    .with_loader(Arc::new(move |key: &str| -> imagor::Result<Vec<u8>> {
        counted.fetch_add(1, Ordering::SeqCst);
        if let Some(hook) = &on_load {
            hook(key, &calls);
        }
        Ok(gopher.clone())
    }))
    .with_detector(Arc::new(HoldFirst {
        latch: latch.clone(),
        calls: Arc::clone(&detected),
    }))
    .expect("detector");
    Setup {
        imagor,
        latch,
        detected,
        loaded,
    }
}

/// `process_slots` with a process timeout of 1 s.
fn with_slots(process_slots: i64) -> Options {
    Options {
        process_slots,
        process_timeout: Duration::from_secs(1),
        ..Options::default()
    }
}

/// Longer than the process timeout (1 s), the first call still holds the
/// only slot and `waiting` calls wait for it, none processing beside it.
fn still_one_working_past_the_process_timeout(s: &Setup, waiting: u64) {
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(
        s.detected.load(Ordering::SeqCst),
        1,
        "processing in parallel"
    );
    let stats = s.imagor.stats();
    assert_eq!(
        (stats.working, stats.slot_waiting),
        (1, waiting),
        "{stats:?}"
    );
}

fn start(imagor: &Imagor, path: &str) -> std::thread::JoinHandle<u16> {
    let (imagor, path) = (imagor.clone(), path.to_owned());
    std::thread::spawn(move || imagor.handle(&Request::get(&path)).status)
}

#[test]
fn a_request_waits_for_a_slot_outside_its_process_timeout() {
    let s = setup(with_slots(1), None);
    // The first request holds the only slot inside its processing.
    let first = start(&s.imagor, "/unsafe/60x60/smart/first.png");
    assert!(eventually(|| s.detected.load(Ordering::SeqCst) == 1));
    // The second loads its source, then waits for the slot: longer than
    // its process_timeout (1 s), without starting to process.
    let second = start(&s.imagor, "/unsafe/50x50/smart/second.png");
    assert!(eventually(|| s.loaded.load(Ordering::SeqCst) == 2));
    still_one_working_past_the_process_timeout(&s, 1);
    s.latch.open();
    // The first ran past its own process_timeout inside the detector; the
    // second's budget started when it got the slot.
    assert_eq!(first.join().expect("first"), 408);
    assert_eq!(second.join().expect("second"), 200);
    assert_eq!(s.detected.load(Ordering::SeqCst), 2);
    let stats = s.imagor.stats();
    assert_eq!((stats.working, stats.slot_waiting), (0, 0), "{stats:?}");
}

#[test]
fn without_slots_requests_process_together() {
    let s = setup(with_slots(-1), None);
    let first = start(&s.imagor, "/unsafe/60x60/smart/first.png");
    assert!(eventually(|| s.detected.load(Ordering::SeqCst) == 1));
    let second = start(&s.imagor, "/unsafe/50x50/smart/second.png");
    assert!(eventually(|| s.detected.load(Ordering::SeqCst) == 2));
    assert_eq!(second.join().expect("second"), 200);
    s.latch.open();
    let _ = first.join();
}

#[test]
fn a_slot_wait_ends_at_the_request_timeout() {
    let s = setup(
        Options {
            process_slots: 1,
            request_timeout: Duration::from_millis(500),
            ..Options::default()
        },
        None,
    );
    let (imagor, latch, detected) = (&s.imagor, &s.latch, &s.detected);
    let first = start(imagor, "/unsafe/60x60/smart/first.png");
    assert!(eventually(|| detected.load(Ordering::SeqCst) == 1));
    let started = Instant::now();
    let res = imagor.handle(&Request::get("/unsafe/50x50/smart/second.png"));
    assert_eq!(res.status, 408, "{}", String::from_utf8_lossy(&res.body));
    assert!(started.elapsed() < Duration::from_secs(5));
    latch.open();
    let _ = first.join();
}

/// A request that loads an overlay while it holds the only slot: the load
/// could be this same server's (a watermark URL it serves), whose request
/// needs a slot, so the slot is given back while the overlay loads.
/// Before, the second request below waited for the slot until the
/// overlay's load gave up.
#[test]
fn an_overlay_load_gives_the_slot_back_while_it_runs() {
    let saw_other = Arc::new(AtomicUsize::new(0));
    let in_overlay = Arc::new(AtomicUsize::new(0));
    let (seen, loading) = (Arc::clone(&saw_other), Arc::clone(&in_overlay));
    let on_load: OnLoad = Box::new(move |key, detected| {
        if key == "overlay.png" {
            loading.fetch_add(1, Ordering::SeqCst);
            // The overlay arrives once the other request has processed
            // (its detector ran), or after 5 s.
            if eventually_within(Duration::from_secs(5), || {
                detected.load(Ordering::SeqCst) > 0
            }) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let s = setup(
        Options {
            process_slots: 1,
            ..Options::default()
        },
        Some(on_load),
    );
    let (imagor, latch) = (&s.imagor, &s.latch);
    latch.open();
    let first = start(
        imagor,
        "/unsafe/60x60/filters:watermark(overlay.png,0,0,0)/base.png",
    );
    // The first holds the only slot and is loading its overlay.
    assert!(eventually(|| in_overlay.load(Ordering::SeqCst) == 1));
    let second = start(imagor, "/unsafe/50x50/smart/second.png");
    assert_eq!(second.join().expect("second"), 200);
    assert_eq!(first.join().expect("first"), 200);
    assert_eq!(
        saw_other.load(Ordering::SeqCst),
        1,
        "the overlay's load held the slot"
    );
}

fn gopher() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher")
}

fn start_process(imagor: &Imagor, path: &str) -> std::thread::JoinHandle<imagor::Result<usize>> {
    let (imagor, path) = (imagor.clone(), path.to_owned());
    std::thread::spawn(move || imagor.process(&gopher(), &path).map(|o| o.data.len()))
}

/// In-process calls (`process`, `meta`, ...) share the slots with the
/// requests: from more threads than slots, the rest wait before their
/// budget starts instead of all sharing the cores past their deadlines.
#[test]
fn in_process_calls_wait_for_a_slot_outside_their_process_timeout() {
    let s = setup(with_slots(1), None);
    let first = start_process(&s.imagor, "60x60/smart");
    assert!(eventually(|| s.detected.load(Ordering::SeqCst) == 1));
    let second = start_process(&s.imagor, "50x50/smart");
    let meta = {
        let imagor = s.imagor.clone();
        std::thread::spawn(move || imagor.meta(&gopher(), "40x40/smart").map(|m| m.width))
    };
    assert!(eventually(|| s.imagor.stats().slot_waiting == 2));
    still_one_working_past_the_process_timeout(&s, 2);
    s.latch.open();
    let e = first.join().expect("first").expect_err("past its budget");
    assert_eq!(e.status(), 408, "{e}");
    assert!(second.join().expect("second").expect("second") > 0);
    assert_eq!(meta.join().expect("meta").expect("meta"), 40);
    let stats = s.imagor.stats();
    assert_eq!((stats.working, stats.slot_waiting), (0, 0), "{stats:?}");
}

#[test]
fn an_in_process_slot_wait_ends_at_the_request_timeout() {
    let s = setup(
        Options {
            process_slots: 1,
            request_timeout: Duration::from_millis(500),
            ..Options::default()
        },
        None,
    );
    let first = start_process(&s.imagor, "60x60/smart");
    assert!(eventually(|| s.detected.load(Ordering::SeqCst) == 1));
    let started = Instant::now();
    let e = s
        .imagor
        .process(&gopher(), "50x50")
        .expect_err("every slot stays taken");
    assert_eq!((e.status(), e.code()), (408, "timeout"), "{e}");
    assert!(e.to_string().contains("processing slot"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    s.latch.open();
    let _ = first.join();
}

/// Calls back into the instance from its own detector.
struct Reentrant(Arc<std::sync::OnceLock<Imagor>>);

impl Detector for Reentrant {
    fn detect(&self, key: &str, _probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        let imagor = self.0.get().expect("instance");
        if key.is_empty() {
            imagor.process(&gopher(), "10x10")?;
        } else {
            let res = imagor.handle(&Request::get("/unsafe/10x10/inner.png"));
            assert_eq!(res.status, 200);
        }
        Ok(Vec::new())
    }
}

/// A detector that calls the same instance on the thread that holds the
/// only slot does not wait for itself.
#[test]
fn a_call_from_inside_a_call_does_not_wait_for_its_own_slot() {
    let cell = Arc::new(std::sync::OnceLock::new());
    let imagor = Imagor::new(Options {
        unsafe_: true,
        process_slots: 1,
        request_timeout: Duration::from_secs(20),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(Arc::new(|_: &str| -> imagor::Result<Vec<u8>> {
        Ok(gopher())
    }))
    .with_detector(Arc::new(Reentrant(Arc::clone(&cell))))
    .expect("detector");
    let _ = cell.set(imagor.clone());
    let started = Instant::now();
    imagor.process(&gopher(), "60x60/smart").expect("process");
    let res = imagor.handle(&Request::get("/unsafe/60x60/smart/outer.png"));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Holds every call while the latch is closed.
struct HoldAll {
    latch: Latch,
    calls: Arc<AtomicUsize>,
}

impl Detector for HoldAll {
    fn detect(&self, _key: &str, _probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.latch.wait();
        Ok(Vec::new())
    }

    fn keeps_slot(&self) -> bool {
        true
    }
}

/// The default slots (one per core) are the process's: every instance
/// with the default shares them (every other test here sets its own).
#[test]
fn instances_with_the_default_share_one_set_of_slots() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (latch, calls) = (Latch::default(), Arc::<AtomicUsize>::default());
    let holding = Imagor::new(Options::default())
        .expect("imagor")
        .with_detector(Arc::new(HoldAll {
            latch: latch.clone(),
            calls: Arc::clone(&calls),
        }))
        .expect("detector");
    let other = Imagor::new(Options::default()).expect("imagor");
    let holders: Vec<_> = (0..cores)
        .map(|_| start_process(&holding, "60x60/smart"))
        .collect();
    assert!(eventually(|| calls.load(Ordering::SeqCst) == cores));
    let waiter = start_process(&other, "20x20");
    assert!(eventually(|| other.stats().slot_waiting == 1));
    // Each instance counts its own calls.
    let stats = holding.stats();
    assert_eq!((stats.working, stats.slot_waiting), (cores as u64, 0));
    let stats = other.stats();
    assert_eq!((stats.working, stats.slot_waiting), (0, 1));
    latch.open();
    for h in holders {
        let _ = h.join().expect("holder");
    }
    assert!(waiter.join().expect("waiter").expect("served") > 0);
}

/// Calls back into its instance from another thread and waits for the
/// answer, as a Node detector does (its JavaScript runs on the main thread
/// and its `process` on a worker) or a Python one using a thread pool.
struct CallsBackFromAnotherThread(Arc<std::sync::OnceLock<Imagor>>);

impl Detector for CallsBackFromAnotherThread {
    fn detect(&self, _key: &str, _probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        let imagor = self.0.get().expect("instance").clone();
        std::thread::spawn(move || imagor.process(&gopher(), "10x10").map(|_| Vec::new()))
            .join()
            .expect("the detector's thread")
    }
}

/// A detector gives its call's slot back while it runs (unless it keeps it,
/// as the built-in face detector does): before, a detector whose answer
/// needed a call of the same instance on another thread waited for the
/// slot its own call held, until the request timeout, every time.
#[test]
fn a_detector_calling_back_from_another_thread_is_served() {
    let cell = Arc::new(std::sync::OnceLock::new());
    let imagor = Imagor::new(Options {
        process_slots: 1,
        request_timeout: Duration::from_secs(20),
        ..Options::default()
    })
    .expect("imagor")
    .with_detector(Arc::new(CallsBackFromAnotherThread(Arc::clone(&cell))))
    .expect("detector");
    let _ = cell.set(imagor.clone());
    let started = Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| start_process(&imagor, "60x60/smart"))
        .collect();
    for call in calls {
        assert!(call.join().expect("call").expect("served") > 0);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let stats = imagor.stats();
    assert_eq!((stats.working, stats.slot_waiting), (0, 0), "{stats:?}");
}

/// A loader that loads another key through the instance while an overlay
/// loads: the slot given back twice on one thread, taken back twice,
/// left the only slot taken for good and every later call a 408.
#[test]
fn a_load_nested_in_an_overlay_load_leaves_the_slots_as_they_were() {
    let cell: Arc<std::sync::OnceLock<Imagor>> = Arc::new(std::sync::OnceLock::new());
    let (inner, png) = (Arc::clone(&cell), gopher());
    let imagor = Imagor::new(Options {
        process_slots: 1,
        request_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(Arc::new(move |key: &str| -> imagor::Result<Vec<u8>> {
        match key {
            "alias.png" => inner.get().expect("instance").load("real.png"),
            "inner-call.png" => inner
                .get()
                .expect("instance")
                .process(&png, "20x20/filters:format(png)")
                .map(|o| o.data),
            "real.png" => Ok(png.clone()),
            _ => Err(imagor::Error::NOT_FOUND),
        }
    }));
    let _ = cell.set(imagor.clone());
    for overlay in ["alias.png", "inner-call.png"] {
        let path = format!("fit-in/50x50/filters:watermark({overlay},0,0,0)");
        imagor.process(&gopher(), &path).expect(overlay);
        let stats = imagor.stats();
        assert_eq!((stats.working, stats.slot_waiting), (0, 0), "{overlay}");
        imagor
            .process(&gopher(), "10x10")
            .expect("the slot is free");
    }
}
