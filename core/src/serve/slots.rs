//! Processing slots: how many of an instance's calls do pixel work at
//! once (`process_slots`, by default one per core): requests served
//! (`handle`, `serve`, the server) and in-process calls (`process`,
//! `meta`, ...) alike. Waiters are served first come, first served.
//!
//! `process_timeout` is wall-clock time, and a call that shares the cores
//! with many others gets a fraction of them: with no bound, four requests
//! that each take 1.2 s alone, sent together on two cores, all answered
//! 408 at 2.4 s (32 together: 408 after 8-13 s, every deadline overrun by
//! the work still running). An in-process call waits before its budget
//! starts, for `request_timeout` at most. A request that finds every slot taken waits
//! here, after its source is loaded and before its processing budget
//! starts, until a slot frees, its request timeout passes, or its caller
//! goes away. A slot is given back while its processing waits on a
//! network ([`released_while`]: an overlay's load, which may be this same
//! server's and need a slot here; [`idle_hook`]: a body still arriving),
//! so a slow origin holds none. imagor has no such bound; it has no
//! process timeout either.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crate::call::{Bound, CallScope, Stop, POLL_SLICE};
use crate::error::{Error, Result};
use crate::options::Options;

/// The slots of one instance.
#[derive(Debug)]
pub(crate) struct Slots {
    limit: usize,
    state: Mutex<State>,
    freed: Condvar,
}

