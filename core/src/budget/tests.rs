//! Unit tests of the per-call budget and the shared pool.

use super::*;

#[test]
fn limits_name_their_option() {
    let opts = Options {
        max_memory: 1 << 20,
        ..Options::default()
    };
    let b = Budget::new(&opts);
    assert!(b.charge_memory("x", 1 << 20).is_ok());
    assert!(b.charge_memory("one more byte", 1).is_err());
    let b = Budget::new(&opts);
    let e = b
        .charge_memory("decoding a 9000x9000 JPEG 2000 tile", 3 << 30)
        .unwrap_err();
    assert_eq!(e.status(), 422);
    assert!(e.to_string().contains("max_memory (1 MiB)"), "{e}");
    assert!(e.to_string().contains("3 GiB"), "{e}");
    let e = b
        .charge_time("blur", Cost::per_pixel(1e9, 100.0))
        .unwrap_err();
    assert_eq!(e.status(), 408);
    assert!(e.to_string().contains("process_timeout (2s)"), "{e}");
    // Charges add up: once over, the call stays over.
    assert!(b.charge_time("cheap", Cost::per_pixel(100.0, 1.0)).is_err());
    let b = Budget::new(&opts);
    assert!(b.charge_time("cheap", Cost::per_pixel(100.0, 1.0)).is_ok());
    let free = Budget::unlimited();
    assert!(free.charge_memory("x", u64::MAX).is_ok());
    assert!(free.charge_time("x", Cost::per_pixel(1e12, 1e9)).is_ok());
}

fn pooled(cap: u64, timeout_ms: u64) -> Options {
    Options {
        max_memory: 0,
        max_total_memory: cap,
        process_timeout: Duration::from_millis(timeout_ms),
        ..Options::default()
    }
}

#[test]
fn unstoppable_work_is_charged_by_the_calls_sharing_the_cores() {
    let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
    // 60% of a 1 s budget: fits alone.
    let cost = Cost::per_pixel(600.0, 1e6);
    let alone = Budget::in_pool(&pooled(1 << 30, 1000), pool);
    alone.charge_memory("work", 1).unwrap();
    alone.charge_unstoppable_time("an encode", cost).unwrap();
    // With twice as many calls working as there are cores, it would
    // take 1.2 s: refused, while work the deadline stops is not.
    let others: Vec<Budget> = (0..2 * cores())
        .map(|_| {
            let b = Budget::in_pool(&pooled(1 << 30, 1000), pool);
            b.charge_memory("work", 1).unwrap();
            b
        })
        .collect();
    let shared = Budget::in_pool(&pooled(1 << 30, 1000), pool);
    shared.charge_memory("work", 1).unwrap();
    let e = shared
        .charge_unstoppable_time("an encode", cost)
        .unwrap_err();
    assert_eq!(e.status(), 408, "{e}");
    assert!(e.to_string().contains("an encode would take about"), "{e}");
    let stoppable = Budget::in_pool(&pooled(1 << 30, 1000), pool);
    stoppable.charge_memory("work", 1).unwrap();
    stoppable.charge_time("a blur", cost).unwrap();
    drop((others, shared, stoppable, alone));
    let after = Budget::in_pool(&pooled(1 << 30, 1000), pool);
    after.charge_memory("work", 1).unwrap();
    after.charge_unstoppable_time("an encode", cost).unwrap();
}

