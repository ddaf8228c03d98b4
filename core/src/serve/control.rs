//! Load control of request handling: admission (imagor's process
//! concurrency and queue), request coalescing (imagor's `suppress`) and
//! the figures the server exports as metrics.
//!
//! Both live in the [`crate::Imagor`] instance (shared by its clones), so
//! the server, the bindings' `handle` and `serve` all obey them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::call::{CallScope, Stop, POLL_SLICE};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::request::Cancel;

use super::Outcome;

/// Counters and gauges of an instance's request handling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Images processed (successfully or not) since the instance started.
    pub processed: u64,
    /// Sources loaded through a loader or storage.
    pub loaded: u64,
    /// Results served from a result storage.
    pub result_hits: u64,
    /// Requests that shared another request's work instead of doing it.
    pub coalesced: u64,
    /// Requests answered 429 because the queue was full.
    pub rejected: u64,
    /// Requests holding a processing slot now.
    pub in_flight: u64,
    /// Requests waiting for a processing slot now.
    pub queued: u64,
    /// This instance's calls (requests and in-process calls) holding one
    /// of the processing slots now (`process_slots`; 0 without them); a
    /// call waiting on a network or a detector meanwhile is counted.
    pub working: u64,
    /// This instance's calls waiting for one of the processing slots now.
    pub slot_waiting: u64,
    /// Requests waiting now for an identical request's work (coalesced
    /// followers, counted in `coalesced` once they have their answer).
    pub following: u64,
    /// Bytes the calls of the whole process hold now against
    /// `max_total_memory` (their source bytes and memory estimates).
    pub memory_reserved: u64,
    /// Reservations of the whole process refused with 429 because the
    /// other calls held `max_total_memory`.
    pub memory_refused: u64,
    /// The HTTP loader's figures (zero without one).
    pub http: crate::loader::http::HttpLoaderStats,
}

/// The shared load-control state of an instance.
#[derive(Debug, Default)]
pub(crate) struct Control {
    admission: Option<Arc<Admission>>,
    /// Calls doing pixel work at once ([`super::slots`]).
    slots: Option<Arc<super::slots::Slots>>,
    /// This instance's calls in and waiting for the slots.
    slot_figures: super::slots::Figures,
    /// Work in flight by key; a leader's hold may outlive its request
    /// (until its result is saved, after the answer).
    flights: Arc<Mutex<HashMap<String, Arc<Flight>>>>,
    pub(crate) processed: AtomicU64,
    pub(crate) loaded: AtomicU64,
    pub(crate) result_hits: AtomicU64,
    coalesced: AtomicU64,
    rejected: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the counts stay valid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Control {
    /// The control `opts` describe: admission only with a concurrency limit.
    pub(crate) fn new(opts: &Options) -> Control {
        let admission = (opts.process_concurrency > 0).then(|| {
            let concurrency = opts.process_concurrency.min(1 << 20) as usize;
            Arc::new(Admission {
                concurrency,
                capacity: concurrency + opts.process_queue_size.clamp(0, 1 << 20) as usize,
                slots: Mutex::new(Slots::default()),
                freed: Condvar::new(),
            })
        });
        Control {
            admission,
            slots: super::slots::Slots::new(opts),
            ..Control::default()
        }
    }

    /// A processing slot for the request in `scope` ([`super::slots`]):
    /// `None` without a bound or when this thread holds one.
    pub(crate) fn processing_slot(
        &self,
        scope: &CallScope,
    ) -> Result<Option<super::slots::Slot<'_>>> {
        match &self.slots {
            Some(s) => s.take(scope, &self.slot_figures),
            None => Ok(None),
        }
    }