/// Slots taken and the calls waiting for one, first come first served.
#[derive(Debug, Default)]
struct State {
    busy: usize,
    /// The tickets of the waiting calls, oldest first.
    queue: VecDeque<u64>,
    next_ticket: u64,
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
    /// The slots `opts.process_slots` asks for: `None` for no bound (-1);
    /// for 0 (one per core), the one set every such instance of the
    /// process shares, since the cores are the process's, not an
    /// instance's (a binding's call with options of its own makes an
    /// instance per call).
    pub(crate) fn new(opts: &Options) -> Option<Arc<Slots>> {
        static PER_CORE: OnceLock<Arc<Slots>> = OnceLock::new();
        match opts.process_slots {
            n if n < 0 => None,
            0 => Some(Arc::clone(PER_CORE.get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                Arc::new(Slots::with_limit(cores))
            }))),
            n => Some(Arc::new(Slots::with_limit(n.min(1 << 20) as usize))),
        }
    }

    fn with_limit(limit: usize) -> Slots {
        Slots {
            limit,
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// A slot for the request in `scope`, waiting while all are taken:
    /// the request's timeout error once its deadline passes,
    /// [`Error::Cancelled`] once its caller is gone. `None` when this
    /// thread holds one of these slots already (a detector calling back
    /// into the same instance): waiting for a second could wait for itself.
    pub(crate) fn take(self: &Arc<Self>, scope: &CallScope) -> Result<Option<Slot>> {
        if self.held_here() {
            return Ok(None);
        }
        let bound = scope.bound(std::time::Duration::ZERO, "request");
        self.take_within(&bound, &scope.stop).map(Some)
    }

    /// A slot for an in-process call (`process`, `meta`, ...) as
    /// [`Slots::take`], waiting `request_timeout` at most (zero: as long
    /// as the holders take, each bounded by its own budget) within the
    /// request being served on this thread, if any.
    pub(crate) fn take_in_process(
        self: &Arc<Self>,
        request_timeout: std::time::Duration,
    ) -> Result<Option<Slot>> {
        if self.held_here() {
            return Ok(None);
        }
        let scope = crate::call::current();
        let bound = scope.bound(request_timeout, "waiting for a processing slot");
        self.take_within(&bound, &scope.stop).map(Some)
    }

    /// Does this thread hold one of these slots?
    fn held_here(self: &Arc<Self>) -> bool {
        HELD.with(|h| h.borrow().as_ref().is_some_and(|s| Arc::ptr_eq(s, self)))
    }

    /// A slot, waiting in turn while all are taken, until `bound` passes
    /// (its error) or `stop` ([`Error::Cancelled`]).
    fn take_within(self: &Arc<Self>, bound: &Bound, stop: &Stop) -> Result<Slot> {
        let mut state = self.lock();
        if state.busy >= self.limit || !state.queue.is_empty() {
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(ticket);
            loop {
                // Those ahead in the queue are served first: a slot is this
                // call's once fewer are ahead of it than slots are free.
                let ahead = state.queue.iter().position(|&t| t == ticket).unwrap_or(0);
                if state.busy + ahead < self.limit {
                    state.queue.retain(|&t| t != ticket);
                    // The next in line may fit too.
                    self.freed.notify_all();
                    break;
                }
                let failed = if stop.stopped() {
                    Some(Error::Cancelled)
                } else if bound.at.is_some_and(|at| Instant::now() >= at) {
                    Some(bound.error.clone())
                } else {
                    None
                };
                if let Some(e) = failed {
                    state.queue.retain(|&t| t != ticket);
                    self.freed.notify_all();
                    return Err(e);
                }
                state = self
                    .freed
                    .wait_timeout(state, POLL_SLICE)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        }
        state.busy += 1;
        drop(state);
        let previous = HELD.with(|h| h.borrow_mut().replace(Arc::clone(self)));
        Ok(Slot {
            slots: Arc::clone(self),
            previous,
        })
    }

    /// `(slots taken, calls waiting for one)` now.
    pub(crate) fn figures(&self) -> (u64, u64) {
        let state = self.lock();
        (state.busy as u64, state.queue.len() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the counts stay valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a slot given back for a while, without waiting.
    fn retake(&self) {
        self.lock().busy += 1;
    }

    /// Give one slot back and wake the waiters (the first in line takes it).
    fn release_one(&self) {
        let mut state = self.lock();
        state.busy = state.busy.saturating_sub(1);
        self.freed.notify_all();
    }

    /// Slots taken now.
    #[cfg(test)]
    fn busy(&self) -> usize {
        self.lock().busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Cancel;
    use std::time::Duration;

    fn slots(n: i64) -> Option<Arc<Slots>> {
        Slots::new(&Options {
            process_slots: n,
            ..Options::default()
        })
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
        let s = slots(1).expect("one slot");
        let scope = CallScope::new(Duration::from_millis(100), &Cancel::new(), 0);
        let held = s.take(&scope).expect("free").expect("a slot");
        assert!(s.take(&scope).expect("held").is_none(), "held here");
        let started = Instant::now();
        let other = Arc::clone(&s);
        let e = std::thread::spawn(move || other.take(&scope).err())
            .join()
            .expect("taker")
            .expect("full until the deadline");
        assert_eq!(e.status(), 408, "{e}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        // An overlay's load gives the slot back while it runs.
        released_while(|| {
            assert_eq!(s.busy(), 0);
            let other = Arc::clone(&s);
            std::thread::spawn(move || {
                let scope = CallScope::new(Duration::from_millis(100), &Cancel::new(), 0);
                let slot = other.take(&scope).expect("free while the holder loads");
                assert!(slot.is_some());
            })
            .join()
            .expect("taker");
        });
        assert_eq!(s.busy(), 1);
        drop(held);
        assert_eq!(s.busy(), 0);
        released_while(|| assert_eq!(s.busy(), 0));
        assert_eq!(s.busy(), 0);
        let _held = s.take_in_process(Duration::ZERO).expect("free again");
        assert_eq!(s.busy(), 1);
        let cancel = Cancel::new();
        let other = Arc::clone(&s);
        let stop = cancel.clone();
        let waiter = std::thread::spawn(move || {
            let waiting = CallScope::new(Duration::from_secs(30), &stop, 0);
            other.take(&waiting).err()
        });
        cancel.cancel();
        assert!(matches!(
            waiter.join().expect("waiter"),
            Some(Error::Cancelled)
        ));
    }

    #[test]
    fn waiters_are_served_first_come_first_served() {
        let s = slots(1).expect("one slot");
        let held = s.take_in_process(Duration::ZERO).expect("free");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..6 {
            let (s2, order) = (Arc::clone(&s), Arc::clone(&order));
            waiters.push(std::thread::spawn(move || {
                let slot = s2.take_in_process(Duration::from_secs(30)).expect("turn");
                order.lock().unwrap().push(i);
                drop(slot);
            }));
            // The next arrives once this one waits.
            let until = Instant::now() + Duration::from_secs(20);
            while s.figures().1 < i + 1 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            assert_eq!(s.figures(), (1, i + 1));
        }
        drop(held);
        for w in waiters {
            w.join().expect("waiter");
        }
        assert_eq!(*order.lock().unwrap(), (0..6).collect::<Vec<u64>>());
        assert_eq!(s.figures(), (0, 0));
    }
}
