//! Processing slots: how many calls do pixel work at once
//! (`process_slots`, by default one per core, shared by the process):
//! requests served (`handle`, `serve`, the server) and in-process calls
//! (`process`, `meta`, ...) alike. Waiters are served first come, first
//! served.
//!
//! `process_timeout` is wall-clock time, and a call that shares the cores
//! with many others gets a fraction of them: with no bound, four requests
//! that each take 1.2 s alone, sent together on two cores, all answered
//! 408 at 2.4 s (32 together: 408 after 8-13 s, every deadline overrun by
//! the work still running). A call that finds every slot taken waits here
//! before its processing budget starts (a request after its source is
//! loaded), until a slot frees, its request timeout passes (an in-process
//! call's `request_timeout`), or its caller goes away.
//!
//! A slot is given back while its call waits on something else: a network
//! ([`released_while`]: an overlay's load, which may be this same server's
//! and need a slot here; [`idle_hook`]: a body still arriving) or a
//! detector that may call back into the instance from another thread. It
//! is taken back ahead of every waiter, as soon as one frees, so a slow
//! origin holds none and the bound holds again once the calls are back at
//! work. imagor has no such bound; it has no process timeout either.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::call::{Bound, CallScope, Stop};
use crate::error::{Error, Result};
use crate::options::Options;

/// How often a waiting call looks whether its caller is gone (a slot
/// handed to it wakes it at once): hundreds may wait, each woken this
/// often (at 20 ms, 500 waiters cost a quarter of a core).
const STOP_POLL: Duration = Duration::from_millis(100);

/// A set of slots: one instance's, or the process's default set.
#[derive(Debug)]
pub(crate) struct Slots {
    limit: usize,
    state: Mutex<State>,
}

/// Slots taken and the calls waiting for one. While any call waits, no
/// slot is free: each one freed is handed to a waiter.
#[derive(Debug, Default)]
struct State {
    /// Slots taken (above the limit only by calls that took theirs back
    /// out of time).
    busy: usize,
    /// The calls waiting for a slot, first come first served.
    queue: VecDeque<Arc<Waiter>>,
    /// Calls taking back a slot they gave back for a while: served before
    /// the queue.
    returning: VecDeque<Arc<Waiter>>,
}

/// A call waiting for a slot, and whether one was handed to it.
#[derive(Debug)]
struct Waiter {
    granted: AtomicBool,
    thread: std::thread::Thread,
}

impl Waiter {
    /// The call on this thread.
    fn here() -> Waiter {
        Waiter {
            granted: AtomicBool::new(false),
            thread: std::thread::current(),
        }
    }
}

/// One instance's own figures ([`crate::Stats::working`],
/// [`crate::Stats::slot_waiting`]), whatever set its slots come from.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    working: AtomicU64,
    waiting: AtomicU64,
}

impl Figures {
    /// `(calls holding a slot, calls waiting for one)` now.
    pub(crate) fn now(&self) -> (u64, u64) {
        (
            self.working.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
        )
    }
}

/// One call's hold on a slot, shared with the hooks that give it back
/// while the call waits on something else.
#[derive(Debug)]
struct Lease {
    slots: Arc<Slots>,
    spells: Mutex<Spells>,
    /// A retake under way ended (or the call did).
    retaken: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct Spells {
    /// Waits under way that gave the slot back (it is given back as the
    /// first begins and taken back as the last ends).
    away: usize,
    /// The call is done with the slot: hooks that outlive it do nothing.
    ended: bool,
    /// The thread taking the slot back now, woken when the call ends.
    retaking: Option<std::thread::Thread>,
}

/// How long a call taking back its slot may wait for one, and where the
/// wait is reported (a `process_timeout` does not count it).
struct Return {
    deadline: Option<Instant>,
    stop: Stop,
    budget: crate::budget::Budget,
}

impl Return {
    /// For the call on this thread.
    fn here() -> Return {
        let scope = crate::call::current();
        Return {
            deadline: scope.deadline.map(|(at, _)| at),
            stop: scope.stop,
            budget: crate::budget::current(),
        }
    }
}

impl Lease {
    fn spells(&self) -> MutexGuard<'_, Spells> {
        self.spells.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A wait begins: the slot is given back if it is the first.
    fn give_back(&self) {
        let mut spells = self.spells();
        if spells.ended {
            return;
        }
        spells.away += 1;
        if spells.away == 1 {
            self.slots.release_one();
        }
    }

