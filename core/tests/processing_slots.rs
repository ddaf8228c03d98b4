//! Processing slots (`process_slots`): requests of `handle` / `serve` that
//! do pixel work at once. One that finds them all taken waits after its
//! source is loaded and before its `process_timeout` starts, until its
//! request timeout. Work is held inside processing with a detector that
//! waits for a latch, so nothing here depends on how fast the machine is.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use imagor::detector::{Detector, Probe, Region};
use imagor::request::Request;
use imagor::{Imagor, Options};

/// A latch: closed until [`Latch::open`] (30 s at most).
#[derive(Clone, Default)]
struct Latch(Arc<(Mutex<bool>, Condvar)>);

impl Latch {
    fn open(&self) {
        *self.0 .0.lock().expect("latch") = true;
        self.0 .1.notify_all();
    }

    fn wait(&self) {
        let (open, changed) = &*self.0;
        let guard = open.lock().expect("latch");
        let _ = changed
            .wait_timeout_while(guard, Duration::from_secs(30), |open| !*open)
            .expect("latch");
    }
}

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
}

fn eventually(done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done()
}

struct Setup {
    imagor: Imagor,
    latch: Latch,
    detected: Arc<AtomicUsize>,
    loaded: Arc<AtomicUsize>,
}

fn setup(process_slots: i64) -> Setup {
    let gopher = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher");
    let (latch, detected, loaded) = (
        Latch::default(),
        Arc::default(),
        Arc::<AtomicUsize>::default(),
    );
    let counted = Arc::clone(&loaded);
    let imagor = Imagor::new(Options {
        unsafe_: true,
        process_slots,
        process_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        counted.fetch_add(1, Ordering::SeqCst);
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

fn start(imagor: &Imagor, path: &str) -> std::thread::JoinHandle<u16> {
    let (imagor, path) = (imagor.clone(), path.to_owned());
    std::thread::spawn(move || imagor.handle(&Request::get(&path)).status)
}

#[test]
fn a_request_waits_for_a_slot_outside_its_process_timeout() {
    let s = setup(1);
    // The first request holds the only slot inside its processing.
    let first = start(&s.imagor, "/unsafe/60x60/smart/first.png");
    assert!(eventually(|| s.detected.load(Ordering::SeqCst) == 1));
    // The second loads its source, then waits for the slot: longer than
    // its process_timeout (1 s), without starting to process.
    let second = start(&s.imagor, "/unsafe/50x50/smart/second.png");
    assert!(eventually(|| s.loaded.load(Ordering::SeqCst) == 2));
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(
        s.detected.load(Ordering::SeqCst),
        1,
        "processing in parallel"
    );
    let stats = s.imagor.stats();
    assert_eq!((stats.working, stats.slot_waiting), (1, 1), "{stats:?}");
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
    let s = setup(-1);
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
    let gopher = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher");
    let latch = Latch::default();
    let detected = Arc::new(AtomicUsize::new(0));
    let imagor = Imagor::new(Options {
        unsafe_: true,
        process_slots: 1,
        request_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        Ok(gopher.clone())
    }))
    .with_detector(Arc::new(HoldFirst {
        latch: latch.clone(),
        calls: Arc::clone(&detected),
    }))
    .expect("detector");
    let first = start(&imagor, "/unsafe/60x60/smart/first.png");
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
    let gopher = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher");
    let latch = Latch::default();
    let detected = Arc::new(AtomicUsize::new(0));
    let saw_other = Arc::new(AtomicUsize::new(0));
    let in_overlay = Arc::new(AtomicUsize::new(0));
    let (seen, counted, loading) = (
        Arc::clone(&saw_other),
        Arc::clone(&detected),
        Arc::clone(&in_overlay),
    );
    let imagor = Imagor::new(Options {
        unsafe_: true,
        process_slots: 1,
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(Arc::new(move |key: &str| -> imagor::Result<Vec<u8>> {
        if key == "overlay.png" {
            loading.fetch_add(1, Ordering::SeqCst);
            // The overlay arrives once the other request has processed
            // (its detector ran), or after 5 s.
            if eventually_within(Duration::from_secs(5), || {
                counted.load(Ordering::SeqCst) > 0
            }) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(gopher.clone())
    }))
    .with_detector(Arc::new(HoldFirst {
        latch: latch.clone(),
        calls: Arc::clone(&detected),
    }))
    .expect("detector");
    latch.open();
    let first = start(
        &imagor,
        "/unsafe/60x60/filters:watermark(overlay.png,0,0,0)/base.png",
    );
    // The first holds the only slot and is loading its overlay.
    assert!(eventually(|| in_overlay.load(Ordering::SeqCst) == 1));
    let second = start(&imagor, "/unsafe/50x50/smart/second.png");
    assert_eq!(second.join().expect("second"), 200);
    assert_eq!(first.join().expect("first"), 200);
    assert_eq!(
        saw_other.load(Ordering::SeqCst),
        1,
        "the overlay's load held the slot"
    );
}

fn eventually_within(limit: Duration, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done()
}
