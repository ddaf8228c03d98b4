//! Unit tests of the slots: accounting, order, hand-over, leases.

use super::*;
use crate::request::Cancel;

fn slots(n: i64) -> Option<Arc<Slots>> {
    Slots::new(&Options {
        process_slots: n,
        ..Options::default()
    })
}

/// An instance's figures for the life of the test binary.
fn figures() -> &'static Figures {
    Box::leak(Box::default())
}

fn scope(timeout_ms: u64) -> CallScope {
    CallScope::new(Duration::from_millis(timeout_ms), &Cancel::new(), 0)
}

/// Poll `done` for 20 s at most.
fn eventually(done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while !done() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
    done()
}

#[test]
fn a_full_set_waits_until_the_deadline_or_a_free_slot() {
    assert!(slots(-1).is_none());
    assert!(slots(0).is_some_and(|s| s.limit >= 1));
    assert!(
        Arc::ptr_eq(&slots(0).unwrap(), &slots(0).unwrap()),
        "one set"
    );
    assert!(!Arc::ptr_eq(&slots(1).unwrap(), &slots(1).unwrap()));
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s.take(&scope(100), fig).expect("free").expect("a slot");
    assert!(
        s.take(&scope(100), fig).expect("held").is_none(),
        "held here"
    );
    assert_eq!(fig.now(), (1, 0));
    let started = Instant::now();
    let other = Arc::clone(&s);
    let e = std::thread::spawn(move || other.take(&scope(100), fig).err())
        .join()
        .expect("taker")
        .expect("full until the deadline");
    assert_eq!(e.status(), 408, "{e}");
    assert!(started.elapsed() >= Duration::from_millis(50));
    // An overlay's load gives the slot back while it runs; this thread
    // holds none meanwhile.
    released_while(|| {
        assert_eq!(s.busy(), 0);
        assert!(!s.held_here());
        let other = Arc::clone(&s);
        std::thread::spawn(move || {
            let slot = other
                .take(&scope(100), fig)
                .expect("free while the holder loads");
            assert!(slot.is_some());
        })
        .join()
        .expect("taker");
    });
    assert_eq!(s.busy(), 1);
    assert!(s.held_here());
    drop(held);
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
    assert!(!s.held_here());
    released_while(|| assert_eq!(s.busy(), 0));
    assert_eq!(s.busy(), 0);
    let _held = s.take_in_process(Duration::ZERO, fig).expect("free again");
    assert_eq!(s.busy(), 1);
    let cancel = Cancel::new();
    let other = Arc::clone(&s);
    let stop = cancel.clone();
    let waiter = std::thread::spawn(move || {
        let waiting = CallScope::new(Duration::from_secs(30), &stop, 0);
        other.take(&waiting, fig).err()
    });
    assert!(eventually(|| fig.now().1 == 1));
    cancel.cancel();
    assert!(matches!(
        waiter.join().expect("waiter"),
        Some(Error::Cancelled)
    ));
    assert_eq!(fig.now(), (1, 0));
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..6 {
        let (s2, order) = (Arc::clone(&s), Arc::clone(&order));
        waiters.push(std::thread::spawn(move || {
            let slot = s2.take_in_process(Duration::from_secs(30), fig);
            order.lock().unwrap().push(i);
            drop(slot.expect("turn"));
        }));
        // The next arrives once this one waits.
        assert!(eventually(|| fig.now().1 == i + 1));
        assert_eq!(fig.now(), (1, i + 1));
    }
    drop(held);
    for w in waiters {
        w.join().expect("waiter");
    }
    assert_eq!(*order.lock().unwrap(), (0..6).collect::<Vec<u64>>());
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
}

