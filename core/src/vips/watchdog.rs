//! The deadline watchdog: one thread that wakes when a running call's
//! deadline passes (or its caller goes away) and kills every libvips image
//! of that call ([`Deadline::kill_all`]).
//!
//! libvips checks its kill flag only on the images it is working on, and
//! our `eval` handler sets it only between the chunks a sink computes. A
//! chunk that takes long (a deep chain that rereads its input) would run to
//! its end; with every image of the call killed, the next region libvips
//! prepares on any of them fails, in the middle of the chunk.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::deadline::Deadline;

/// How often the watchdog looks for calls whose caller went away (a
/// deadline's own time is waited for exactly).
const POLL: Duration = Duration::from_millis(50);

/// How often the images of a call past its deadline are killed again,
/// until the call has unwound.
const AGAIN: Duration = Duration::from_millis(5);

struct Watchdog {
    calls: Mutex<Vec<Weak<Deadline>>>,
    wake: Condvar,
}

/// This process's watchdog, started on first use. A child forked after it
/// started has no watchdog thread (and its lock may have been held at the
/// fork), so each process id gets its own.
fn watchdog() -> Option<&'static Watchdog> {
    static STARTED: Mutex<Option<(u32, &'static Watchdog)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, dog)) = *started {
        if owner == pid {
            return Some(dog);
        }
    }
    let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
        calls: Mutex::new(Vec::new()),
        wake: Condvar::new(),
    }));
    // Without the thread, deadlines still fire between chunks (the `eval`
    // handler); nothing else depends on it. It is tried again next time.
    std::thread::Builder::new()
        .name("imagor-deadline".into())
        .spawn(move || run(dog))
        .ok()?;
    *started = Some((pid, dog));
    Some(dog)
}

/// Watch `deadline` until it is dropped.
pub(super) fn track(deadline: &Arc<Deadline>) {
    if let Some(dog) = watchdog() {
        let mut calls = dog.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.push(Arc::downgrade(deadline));
        dog.wake.notify_one();
    }
}

/// A deadline watched moved its time to stop ([`Deadline::reserve`]):
/// wake to recompute when to kill.
pub(super) fn rearm() {
    if let Some(dog) = watchdog() {
        dog.wake.notify_one();
    }
}

fn run(dog: &Watchdog) {
    let mut calls = dog.calls.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let mut next = now + POLL;
        calls.retain(|weak| {
            let Some(deadline) = weak.upgrade() else {
                return false;
            };
            if deadline.due() {
                // A call that already ended keeps its images.
                if !deadline.is_entered() {
                    return false;
                }
                // libvips clears an image's kill flag where it first sees
                // it, and the other threads of the pipeline may be inside
                // a long tile still: kill again until the call has ended.
                deadline.kill_all();
                next = next.min(now + AGAIN);
                return true;
            }
            next = next.min(deadline.stops_at());
            true
        });
        let wait = next.saturating_duration_since(Instant::now());
        calls = if calls.is_empty() {
            dog.wake.wait(calls).unwrap_or_else(|e| e.into_inner())
        } else {
            dog.wake
                .wait_timeout(calls, wait.max(Duration::from_millis(1)))
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0)
        };
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::deadline::Deadline;
    use crate::call::Stop;
    use crate::vips::{BandFormat, BlendMode, Image, Interesting, Size};

    /// `n` stages that each put the previous stage over a blurred copy of
    /// itself (what `fill(blur)` does): a lazy chain that rereads its input, all of whose
    /// work falls inside one chunk of the final copy.
    fn rereading_chain(n: usize) -> Image {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let pixels: Vec<u8> = (0..200 * 200 * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let mut img = Image::from_memory(&pixels, 200, 200, 3, BandFormat::UCHAR).unwrap();
        for _ in 0..n {
            let blurred = img
                .thumbnail_image(200, 200, Size::Force, Interesting::None)
                .and_then(|t| t.gaussblur(50.0))
                .unwrap();
            img = blurred.composite2(&img, BlendMode::Over, 0, 0).unwrap();
        }
        img
    }

    #[test]
    fn a_long_chunk_stops_at_the_deadline() {
        crate::vips::init().unwrap();
        const STAGES: usize = 8;
        let started = Instant::now();
        rereading_chain(STAGES).copy_memory().unwrap();
        let whole = started.elapsed();
        let limit = Duration::from_millis(300);
        let deadline = Deadline::with_stop(limit, "process_timeout", Stop::Never);
        let _entered = deadline.enter();
        let started = Instant::now();
        let result = rereading_chain(STAGES).copy_memory();
        let took = started.elapsed();
        eprintln!("whole {whole:?}, under a {limit:?} deadline {took:?}");
        assert!(
            whole > limit * 4,
            "the chain must outlast the deadline: {whole:?}"
        );
        assert!(result.is_err(), "finished after {took:?}");
        assert!(
            took < limit + Duration::from_millis(300),
            "stopped after {took:?}"
        );
    }

    #[test]
    fn a_reserve_stops_the_work_that_long_before_the_deadline() {
        crate::vips::init().unwrap();
        let limit = Duration::from_millis(1000);
        let reserve = Duration::from_millis(700);
        let deadline = Deadline::with_stop(limit, "process_timeout", Stop::Never);
        let _entered = deadline.enter();
        let started = Instant::now();
        let result = {
            let _reserved = deadline.reserve(reserve);
            rereading_chain(8).copy_memory()
        };
        let took = started.elapsed();
        assert!(result.is_err(), "finished after {took:?}");
        assert!(
            took < limit - reserve + Duration::from_millis(300),
            "stopped after {took:?}"
        );
        let e = deadline.error().to_string();
        assert!(e.contains("would take longer"), "{e}");
        // The reserve ends with its guard: the deadline is as it was.
        assert!(deadline.stops_at() >= deadline.passes_at());
    }
}
