//! Work a request does once its answer is on its way. imagor answers a
//! request before it saves the result to the result storages (the save
//! runs on, bounded by the save timeout, while its identical requests
//! still share the flight); the server does the same through
//! [`crate::Imagor::handle_answering`]. Everywhere else ([`crate::Imagor::handle`],
//! [`crate::Imagor::serve`], the bindings, a loader calling back into its
//! instance) the work runs before the call returns, as it always did.
//!
//! Deferred work is bounded: at most [`MAX_DEFERRED`] jobs at once in the
//! process, each holding the bytes it keeps alive in the memory pool
//! (`max_total_memory`). Past either, the job runs before the answer, so a
//! slow result storage slows its clients down again rather than filling
//! the server's threads and memory with saves nobody waits for.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::budget::Holding;

/// A piece of work deferred until after the answer.
pub(crate) type Job = Box<dyn FnOnce()>;

/// Jobs deferred at once in the process, at most: a thread each while they
/// run (a save waiting on a slow storage holds it up to the save timeout).
pub(crate) const MAX_DEFERRED: usize = 256;

/// Jobs deferred now, in the process.
static DEFERRED_NOW: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The jobs of the request this thread is answering, when it answers
    /// first; `None`: run them at once.
    static DEFERRED: RefCell<Option<Vec<Job>>> = const { RefCell::new(None) };
}

/// While alive, [`after_answer`] on this thread collects its jobs
/// ([`Collecting::start`]) or runs them at once ([`Collecting::suspend`]).
pub(crate) struct Collecting {
    /// What was collecting before this one (`Some` until finished).
    outer: Option<Option<Vec<Job>>>,
}

impl Collecting {
    /// Start collecting this thread's jobs.
    #[cfg_attr(not(any(feature = "server", test)), allow(dead_code))]
    pub(crate) fn start() -> Self {
        Self::with(Some(Vec::new()))
    }

    /// Run this thread's jobs at once while alive (a call made inside a
    /// request being answered: its work is its own caller's to wait for).
    pub(crate) fn suspend() -> Self {
        Self::with(None)
    }

    fn with(now: Option<Vec<Job>>) -> Self {
        let outer = DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), now));
        Collecting { outer: Some(outer) }
    }

    /// Stop collecting; the jobs collected, in order.
    #[cfg_attr(not(any(feature = "server", test)), allow(dead_code))]
    pub(crate) fn finish(mut self) -> Vec<Job> {
        self.restore().unwrap_or_default()
    }

    fn restore(&mut self) -> Option<Vec<Job>> {
        let outer = self.outer.take()?;
        DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer))
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        // Unwinding: the jobs are dropped unrun, which lets go of what they
        // hold (a flight, a blob, their place).
        drop(self.restore());
    }
}

/// One of the [`MAX_DEFERRED`] places, given back when dropped.
struct Place;

impl Place {
    fn take() -> Option<Place> {
        DEFERRED_NOW
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_DEFERRED).then_some(n + 1)
            })
            .ok()
            .map(|_| Place)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        DEFERRED_NOW.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Run `job`, which keeps `bytes` alive, once this thread's request has been
/// answered; or now when nothing collects (the caller waits for all its
/// work), when [`MAX_DEFERRED`] jobs wait already, or when the memory pool
/// has no room for the bytes.
pub(crate) fn after_answer(bytes: u64, job: impl FnOnce() + 'static) {
    let collecting = DEFERRED.with(|d| d.borrow().is_some());
    let held = collecting.then(|| {
        let place = Place::take()?;
        let holding = Holding::for_this_call("a result waiting to be saved");
        holding.grow_to(bytes).ok()?;
        Some((place, holding))
    });
    let Some(Some(held)) = held else {
        return job();
    };
    let job: Job = Box::new(move || {
        job();
        drop(held);
    });
    let refused = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(jobs) => {
            jobs.push(job);
            None
        }
        None => Some(job),
    });
    if let Some(job) = refused {
        job();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    #[test]
    fn jobs_wait_for_the_answer_only_while_collected() {
        let ran = Rc::new(Cell::new(0));
        let r = ran.clone();
        after_answer(0, move || r.set(r.get() + 1));
        assert_eq!(ran.get(), 1, "no collector: at once");
        let collecting = Collecting::start();
        let r = ran.clone();
        after_answer(0, move || r.set(r.get() + 10));
        assert_eq!(ran.get(), 1, "deferred");
        // A call inside the request runs its own jobs at once.
        {
            let _own = Collecting::suspend();
            let r = ran.clone();
            after_answer(0, move || r.set(r.get() + 1000));
            assert_eq!(ran.get(), 1001, "suspended: at once");
        }
        let jobs = collecting.finish();
        assert_eq!(jobs.len(), 1);
        for job in jobs {
            job();
        }
        assert_eq!(ran.get(), 1011);
        // Dropped unfinished (an unwind): the jobs are dropped unrun and the
        // thread runs its next jobs at once again.
        let collecting = Collecting::start();
        let r = ran.clone();
        after_answer(0, move || r.set(r.get() + 100));
        drop(collecting);
        assert_eq!((ran.get(), Rc::strong_count(&ran)), (1011, 1));
        let r = ran.clone();
        after_answer(0, move || r.set(r.get() + 1));
        assert_eq!(ran.get(), 1012);
        past_the_bound_jobs_run_before_the_answer();
    }

    /// In the same test: the places are the process's.
    fn past_the_bound_jobs_run_before_the_answer() {
        let collecting = Collecting::start();
        let ran = Rc::new(Cell::new(0));
        for _ in 0..MAX_DEFERRED + 3 {
            let r = ran.clone();
            after_answer(0, move || r.set(r.get() + 1));
        }
        assert_eq!(ran.get(), 3, "the ones past the bound ran at once");
        let jobs = collecting.finish();
        assert_eq!(jobs.len(), MAX_DEFERRED);
        drop(jobs);
        assert_eq!(DEFERRED_NOW.load(Ordering::Acquire), 0, "places given back");
    }
}
