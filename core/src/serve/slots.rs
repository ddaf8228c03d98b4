//! Processing slots: how many of an instance's requests do pixel work at
//! once (`process_slots`, by default one per core).
//!
//! `process_timeout` is wall-clock time, and a call that shares the cores
//! with many others gets a fraction of them: with no bound, four requests
//! that each take 1.2 s alone, sent together on two cores, all answered
//! 408 at 2.4 s (32 together: 408 after 8-13 s, every deadline overrun by
//! the work still running). A request that finds every slot taken waits
//! here, after its source is loaded (a slow origin holds no slot) and
//! before its processing budget starts, until a slot frees, its request
//! timeout passes, or its caller goes away. imagor has no such bound; it
//! has no process timeout either.

use std::sync::{Condvar, Mutex};
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
}

/// A slot held until dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut busy = self.0.busy.lock().unwrap_or_else(|e| e.into_inner());
        *busy = busy.saturating_sub(1);
        self.0.freed.notify_one();
    }
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
        })
    }

    /// A slot for the request in `scope`, waiting while all are taken:
    /// the request's timeout error once its deadline passes,
    /// [`Error::Cancelled`] once its caller is gone.
    pub(crate) fn take(&self, scope: &CallScope) -> Result<Slot<'_>> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
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
        Ok(Slot(self))
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
        let s = slots(1).expect("one slot");
        let scope = CallScope::new(Duration::from_millis(100), &Cancel::new(), 0);
        let held = s.take(&scope).expect("free");
        let started = Instant::now();
        let e = s.take(&scope).err().expect("full until the deadline");
        assert_eq!(e.status(), 408, "{e}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(held);
        assert_eq!(s.busy(), 0);
        let cancel = Cancel::new();
        let waiting = CallScope::new(Duration::from_secs(30), &cancel, 0);
        let _held = s.take(&waiting).expect("free again");
        cancel.cancel();
        assert!(matches!(s.take(&waiting), Err(Error::Cancelled)));
    }
}
