//! Processing slots: how many of an instance's requests do pixel work at
//! once (`process_slots`, by default one per core).
//!
//! `process_timeout` is wall-clock time, and a call that shares the cores
//! with many others gets a fraction of them: with no bound, four requests
//! that each take 1.2 s alone, sent together on two cores, all answered
//! 408 at 2.4 s (32 together: 408 after 8-13 s, every deadline overrun by
//! the work still running). A request that finds every slot taken waits
//! here, after its source is loaded and before its processing budget
//! starts, until a slot frees, its request timeout passes, or its caller
//! goes away. A slot is given back while its processing waits on a
//! network ([`released_while`]: an overlay's load, which may be this same
//! server's and need a slot here; [`idle_hook`]: a body still arriving),
//! so a slow origin holds none. imagor has no such bound; it has no
//! process timeout either.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::call::{CallScope, POLL_SLICE};
use crate::error::{Error, Result};
use crate::options::Options;

/// The slots of one instance.
#[derive(Debug)]
pub(crate) struct Slots {
    limit: usize,
    busy: Mutex<usize>,
    freed: Condvar,
    /// Requests waiting in [`Slots::take`] now.
    waiting: AtomicUsize,
}

thread_local! {
    /// The slots this thread holds one of, while it does ([`Slot`]).
    static HELD: RefCell<Option<Arc<Slots>>> = const { RefCell::new(None) };
}

/// A slot held until dropped; the thread that took it is known to hold it
/// ([`released_while`]).
pub(crate) struct Slot {
    slots: Arc<Slots>,
    previous: Option<Arc<Slots>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release_one();
        HELD.with(|h| *h.borrow_mut() = self.previous.take());
    }
}

/// A hook for a reader of a body still arriving, made on the thread that
/// holds the slot (reads run on libvips' threads): called with `true` as a
/// wait for bytes begins, it gives the slot back; with `false`, it takes
/// it back without waiting. A no-op when this thread holds none.
pub(crate) fn idle_hook() -> Box<dyn Fn(bool) + Send + Sync> {
    match HELD.with(|h| h.borrow().clone()) {
        Some(slots) => Box::new(move |begins| {
            if begins {
                slots.release_one();
            } else {
                slots.retake();
            }
        }),
        None => Box::new(|_| {}),
    }
}

/// Run `f`, an overlay's load (I/O, no pixel work), without the slot this
/// thread holds, if any. A load can reach this same server (a watermark
/// URL it serves), whose request needs a slot: with every slot held by
/// requests waiting on such loads, none would ever free until the
/// timeouts. The slot is taken back afterwards without waiting, so the
/// bound is exceeded by at most the loads under way.
pub(crate) fn released_while<R>(f: impl FnOnce() -> R) -> R {
    let held = HELD.with(|h| h.borrow().clone());
    if let Some(slots) = &held {
        slots.release_one();
    }
    let out = f();
    if let Some(slots) = &held {
        slots.retake();
    }
    out
}

impl Slots {
    /// The slots `opts.process_slots` asks for: `None` for no bound (-1).
    pub(crate) fn new(opts: &Options) -> Option<Slots> {
        let limit = match opts.process_slots {
            n if n < 0 => return None,
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n.min(1 << 20) as usize,
        };
        Some(Slots {
            limit,
            busy: Mutex::new(0),
            freed: Condvar::new(),
            waiting: AtomicUsize::new(0),
        })
    }

    /// A slot for the request in `scope`, waiting while all are taken:
    /// the request's timeout error once its deadline passes,
    /// [`Error::Cancelled`] once its caller is gone.
    pub(crate) fn take(self: &Arc<Self>, scope: &CallScope) -> Result<Slot> {
        /// Counts the request among the waiting while it is.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let _waiting = (*busy >= self.limit).then(|| {
            self.waiting.fetch_add(1, Ordering::Relaxed);
            Waiting(&self.waiting)
        });
        while *busy >= self.limit {
            if scope.stop.stopped() {
                return Err(Error::Cancelled);
            }
            if scope.deadline.is_some_and(|(at, _)| Instant::now() >= at) {
                return Err(scope.timeout_error());
            }
            busy = self
                .freed
                .wait_timeout(busy, POLL_SLICE)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *busy += 1;
        let previous = HELD.with(|h| h.borrow_mut().replace(Arc::clone(self)));
        Ok(Slot {
            slots: Arc::clone(self),
            previous,
        })
    }

    /// `(slots taken, requests waiting for one)` now.
    pub(crate) fn figures(&self) -> (u64, u64) {
        let busy = *self.busy.lock().unwrap_or_else(|e| e.into_inner());
        (busy as u64, self.waiting.load(Ordering::Relaxed) as u64)
    }

    /// Take a slot given back for a while, without waiting.
    fn retake(&self) {
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    /// Give one slot back and wake a waiter.
    fn release_one(&self) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        *busy = busy.saturating_sub(1);
        self.freed.notify_one();
    }

    /// Slots taken now.
    #[cfg(test)]
    fn busy(&self) -> usize {
        *self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Cancel;
    use std::time::Duration;

    fn slots(n: i64) -> Option<Slots> {
        Slots::new(&Options {
            process_slots: n,
            ..Options::default()
        })
    }

    #[test]
    fn a_full_set_waits_until_the_deadline_or_a_free_slot() {
        assert!(slots(-1).is_none());
        assert!(slots(0).is_some_and(|s| s.limit >= 1));
        let s = Arc::new(slots(1).expect("one slot"));
        let scope = CallScope::new(Duration::from_millis(100), &Cancel::new(), 0);
        let held = s.take(&scope).expect("free");
        let started = Instant::now();
        let e = s.take(&scope).err().expect("full until the deadline");
        assert_eq!(e.status(), 408, "{e}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        // An overlay's load gives the slot back while it runs.
        released_while(|| {
            assert_eq!(s.busy(), 0);
            let other = CallScope::new(Duration::from_millis(100), &Cancel::new(), 0);
            drop(s.take(&other).expect("free while the holder loads"));
        });
        assert_eq!(s.busy(), 1);
        drop(held);
        assert_eq!(s.busy(), 0);
        released_while(|| assert_eq!(s.busy(), 0));
        assert_eq!(s.busy(), 0);
        let cancel = Cancel::new();
        let waiting = CallScope::new(Duration::from_secs(30), &cancel, 0);
        let _held = s.take(&waiting).expect("free again");
        cancel.cancel();
        assert!(matches!(s.take(&waiting), Err(Error::Cancelled)));
    }
}