    /// A processing slot for an in-process call, waiting `request_timeout`
    /// at most; `None` without a bound or when this thread holds one.
    pub(crate) fn in_process_slot(
        &self,
        request_timeout: std::time::Duration,
    ) -> Result<Option<super::slots::Slot<'_>>> {
        match &self.slots {
            Some(s) => s.take_in_process(request_timeout, &self.slot_figures),
            None => Ok(None),
        }
    }

    /// A snapshot of the figures.
    pub(crate) fn stats(&self) -> Stats {
        let (in_flight, queued) = self.admission.as_ref().map_or((0, 0), |a| {
            let s = lock(&a.slots);
            (s.running as u64, (s.admitted - s.running) as u64)
        });
        let following = lock(&self.flights)
            .values()
            .map(|f| f.followers.load(Ordering::Acquire) as u64)
            .sum();
        let (working, slot_waiting) = self.slot_figures.now();
        let (memory_reserved, memory_refused) = crate::budget::memory_figures();
        Stats {
            processed: self.processed.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
            result_hits: self.result_hits.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            in_flight,
            queued,
            working,
            slot_waiting,
            following,
            memory_reserved,
            memory_refused,
            http: Default::default(),
        }
    }

    /// A processing slot for the request in `scope`: at once when one is
    /// free, after waiting in the queue otherwise; 429 when the queue is
    /// full, the request's timeout or [`Error::Cancelled`] while waiting.
    /// `None` without a concurrency limit, or for a request nested in one
    /// of this instance's that holds a slot (a loader calling back into
    /// the instance: it runs under that slot, see [`super::nesting`]).
    pub(crate) fn admit(&self, scope: &CallScope) -> Result<Option<Permit>> {
        let Some(a) = &self.admission else {
            return Ok(None);
        };
        if let Some(place) = super::nesting::borrow_place(self) {
            return Ok(Some(Permit { place }));
        }
        let mut slots = lock(&a.slots);
        if slots.admitted >= a.capacity {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Error::TooManyRequests);
        }
        slots.admitted += 1;
        while slots.running >= a.concurrency {
            let give_up = if scope.stop.stopped() {
                Some(Error::Cancelled)
            } else {
                match scope.deadline {
                    Some((at, _)) if Instant::now() >= at => Some(scope.timeout_error()),
                    _ => None,
                }
            };
            if let Some(e) = give_up {
                slots.admitted -= 1;
                return Err(e);
            }
            // A nested request queued beside a sibling (a callback's calls
            // made side by side) takes its outer request's place once the
            // sibling gives it back: the slot it waits for is the one its
            // outer request holds while waiting for it. Tried without the
            // lock, since a place dropped there may give back its slot.
            drop(slots);
            if let Some(place) = super::nesting::borrow_place(self) {
                lock(&a.slots).admitted -= 1;
                return Ok(Some(Permit { place }));
            }
            slots = lock(&a.slots);
            if slots.running < a.concurrency {
                break;
            }
            slots = a
                .freed
                .wait_timeout(slots, POLL_SLICE)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        slots.running += 1;
        drop(slots);
        Ok(Some(Permit {
            place: super::nesting::Place::own(Slot {
                admission: Arc::clone(a),
            }),
        }))
    }

    /// Run `work` once for every concurrent request with the same `key`:
    /// the first runs it (the leader), the others wait for its outcome
    /// (imagor's `suppress`). The work stops only when the leader's caller
    /// and every follower are gone; a follower gives up at its own
    /// deadline. A leader whose work was cancelled hands over: waiting
    /// followers start again, one of them as the new leader.
    ///
    /// A successful leader runs `finish` (saving the result) after its
    /// followers have their answer but before it lets go of `key`, as
    /// imagor's `suppress` does: a request arriving meanwhile shares the
    /// outcome instead of processing again before the result is stored
    /// (which other replicas sharing the result storage rely on).
    pub(crate) fn coalesce(
        &self,
        key: &str,
        scope: &CallScope,
        work: impl Fn(&CallScope) -> Outcome,
        finish: impl FnOnce(&mut Outcome) + 'static,
    ) -> Outcome {
        let cancel = match &scope.stop {
            Stop::Caller(c) => c.clone(),
            _ => Cancel::new(),
        };
        if super::nesting::leads(self, key) {
            // This request's own chain is producing `key` (its loader
            // serves an image through this instance that leads back to
            // it, a → b → a): waiting for that work would wait for itself.
            // imagor's `suppress` runs the work directly then, as here.
            let mut outcome = work(scope);
            if outcome.error.is_none() {
                finish(&mut outcome);
            }
            return outcome;
        }
        loop {
            let (flight, leader) = {
                let mut flights = lock(&self.flights);
                match flights.get(key) {
                    Some(f) => {
                        f.followers.fetch_add(1, Ordering::AcqRel);
                        (Arc::clone(f), false)
                    }
                    None => {
                        let f = Arc::new(Flight::default());
                        flights.insert(key.to_owned(), Arc::clone(&f));
                        (f, true)
                    }
                }
            };
            if leader {
                let landing = Landing {
                    flights: Arc::clone(&self.flights),
                    key: key.to_owned(),
                    flight: Arc::clone(&flight),
                };
                let shared = CallScope {
                    deadline: scope.deadline,
                    stop: Stop::Shared {
                        leader: cancel.clone(),
                        followers: Arc::clone(&flight.followers),
                    },
                    max_total_memory: scope.max_total_memory,
                    via: scope.via.clone(),
                };
                let outcome = {
                    let _entered = crate::call::enter(shared.clone());
                    let _leads = super::nesting::push(self, None, Some(key));
                    work(&shared)
                };
                // A failed (or cancelled) flight is let go of at once, so
                // that new requests start afresh rather than share it.
                let hold = outcome.error.is_none();
                if !hold {
                    landing.let_go();
                }
                flight.publish(outcome.clone());
                if hold {
                    // The flight is held until `finish` (the result's save)
                    // is done, which the server does after answering.
                    let mut finishing = outcome.clone();
                    let bytes = outcome.blob.as_ref().map_or(0, |b| b.data.len() as u64);
                    super::after_answer::after_answer(bytes, move || {
                        finish(&mut finishing);
                        drop(landing);
                    });
                }
                return outcome;
            }
            let waited = flight.wait(scope);
            flight.followers.fetch_sub(1, Ordering::AcqRel);
            match waited {
                Ok(outcome) if matches!(outcome.error, Some(Error::Cancelled)) => {
                    // The work stopped for its leader's caller before this
                    // request joined: do it again.
                    if let Err(e) = scope.check() {
                        return Outcome::error(e);
                    }
                }
                Ok(mut outcome) => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    // Only the leader saves the result.
                    outcome.save_as = None;
                    return outcome;
                }
                Err(e) => return Outcome::error(e),
            }
        }
    }
}

