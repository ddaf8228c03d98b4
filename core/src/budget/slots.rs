//! How many in-process calls (`process`, `meta` and the pixel calls, from
//! Rust, C, Python or Node) work at once: as many as the cores (at least
//! two); the rest wait their turn within their own deadline.
//!
//! Without a bound, 32 Python threads on 2 cores each got a sixteenth of a
//! core: 85 of 96 calls ran past 2.25 s of a 2 s `process_timeout` (p50
//! 2.8 s, max 3.3 s; a kill needs CPU to unwind). With a slot per core none
//! did (max 2.24 s), and 59 of them succeeded where 80 had, late. A waiting
//! call uses no CPU, and the time it waits counts against its budget, so
//! its estimates see the time left. (Twice the cores still let 12 of 96
//! overrun.) The server admits requests with its own limits
//! (`process_concurrency`) and takes no slot.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::call::POLL_SLICE;
use crate::error::Result;
use crate::vips::deadline::Deadline;

/// A slot held until dropped (or nothing, for a call nested in one that
/// holds a slot on the same thread: a Python loader that calls `process`).
pub(crate) struct Slot {
    counted: bool,
}

thread_local! {
    /// Does a call on this thread hold a slot?
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
}

static SLOTS: Slots = Slots {
    busy: Mutex::new(0),
    freed: Condvar::new(),
};

/// Calls that may work at once.
pub(crate) fn capacity() -> usize {
    super::cores().max(2)
}

impl Slot {
    /// Wait for a slot until `deadline` passes (its error: a timeout
    /// naming the option, or `Cancelled` when the caller is gone).
    pub(crate) fn take(deadline: Option<&Deadline>) -> Result<Slot> {
        if HOLDING.get() {
            return Ok(Slot { counted: false });
        }
        let mut busy = SLOTS.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= capacity() {
            let slice = match deadline {
                Some(d) if d.expired() => return Err(d.error()),
                Some(d) => d.remaining().clamp(Duration::from_millis(1), POLL_SLICE),
                None => POLL_SLICE,
            };
            busy = SLOTS
                .freed
                .wait_timeout(busy, slice)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *busy += 1;
        HOLDING.set(true);
        Ok(Slot { counted: true })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        HOLDING.set(false);
        *SLOTS.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        SLOTS.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_past_the_slots_wait_within_their_deadline() {
        // Hold every slot from other threads.
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let release = std::sync::Arc::new(Mutex::new(release));
        let (taken_tx, taken) = std::sync::mpsc::channel();
        let holders: Vec<_> = (0..capacity())
            .map(|_| {
                let (release, taken_tx) = (release.clone(), taken_tx.clone());
                std::thread::spawn(move || {
                    let slot = Slot::take(None).unwrap();
                    taken_tx.send(()).unwrap();
                    let _ = release.lock().unwrap().recv();
                    drop(slot);
                })
            })
            .collect();
        for _ in 0..capacity() {
            taken.recv().unwrap();
        }
        let short = Deadline::with_stop(
            Duration::from_millis(100),
            "process_timeout",
            crate::call::Stop::Never,
        );
        let e = Slot::take(Some(&short)).err().expect("no slot is free");
        assert_eq!(e.status(), 408, "{e}");
        assert!(e.to_string().contains("process_timeout"), "{e}");
        // One is freed: a waiting call gets it.
        let waiting = std::thread::spawn(|| {
            let d = Deadline::with_stop(
                Duration::from_secs(30),
                "process_timeout",
                crate::call::Stop::Never,
            );
            Slot::take(Some(&d)).map(|_| ())
        });
        hold.send(()).unwrap();
        assert!(waiting.join().unwrap().is_ok());
        // A call nested in one that holds a slot takes none.
        let outer = Slot::take(None).unwrap();
        let inner = Slot::take(Some(&short)).expect("nested");
        assert!(!inner.counted);
        drop((inner, outer));
        drop(hold);
        for h in holders {
            h.join().unwrap();
        }
    }
}