/// A call taking back the slot it gave back goes before the queue, so
/// the bound holds again once it is back at work.
#[test]
fn a_slot_given_back_is_taken_back_before_the_queue() {
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    let (release_b, b_release) = std::sync::mpsc::channel::<()>();
    let b_in = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c_in = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (b, c) = released_while(|| {
        // While this call loads an overlay, B takes the slot and holds
        // it; C then queues.
        let (s2, b_flag) = (Arc::clone(&s), Arc::clone(&b_in));
        let b = std::thread::spawn(move || {
            let slot = s2.take_in_process(Duration::from_secs(30), fig);
            b_flag.store(true, Ordering::SeqCst);
            let _ = b_release.recv();
            drop(slot);
        });
        assert!(eventually(|| b_in.load(Ordering::SeqCst)));
        let (s3, c_flag) = (Arc::clone(&s), Arc::clone(&c_in));
        let c = std::thread::spawn(move || {
            let slot = s3.take_in_process(Duration::from_secs(30), fig);
            c_flag.store(true, Ordering::SeqCst);
            drop(slot);
        });
        assert!(eventually(|| fig.now().1 == 1));
        // Back from the load while B works: this call waits for B,
        // ahead of C (B finishes once this call is waiting).
        let s4 = Arc::clone(&s);
        std::thread::spawn(move || {
            assert!(eventually(|| s4.lock().returning.len() == 1));
            let _ = release_b.send(());
        });
        (b, c)
    });
    assert!(s.held_here());
    assert_eq!(s.busy(), 1);
    assert!(
        !c_in.load(Ordering::SeqCst),
        "C went before the returning call"
    );
    b.join().expect("b");
    drop(held);
    c.join().expect("c");
    assert!(c_in.load(Ordering::SeqCst));
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
}

/// Waits on a network nested on one thread (a loader that loads
/// another key through the instance) and overlapping on several
/// (libvips' readers of a body still arriving) give the slot back once
/// and take it back once; hooks that outlive the call do nothing.
#[test]
fn nested_and_overlapping_waits_keep_the_count() {
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    released_while(|| released_while(|| assert_eq!(s.busy(), 0)));
    assert_eq!(s.busy(), 1);
    let hook = idle_hook();
    hook(true);
    hook(true);
    assert_eq!(s.busy(), 0);
    hook(false);
    assert_eq!(s.busy(), 0, "one reader still waits");
    hook(false);
    assert_eq!(s.busy(), 1);
    hook(false);
    assert_eq!(s.busy(), 1, "an unmatched end");
    hook(true);
    drop(held);
    assert_eq!(s.busy(), 0);
    hook(false);
    hook(true);
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
    // A panic inside a released spell takes the slot back as it unwinds.
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        released_while(|| panic!("a loader panicked"))
    }));
    assert!(unwound.is_err());
    assert_eq!(s.busy(), 1);
    assert!(s.held_here());
    drop(held);
    assert_eq!(s.busy(), 0);
}

/// A waiter whose time is up leaves the queue; the one behind it is
/// handed the next free slot; a call that takes its slot back out of
/// time goes above the limit until it frees it.
#[test]
fn a_waiter_out_of_time_leaves_its_turn_to_the_next() {
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
    let short = std::thread::spawn(move || s1.take(&scope(150), fig).err());
    assert!(eventually(|| fig.now().1 == 1));
    let long = std::thread::spawn(move || {
        let slot = s2.take(&scope(20_000), fig).expect("served");
        assert!(slot.is_some());
    });
    assert!(eventually(|| fig.now().1 == 2));
    let e = short.join().expect("short").expect("out of time");
    assert_eq!(e.status(), 408);
    assert_eq!(fig.now(), (1, 1));
    drop(held);
    long.join().expect("long");
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
    // Out of time while taking back: above the limit, then back.
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    // A reader's hook made in a request whose time is already up.
    let hook = {
        let _request = crate::call::enter(scope(1));
        std::thread::sleep(Duration::from_millis(5));
        idle_hook()
    };
    hook(true);
    // Another call takes the slot given back, on its own thread.
    let (s3, taken) = (Arc::clone(&s), std::sync::mpsc::channel::<()>());
    let (taken_tx, taken_rx) = taken;
    let (free_tx, free_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let slot = s3.take_in_process(Duration::ZERO, fig).expect("free");
        let _ = taken_tx.send(());
        let _ = free_rx.recv();
        drop(slot);
    });
    taken_rx.recv().expect("taken");
    hook(false);
    assert_eq!(s.busy(), 2);
    let _ = free_tx.send(());
    other.join().expect("other");
    assert_eq!(s.busy(), 1, "freed, not handed on, above the limit");
    drop(hook);
    drop(held);
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
}

/// Another call takes the slot the call of this thread gave back, and
/// holds it until told (or for `most`): the sender tells it.
fn another_call_holds_it(
    s: &Arc<Slots>,
    fig: &'static Figures,
    most: Duration,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (free_tx, free_rx) = std::sync::mpsc::channel::<()>();
    let s2 = Arc::clone(s);
    let other = std::thread::spawn(move || {
        let slot = s2.take_in_process(Duration::from_secs(30), fig);
        let _ = free_rx.recv_timeout(most);
        drop(slot);
    });
    assert!(eventually(|| fig.now() == (2, 0) && s.busy() == 1));
    (free_tx, other)
}