/// A leader's hold on its key, let go of when dropped, also when its work
/// unwinds (a loader or processor bug, which the server answers 500): a
/// flight left behind would have every later request for the key wait
/// for an outcome that never comes, until its own timeout. Followers of
/// a leader that unwound get an internal error.
struct Landing {
    flights: Arc<Mutex<HashMap<String, Arc<Flight>>>>,
    key: String,
    flight: Arc<Flight>,
}

impl Landing {
    /// Remove the flight from the map (if it is still there), so that new
    /// requests for the key start afresh.
    fn let_go(&self) {
        let mut flights = lock(&self.flights);
        if flights
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            flights.remove(&self.key);
        }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.let_go();
        let mut outcome = lock(&self.flight.outcome);
        if outcome.is_none() {
            *outcome = Some(Outcome::error(Error::Internal(
                "the identical request whose work this one shared failed unexpectedly".into(),
            )));
            self.flight.done.notify_all();
        }
    }
}

/// imagor's two semaphores: `capacity` requests admitted (running or
/// queued), `concurrency` of them running.
#[derive(Debug)]
struct Admission {
    concurrency: usize,
    capacity: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Slots {
    admitted: usize,
    running: usize,
}

/// A request's admission: its place ([`super::nesting::Place`]), which is
/// one of the admission's slots of its own or one borrowed from a request
/// it is nested in.
pub(crate) struct Permit {
    place: Arc<super::nesting::Place>,
}

impl Permit {
    /// The place, for the request's frame to lend on
    /// ([`super::nesting::push`]).
    pub(crate) fn place(&self) -> &Arc<super::nesting::Place> {
        &self.place
    }
}

/// A processing slot of the admission, given back when the last place
/// running under it ends (the request that took it and any request
/// nested in it that still runs).
pub(crate) struct Slot {
    admission: Arc<Admission>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut slots = lock(&self.admission.slots);
        slots.running -= 1;
        slots.admitted -= 1;
        drop(slots);
        self.admission.freed.notify_one();
    }
}

/// One coalesced piece of work: its outcome once done, and who waits.
#[derive(Debug, Default)]
struct Flight {
    outcome: Mutex<Option<Outcome>>,
    done: Condvar,
    followers: Arc<AtomicUsize>,
}

impl Flight {
    fn publish(&self, outcome: Outcome) {
        *lock(&self.outcome) = Some(outcome);
        self.done.notify_all();
    }

    /// The outcome, or the follower's own timeout or cancellation.
    fn wait(&self, scope: &CallScope) -> Result<Outcome> {
        let mut outcome = lock(&self.outcome);
        loop {
            if let Some(o) = outcome.as_ref() {
                return Ok(o.clone());
            }
            scope.check()?;
            outcome = self
                .done
                .wait_timeout(outcome, POLL_SLICE)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}
