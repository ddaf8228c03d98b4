//! Requests nested in a request of the same instance (a loader calling
//! back into it): they run under the outer request's admission place only
//! while the outer request runs and only one at a time, and a chain that
//! never ends stops at `MAX_NESTED_REQUESTS`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagor::request::{Nesting, MAX_NESTED_REQUESTS};
use imagor::{Imagor, Options};

fn gopher() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .unwrap()
}

/// One place, no queue: what is not admitted is a 429 at once.
fn one_place_options() -> Options {
    Options {
        unsafe_: true,
        process_concurrency: 1,
        process_queue_size: 0,
        http_loader_disable: true,
        ..Options::default()
    }
}

/// An instance on [`one_place_options`] with `loader`.
fn one_place(loader: impl Fn(&str) -> imagor::Result<Vec<u8>> + Send + Sync + 'static) -> Imagor {
    Imagor::new(one_place_options())
        .unwrap()
        .with_loader(Arc::new(loader))
}

/// Loads that take a while, counting how many run at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn slow_load(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A copy of the chain kept after its request ended (a callback's call
/// left running after it answered) lends nothing: its calls are admitted
/// like any other, so with one place and no queue all but one are 429s.
#[test]
fn a_nesting_kept_after_its_request_lends_no_place() {
    let kept: Arc<Mutex<Option<Nesting>>> = Arc::default();
    let gauge = Arc::new(Gauge::default());
    let (keep, g, png) = (Arc::clone(&kept), Arc::clone(&gauge), gopher());
    let im = one_place(move |key| {
        if key == "outer.png" {
            *keep.lock().unwrap() = Some(Nesting::of_this_call());
        } else {
            g.slow_load();
        }
        Ok(png.clone())
    });
    im.serve("unsafe/10x10/outer.png").expect("outer");
    let stale = kept.lock().unwrap().clone().expect("a nesting");
    let results: Vec<_> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let (im, stale) = (&im, stale.clone());
                s.spawn(move || {
                    let _inside = stale.enter();
                    im.serve(&format!("unsafe/10x10/slow{i}.png"))
                        .map_err(|e| e.status())
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let refused = results
        .iter()
        .filter(|r| r.as_ref().err() == Some(&429))
        .count();
    assert!(refused >= 5, "{results:?}");
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1);
}

/// An instance on `opts` whose loader, asked for `outer.png`, asks the
/// instance for four images side by side (threads entering its nesting)
/// and records their statuses; other images load slowly, gauged.
fn fanning_out(opts: Options) -> (Imagor, Arc<Gauge>, Arc<Mutex<Vec<u16>>>) {
    let gauge = Arc::new(Gauge::default());
    let me: Arc<std::sync::OnceLock<Imagor>> = Arc::default();
    let statuses: Arc<Mutex<Vec<u16>>> = Arc::default();
    let (g, me_in, seen, png) = (
        Arc::clone(&gauge),
        Arc::clone(&me),
        Arc::clone(&statuses),
        gopher(),
    );
    let im = Imagor::new(opts)
        .unwrap()
        .with_loader(Arc::new(move |key: &str| {
            if key != "outer.png" {
                g.slow_load();
                return Ok(png.clone());
            }
            let im = me_in.get().expect("instance");
            let nesting = Nesting::of_this_call();
            std::thread::scope(|s| {
                let calls: Vec<_> = (0..4)
                    .map(|i| {
                        let nesting = nesting.clone();
                        s.spawn(move || {
                            let _inside = nesting.enter();
                            im.serve(&format!("unsafe/10x10/inner{i}.png"))
                                .map_or_else(|e| e.status(), |_| 200)
                        })
                    })
                    .collect();
                let mut seen = seen.lock().unwrap();
                seen.extend(calls.into_iter().map(|c| c.join().unwrap()));
            });
            Ok(png.clone())
        }));
    let _ = me.set(im.clone());
    (im, gauge, statuses)
}

/// A loader whose nested calls run side by side: one runs under the outer
/// request's place, the others are admitted like any request (429 here).
#[test]
fn a_place_is_lent_to_one_nested_request_at_a_time() {
    let (im, gauge, statuses) = fanning_out(one_place_options());
    im.serve("unsafe/10x10/outer.png").expect("outer");
    let mut statuses = statuses.lock().unwrap().clone();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429, 429, 429]);
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1);
    // Every place is free again.
    im.serve("unsafe/10x10/after.png").expect("after");
}

