//! Work a request does once its answer is on its way. imagor answers a
//! request before it saves the result to the result storages (the save
//! runs on, bounded by the save timeout, while its identical requests
//! still share the flight); the server does the same through
//! [`crate::Imagor::handle_answering`]. Everywhere else ([`crate::Imagor::handle`],
//! the bindings) the work runs before the call returns, as it always did.

use std::cell::RefCell;

/// A piece of work deferred until after the answer.
pub(crate) type Job = Box<dyn FnOnce()>;

thread_local! {
    /// The jobs of the request this thread is answering, when it answers
    /// first; `None`: run them at once.
    static DEFERRED: RefCell<Option<Vec<Job>>> = const { RefCell::new(None) };
}

/// While alive, [`after_answer`] on this thread collects its jobs.
#[cfg_attr(not(any(feature = "server", test)), allow(dead_code))]
pub(crate) struct Collecting {
    /// What was collecting before this one (`Some` until finished).
    outer: Option<Option<Vec<Job>>>,
}

#[cfg_attr(not(any(feature = "server", test)), allow(dead_code))]
impl Collecting {
    /// Start collecting this thread's jobs (a nested collector keeps the
    /// outer one's and gives them back when it ends).
    pub(crate) fn start() -> Self {
        let outer = DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()));
        Collecting { outer: Some(outer) }
    }

    /// Stop collecting; the jobs collected, in order.
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
        // hold (a flight, a blob).
        drop(self.restore());
    }
}

/// Run `job` once this thread's request has been answered, or now when
/// the caller waits for everything (no [`Collecting`] in place).
pub(crate) fn after_answer(job: impl FnOnce() + 'static) {
    let job: Job = Box::new(job);
    let job = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(jobs) => {
            jobs.push(job);
            None
        }
        None => Some(job),
    });
    if let Some(job) = job {
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
        after_answer(move || r.set(r.get() + 1));
        assert_eq!(ran.get(), 1, "no collector: at once");
        let collecting = Collecting::start();
        let r = ran.clone();
        after_answer(move || r.set(r.get() + 10));
        assert_eq!(ran.get(), 1, "deferred");
        let jobs = collecting.finish();
        assert_eq!(jobs.len(), 1);
        for job in jobs {
            job();
        }
        assert_eq!(ran.get(), 11);
        // Dropped unfinished (an unwind): the jobs are dropped unrun and the
        // thread runs its next jobs at once again.
        let collecting = Collecting::start();
        let r = ran.clone();
        after_answer(move || r.set(r.get() + 100));
        drop(collecting);
        assert_eq!((ran.get(), Rc::strong_count(&ran)), (11, 1));
        let r = ran.clone();
        after_answer(move || r.set(r.get() + 1));
        assert_eq!(ran.get(), 12);
    }
}