#[test]
fn calls_share_the_total_memory() {
    let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
    let a = Budget::in_pool(&pooled(1000, 5000), pool);
    a.charge_memory("a", 600).unwrap();
    // A working call is refused at once: two of them waiting for each
    // other's bytes would never finish.
    let c = Budget::in_pool(&pooled(1000, 5000), pool);
    c.charge_memory("c", 100).unwrap();
    let started = Instant::now();
    let e = c.charge_memory("c again", 400).unwrap_err();
    assert_eq!(e.status(), 429, "{e}");
    assert!(started.elapsed() < Duration::from_millis(500));
    // First charges fill three quarters of the pool; the last quarter
    // is for the later charges of working calls.
    c.charge_memory("c once more", 250).unwrap();
    drop(c);
    assert_eq!(pool.reserved(), 600, "an ended call gives its bytes back");
    // A call's first charge waits while a working call holds the room.
    let b = std::thread::spawn(move || {
        let b = Budget::in_pool(&pooled(1000, 5000), pool);
        let started = Instant::now();
        b.charge_memory("b", 600).map(|()| (started.elapsed(), b))
    });
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(pool.reserved(), 600, "b must still be waiting");
    a.release_memory(100);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(pool.reserved(), 500, "still not room for b");
    drop(a);
    let (waited, b) = b.join().unwrap().unwrap();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert_eq!(pool.reserved(), 600);
    // ... but only until its deadline.
    let d = Budget::in_pool(&pooled(1000, 100), pool);
    let started = Instant::now();
    let e = d.charge_memory("d", 600).unwrap_err();
    assert_eq!(e.status(), 408, "{e}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(90) && waited < Duration::from_secs(2));
    // Source bytes are in memory already: no room is a 429 at once.
    let e = d.reserve_source(&[0; 500]).unwrap_err();
    assert_eq!(e.status(), 429, "{e}");
    // More than a call may ever take can never be met.
    for bytes in [5000, 800] {
        let e = d.charge_memory("a huge image", bytes).unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(
            e.to_string().contains("max_total_memory (1000 bytes)"),
            "{e}"
        );
    }
    drop((b, d));
    assert_eq!(pool.reserved(), 0);
    assert_eq!(pool.peak(), 950, "never more than the cap");
    // Sources alone fill the pool: with nobody working, nobody will
    // give memory back, so a first charge is refused, not kept waiting.
    let s = Budget::in_pool(&pooled(1000, 5000), pool);
    s.reserve_source(&[0; 700]).unwrap();
    let t = Budget::in_pool(&pooled(1000, 5000), pool);
    let started = Instant::now();
    assert_eq!(t.charge_memory("t", 200).unwrap_err().status(), 429);
    assert!(started.elapsed() < Duration::from_millis(500));
    drop((s, t));
    assert_eq!(pool.reserved(), 0);
    // Calls whose sources fill the pool, nobody working: the oldest
    // waits for room, the newer ones are refused and give theirs back,
    // so one gets through rather than none.
    let old = Budget::in_pool(&pooled(1000, 5000), pool);
    old.reserve_source(&[0; 300]).unwrap();
    let new = Budget::in_pool(&pooled(1000, 5000), pool);
    new.reserve_source(&[0; 300]).unwrap();
    let started = Instant::now();
    assert_eq!(new.charge_memory("new", 300).unwrap_err().status(), 429);
    assert!(started.elapsed() < Duration::from_millis(500));
    let waiter = std::thread::spawn(move || old.charge_memory("old", 300).map(|()| old));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pool.reserved(), 600, "the oldest must still be waiting");
    drop(new);
    let old = waiter.join().unwrap().unwrap();
    assert_eq!(pool.reserved(), 600);
    drop(old);
    assert_eq!(pool.reserved(), 0);
    // Alone, the oldest call has nobody to wait for: refused at once.
    let alone = Budget::in_pool(&pooled(1000, 5000), pool);
    alone.reserve_source(&[0; 300]).unwrap();
    let started = Instant::now();
    assert_eq!(alone.charge_memory("alone", 600).unwrap_err().status(), 429);
    assert!(started.elapsed() < Duration::from_millis(500));
    drop(alone);
    assert_eq!(pool.reserved(), 0);
    // A charge of nothing does not start the work: the call's first
    // real charge still waits as the oldest's does.
    let old = Budget::in_pool(&pooled(1000, 5000), pool);
    old.reserve_source(&[0; 300]).unwrap();
    old.charge_memory("a decoder that streams", 0).unwrap();
    let new = Budget::in_pool(&pooled(1000, 5000), pool);
    new.reserve_source(&[0; 450]).unwrap();
    let waiter = std::thread::spawn(move || old.charge_memory("encoding", 300).map(|()| old));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pool.reserved(), 750, "the oldest must be waiting");
    assert_eq!(new.charge_memory("new", 300).unwrap_err().status(), 429);
    drop(new);
    let old = waiter.join().unwrap().unwrap();
    assert_eq!(pool.reserved(), 600);
    drop(old);
    assert_eq!(pool.reserved(), 0);
    // 0 turns the pool off.
    let free = Budget::in_pool(&pooled(0, 0), pool);
    free.charge_memory("x", u64::MAX).unwrap();
    free.reserve_source(&[0; 1 << 16]).unwrap();
    assert_eq!(pool.reserved(), 0);
}

/// The peak a call charged (which decides whether its end trims glibc's
/// arenas) is kept through releases, and counted without a `max_memory`.
#[test]
fn the_peak_charge_is_kept_with_or_without_a_limit() {
    for max_memory in [0, 1 << 30] {
        let b = Budget::new(&Options {
            max_memory,
            max_total_memory: 0,
            ..Options::default()
        });
        b.charge_memory("a", 40 << 20).unwrap();
        b.charge_memory("b", 30 << 20).unwrap();
        b.release_memory(50 << 20);
        b.charge_memory("c", 10 << 20).unwrap();
        assert_eq!(b.peak_memory(), 70 << 20, "max_memory {max_memory}");
    }
}
