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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::call::{Bound, CallScope, Stop, POLL_SLICE};
use crate::error::{Error, Result};
use crate::options::Options;

/// A set of slots: one instance's, or the process's default set.
#[derive(Debug)]
pub(crate) struct Slots {
    limit: usize,
    state: Mutex<State>,
    freed: Condvar,
}

/// Slots taken and the calls waiting for one.
#[derive(Debug, Default)]
struct State {
    busy: usize,
    /// The tickets of the calls waiting for a slot, oldest first.
    queue: VecDeque<u64>,
    next_ticket: u64,
    /// Calls taking back a slot they gave back for a while: they go
    /// before the queue.
    returning: usize,
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
}

#[derive(Debug, Default)]
struct Spells {
    /// Waits under way that gave the slot back (it is given back as the
    /// first begins and taken back as the last ends).
    away: usize,
    /// The call is done with the slot: hooks that outlive it do nothing.
    ended: bool,
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
        spells.away -= 1;
        if spells.away == 0 {
            self.slots.retake(ret);
        }
    }

    /// The call is done: its slot is freed unless a wait gave it back.
    fn end(&self) {
        let mut spells = self.spells();
        if !spells.ended {
            spells.ended = true;
            if spells.away == 0 {
                self.slots.release_one();
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
            freed: Condvar::new(),
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
        if state.busy + state.returning >= self.limit || !state.queue.is_empty() {
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(ticket);
            figures.waiting.fetch_add(1, Ordering::Relaxed);
            let served = loop {
                // Those ahead in the queue (and those taking back a slot
                // they gave back) are served first: a slot is this call's
                // once fewer are ahead of it than slots are free.
                let ahead = state.queue.iter().position(|&t| t == ticket).unwrap_or(0);
                if state.busy + state.returning + ahead < self.limit {
                    break Ok(());
                }
                if stop.stopped() {
                    break Err(Error::Cancelled);
                }
                if bound.at.is_some_and(|at| Instant::now() >= at) {
                    break Err(bound.error.clone());
                }
                state = self
                    .freed
                    .wait_timeout(state, POLL_SLICE)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            };
            state.queue.retain(|&t| t != ticket);
            figures.waiting.fetch_sub(1, Ordering::Relaxed);
            // The next in line may fit too, or move up.
            self.freed.notify_all();
            served?;
        }
        state.busy += 1;
        drop(state);
        figures.working.fetch_add(1, Ordering::Relaxed);
        let lease = Arc::new(Lease {
            slots: Arc::clone(self),
            spells: Mutex::new(Spells::default()),
        });
        let previous = HELD.with(|h| h.borrow_mut().replace(Arc::clone(&lease)));
        Ok(Slot {
            lease,
            previous,
            figures,
            _this_thread: PhantomData,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the counts stay valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take back a slot given back for a while: as soon as one is free,
    /// ahead of the queue; at once when the call is stopped or out of
    /// time (its budget ends it next). The wait is reported to the call's
    /// budget as waiting, which its `process_timeout` does not count.
    fn retake(&self, ret: &Return) {
        let started = Instant::now();
        let mut state = self.lock();
        if state.busy >= self.limit {
            state.returning += 1;
            while state.busy >= self.limit
                && !ret.stop.stopped()
                && ret.deadline.is_none_or(|at| Instant::now() < at)
            {
                state = self
                    .freed
                    .wait_timeout(state, POLL_SLICE)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            state.returning -= 1;
        }
        state.busy += 1;
        drop(state);
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            ret.budget.add_waiting(waited);
        }
    }

    /// Give one slot back and wake the waiters (those returning, then the
    /// first in line, take it).
    fn release_one(&self) {
        let mut state = self.lock();
        debug_assert!(state.busy > 0, "a slot given back twice");
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
            // ahead of C.
            let _ = release_b.send(());
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
}