/// Nested calls side by side with a queue: each waits its turn for the
/// outer request's place (the one slot, which the outer request holds while
/// it waits for them) and gets it when a sibling gives it back, instead of
/// waiting for a slot of its own until the request timeout.
#[test]
fn nested_calls_side_by_side_take_turns_on_the_outer_place() {
    let (im, gauge, statuses) = fanning_out(Options {
        process_queue_size: 8,
        request_timeout: Duration::from_secs(20),
        ..one_place_options()
    });
    let started = Instant::now();
    im.serve("unsafe/10x10/outer.png").expect("outer");
    let took = started.elapsed();
    assert_eq!(*statuses.lock().unwrap(), [200; 4]);
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1, "one at a time");
    // Four loads of 0.3 s in turn, not a wait for the 20 s timeout.
    assert!(took < Duration::from_secs(10), "{took:?}");
    im.serve("unsafe/10x10/after.png").expect("after");
}

/// A loader that asks its instance for its own request without end stops
/// at `MAX_NESTED_REQUESTS` with a typed error, at once.
#[test]
fn a_loader_asking_for_itself_without_end_stops() {
    let me: Arc<std::sync::OnceLock<Imagor>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (me_in, counted) = (Arc::clone(&me), Arc::clone(&calls));
    let im = Imagor::new(Options {
        unsafe_: true,
        http_loader_disable: true,
        process_concurrency: 1,
        request_timeout: Duration::from_secs(10),
        ..Options::default()
    })
    .unwrap()
    .with_loader(Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        counted.fetch_add(1, Ordering::SeqCst);
        let im = me_in.get().expect("instance");
        im.serve("unsafe/10x10/itself.png").map(|o| o.data.to_vec())
    }));
    let _ = me.set(im.clone());
    let started = Instant::now();
    let e = im.serve("unsafe/10x10/itself.png").unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert!(e.to_string().contains("nested more than"), "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), MAX_NESTED_REQUESTS);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A nested request still running after its outer request ended (a
/// loader that started it and answered without waiting) keeps the place
/// it borrowed: with one place and no queue, a new request is a 429 until
/// it ends, and is served after.
#[test]
fn a_place_stays_taken_while_a_request_nested_in_it_runs() {
    let gauge = Arc::new(Gauge::default());
    let me: Arc<std::sync::OnceLock<Imagor>> = Arc::default();
    let left: Arc<Mutex<Vec<std::thread::JoinHandle<u16>>>> = Arc::default();
    let (g, me_in, running, png) = (
        Arc::clone(&gauge),
        Arc::clone(&me),
        Arc::clone(&left),
        gopher(),
    );
    let im = one_place(move |key| {
        match key {
            "outer.png" => {
                let im = me_in.get().expect("instance").clone();
                let nesting = Nesting::of_this_call();
                let (tx, rx) = std::sync::mpsc::channel();
                running.lock().unwrap().push(std::thread::spawn(move || {
                    let _inside = nesting.enter();
                    let _ = tx.send(());
                    im.serve("unsafe/10x10/left-running.png")
                        .map_or_else(|e| e.status(), |_| 200)
                }));
                // Answer once the nested call has started (and borrowed).
                rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
            "left-running.png" => {
                std::thread::sleep(Duration::from_millis(700));
                g.slow_load();
            }
            _ => {}
        }
        Ok(png.clone())
    });
    let _ = me.set(im.clone());
    im.serve("unsafe/10x10/outer.png").expect("outer");
    // The outer request has ended; the nested one still runs on its place.
    let e = im.serve("unsafe/10x10/other.png").unwrap_err();
    assert_eq!(e.status(), 429, "{e}");
    let nested = left.lock().unwrap().pop().expect("the nested call");
    assert_eq!(nested.join().unwrap(), 200);
    im.serve("unsafe/10x10/other.png")
        .expect("served once the place is free");
}