/// A call that ends while one of its readers waits to take its slot back
/// ends at once, and so does the reader's wait: neither waits for the
/// call holding the slot meanwhile.
#[test]
fn a_call_ending_while_its_slot_is_taken_back_waits_for_nobody() {
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s
        .take_in_process(Duration::from_secs(30), fig)
        .expect("free");
    let hook = idle_hook();
    hook(true);
    // Another call takes the slot given back and holds it for 20 s at
    // most (until told).
    let (free_tx, other) = another_call_holds_it(&s, fig, Duration::from_secs(20));
    // The reader's wait ends: it waits to take the slot back.
    let reader = std::thread::spawn(move || {
        let started = Instant::now();
        hook(false);
        started.elapsed()
    });
    assert!(eventually(|| s.lock().returning.len() == 1));
    let started = Instant::now();
    drop(held);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the call's end waited {:?}",
        started.elapsed()
    );
    let waited = reader.join().expect("reader");
    assert!(
        waited < Duration::from_secs(10),
        "the reader waited {waited:?}"
    );
    // The other call still holds its slot alone; then all is free.
    assert_eq!(s.busy(), 1);
    assert!(s.lock().returning.is_empty());
    free_tx.send(()).expect("other");
    other.join().expect("other");
    assert_eq!((s.busy(), fig.now()), (0, (0, 0)));
}

/// Calls whose readers and own thread give their slot back and take it
/// back at random, ending mid-wait: the count never passes the limit and
/// comes back to zero.
#[test]
fn many_waits_and_ends_keep_the_bound_and_the_count() {
    use std::sync::atomic::AtomicUsize;
    let (s, fig) = (slots(2).expect("two slots"), figures());
    let over = Arc::new(AtomicUsize::new(0));
    for round in 0..40u64 {
        let mut calls = Vec::new();
        for c in 0..5u64 {
            let s = Arc::clone(&s);
            let over = Arc::clone(&over);
            calls.push(std::thread::spawn(move || {
                let held = s.take_in_process(Duration::ZERO, fig).expect("slot");
                let hook = Arc::new(idle_hook());
                let mut readers = Vec::new();
                for r in 0..3u64 {
                    let hook = Arc::clone(&hook);
                    let s = Arc::clone(&s);
                    let over = Arc::clone(&over);
                    readers.push(std::thread::spawn(move || {
                        for i in 0..20u64 {
                            hook(true);
                            if (i + r + c + round) % 3 == 0 {
                                std::thread::yield_now();
                            } else {
                                std::thread::sleep(Duration::from_micros(50 * ((i + r) % 4)));
                            }
                            hook(false);
                            if s.busy() > 2 {
                                over.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }));
                }
                for _ in 0..3 {
                    released_while(|| std::thread::sleep(Duration::from_micros(100)));
                }
                std::thread::sleep(Duration::from_micros(200 * ((c + round) % 5)));
                drop(held);
                for r in readers {
                    r.join().expect("reader");
                }
            }));
        }
        for c in calls {
            c.join().expect("call");
        }
        assert_eq!(s.busy(), 0, "round {round}");
        assert!(s.lock().returning.is_empty() && s.lock().queue.is_empty());
    }
    assert_eq!(over.load(Ordering::Relaxed), 0, "busy above the limit");
}

/// A wait that ends while another thread of the same call is taking the
/// slot back goes back to work only with the slot, not beside the call
/// holding it meanwhile.
#[test]
fn a_wait_ending_during_a_retake_waits_for_the_slot() {
    let (s, fig) = (slots(1).expect("one slot"), figures());
    let held = s.take_in_process(Duration::ZERO, fig).expect("free");
    let hook = idle_hook();
    hook(true);
    let (free_tx, other) = another_call_holds_it(&s, fig, Duration::from_millis(300));
    let reader = std::thread::spawn(move || hook(false));
    assert!(eventually(|| s.lock().returning.len() == 1));
    // This call's own thread waits on a network (an overlay) and comes back.
    let started = Instant::now();
    released_while(|| {});
    let back_after = started.elapsed();
    // Back at work: the call should hold its slot now, so the other call
    // must have finished and nobody still be taking a slot back.
    let still_retaking = s.lock().returning.len();
    let _ = free_tx.send(());
    other.join().expect("other");
    reader.join().expect("reader");
    drop(held);
    assert_eq!(s.busy(), 0);
    assert_eq!(
        still_retaking, 0,
        "back at work after {back_after:?} while the other call still held the only slot"
    );
}