    /// A wait ends: the slot is taken back if it was the last.
    fn take_back(&self, ret: &Return) {
        let mut spells = self.spells();
        if spells.ended || spells.away == 0 {
            return;
        }
        if spells.away > 1 {
            spells.away -= 1;
            // Back at work only with the slot another thread takes back.
            while spells.retaking.is_some() && !spells.ended {
                spells = self.retaken.wait(spells).unwrap_or_else(|e| e.into_inner());
            }
            return;
        }
        // The last wait ends. The slot is waited for without the lock, so
        // that the call ending, or another wait beginning, is not held up
        // meanwhile; a call that ends stops the wait.
        spells.retaking = Some(std::thread::current());
        drop(spells);
        self.slots.retake(ret, &|| self.spells().ended);
        let mut spells = self.spells();
        spells.retaking = None;
        self.retaken.notify_all();
        spells.away -= 1;
        if spells.ended || spells.away > 0 {
            // Nobody works with it now: the call ended, or another wait
            // began (and could not give back a slot not yet taken).
            self.slots.release_one();
        }
    }

    /// The call is done: its slot is freed unless a wait gave it back.
    fn end(&self) {
        let mut spells = self.spells();
        if !spells.ended {
            spells.ended = true;
            if spells.away == 0 {
                self.slots.release_one();
            } else if let Some(t) = &spells.retaking {
                t.unpark();
                self.retaken.notify_all();
            }
        }
    }
}

thread_local! {
    /// The slot the call on this thread holds, while it does ([`Slot`]).
    static HELD: RefCell<Option<Arc<Lease>>> = const { RefCell::new(None) };
}

/// A slot held until dropped, on the thread that took it (it is not
/// `Send`): that thread is known to hold it ([`released_while`]).
pub(crate) struct Slot<'a> {
    lease: Arc<Lease>,
    previous: Option<Arc<Lease>>,
    figures: &'a Figures,
    _this_thread: PhantomData<*const ()>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.lease.end();
        self.figures.working.fetch_sub(1, Ordering::Relaxed);
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if h.as_ref().is_some_and(|l| Arc::ptr_eq(l, &self.lease)) {
                *h = self.previous.take();
            }
        });
    }
}

/// A hook for a reader of a body still arriving, made on the thread that
/// holds the slot (reads run on libvips' threads): called with `true` as
/// a wait for bytes begins, it gives the slot back; with `false`, it takes
/// it back (ahead of the waiters). A no-op when this thread holds none.
pub(crate) fn idle_hook() -> Box<dyn Fn(bool) + Send + Sync> {
    match HELD.with(|h| h.borrow().clone()) {
        Some(lease) => {
            let ret = Return::here();
            Box::new(move |begins| {
                if begins {
                    lease.give_back();
                } else {
                    lease.take_back(&ret);
                }
            })
        }
        None => Box::new(|_| {}),
    }
}

/// Run `f` without the slot this thread holds, if any: an overlay's load
/// (I/O, no pixel work), which can reach this same server (a watermark
/// URL it serves), whose request needs a slot; or a detector, which may
/// call back into the instance from another thread. With every slot held
/// by calls waiting on such work, none would free until the timeouts.
/// Inside `f` this thread holds no slot (a call made there waits for one
/// as any other); the slot is taken back afterwards, ahead of the waiters.
pub(crate) fn released_while<R>(f: impl FnOnce() -> R) -> R {
    /// Takes the slot back however `f` ends.
    struct Back(Option<Arc<Lease>>, Return);
    impl Drop for Back {
        fn drop(&mut self) {
            if let Some(lease) = self.0.take() {
                lease.take_back(&self.1);
                HELD.with(|h| *h.borrow_mut() = Some(lease));
            }
        }
    }
    let held = HELD.with(|h| h.borrow_mut().take());
    if let Some(lease) = &held {
        lease.give_back();
    }
    let _back = Back(held, Return::here());
    f()
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
        }
    }

    /// A slot for the request in `scope`, waiting while all are taken:
    /// the request's timeout error once its deadline passes,
    /// [`Error::Cancelled`] once its caller is gone. `None` when this
    /// thread holds one of these slots already (a detector calling back
    /// into the same instance): waiting for a second could wait for itself.
    pub(crate) fn take<'a>(
        self: &Arc<Self>,
        scope: &CallScope,
        figures: &'a Figures,
    ) -> Result<Option<Slot<'a>>> {
        if self.held_here() {
            return Ok(None);
        }
        let bound = scope.bound(Duration::ZERO, "request");
        self.take_within(&bound, &scope.stop, figures).map(Some)
    }

    /// A slot for an in-process call (`process`, `meta`, ...) as
    /// [`Slots::take`], waiting `request_timeout` at most (zero: as long
    /// as the holders take, each bounded by its own budget) within the
    /// request being served on this thread, if any.
    pub(crate) fn take_in_process<'a>(
        self: &Arc<Self>,
        request_timeout: Duration,
        figures: &'a Figures,
    ) -> Result<Option<Slot<'a>>> {
        if self.held_here() {
            return Ok(None);
        }
        let scope = crate::call::current();
        let bound = scope.bound(request_timeout, "waiting for a processing slot");
        self.take_within(&bound, &scope.stop, figures).map(Some)
    }

    /// Does this thread hold one of these slots?
    fn held_here(self: &Arc<Self>) -> bool {
        HELD.with(|h| {
            h.borrow()
                .as_ref()
                .is_some_and(|l| Arc::ptr_eq(&l.slots, self))
        })
    }

    /// A slot, waiting in turn while all are taken, until `bound` passes
    /// (its error) or `stop` ([`Error::Cancelled`]).
    fn take_within<'a>(
        self: &Arc<Self>,
        bound: &Bound,
        stop: &Stop,
        figures: &'a Figures,
    ) -> Result<Slot<'a>> {
        let mut state = self.lock();
        if state.busy < self.limit && state.queue.is_empty() && state.returning.is_empty() {
            state.busy += 1;
        } else {
            let waiter = Arc::new(Waiter::here());
            state.queue.push_back(Arc::clone(&waiter));
            drop(state);
            figures.waiting.fetch_add(1, Ordering::Relaxed);
            let waited = self.wait_for_grant(&waiter, bound.at, stop, &|| false, false);
            figures.waiting.fetch_sub(1, Ordering::Relaxed);
            if !waited {
                return Err(if stop.stopped() {
                    Error::Cancelled
                } else {
                    bound.error.clone()
                });
            }
        }
        figures.working.fetch_add(1, Ordering::Relaxed);
        let lease = Arc::new(Lease {
            slots: Arc::clone(self),
            spells: Mutex::new(Spells::default()),
            retaken: std::sync::Condvar::new(),
        });
        let previous = HELD.with(|h| h.borrow_mut().replace(Arc::clone(&lease)));
        Ok(Slot {
            lease,
            previous,
            figures,
            _this_thread: PhantomData,
        })
    }

    /// Park until `waiter` (queued) is handed a slot (true), or until `at`,
    /// `stop` or `give_up` (false, out of the queue; a slot handed over
    /// meanwhile is passed on). Only the waiter handed a slot is woken: with hundreds
    /// queued, waking them all at every hand-over cost quadratic time.
    fn wait_for_grant(
        &self,
        waiter: &Arc<Waiter>,
        at: Option<Instant>,
        stop: &Stop,
        give_up: &dyn Fn() -> bool,
        returning: bool,
    ) -> bool {
        loop {
            if waiter.granted.load(Ordering::Acquire) {
                return true;
            }
            let now = Instant::now();
            if stop.stopped() || give_up() || at.is_some_and(|at| now >= at) {
                let mut state = self.lock();
                if waiter.granted.load(Ordering::Acquire) {
                    if returning {
                        return true;
                    }
                    self.hand_over(&mut state);
                } else {
                    let queue = if returning {
                        &mut state.returning
                    } else {
                        &mut state.queue
                    };
                    queue.retain(|w| !Arc::ptr_eq(w, waiter));
                }
                return false;
            }
            let slice = at.map_or(STOP_POLL, |at| (at - now).min(STOP_POLL));
            std::thread::park_timeout(slice);
        }
    }

    /// A slot is free: hand it to the first call taking one back, else to
    /// the first in line, else count it free. Above the limit (calls that
    /// took theirs back out of time), it is simply freed.
    fn hand_over(&self, state: &mut State) {
        if state.busy <= self.limit {
            let next = match state.returning.pop_front() {
                Some(w) => Some(w),
                None => state.queue.pop_front(),
            };
            if let Some(w) = next {
                w.granted.store(true, Ordering::Release);
                w.thread.unpark();
                return;
            }
        }
        debug_assert!(state.busy > 0, "a slot given back twice");
        state.busy = state.busy.saturating_sub(1);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the counts stay valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take back a slot given back for a while: as soon as one is free,
    /// ahead of the queue; at once when the call is stopped or out of
    /// time (its budget ends it next), or `give_up` says it has ended. The wait is reported to the call's
    /// budget as waiting, which its `process_timeout` does not count.
    fn retake(&self, ret: &Return, give_up: &dyn Fn() -> bool) {
        let mut state = self.lock();
        if state.busy < self.limit && state.returning.is_empty() {
            state.busy += 1;
            return;
        }
        let started = Instant::now();
        let waiter = Arc::new(Waiter::here());
        state.returning.push_back(Arc::clone(&waiter));
        drop(state);
        if !self.wait_for_grant(&waiter, ret.deadline, &ret.stop, give_up, true) {
            // Out of time or stopped: back to work above the limit.
            self.lock().busy += 1;
        }
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            ret.budget.add_waiting(waited);
        }
    }

    /// Give one slot back: to the next call waiting for one, if any.
    fn release_one(&self) {
        let mut state = self.lock();
        self.hand_over(&mut state);
    }

    /// Slots taken now.
    #[cfg(test)]
    fn busy(&self) -> usize {
        self.lock().busy
    }
}

#[cfg(test)]
mod tests;
