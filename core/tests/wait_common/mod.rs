//! Waiting helpers for the tests that hold work in a loader or detector
//! instead of sleeping and hoping other threads got there in time.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A latch the test opens and closes; [`Latch::wait`] blocks while it is
/// closed (30 s at most, so that a failing test cannot hang).
#[derive(Clone, Default)]
pub struct Latch(Arc<(Mutex<bool>, Condvar)>);

impl Latch {
    /// Open (`true`) or close it; waiters wake on opening.
    pub fn set(&self, open: bool) {
        *self.0 .0.lock().expect("latch") = open;
        self.0 .1.notify_all();
    }

    /// Open it for good.
    pub fn open(&self) {
        self.set(true);
    }

    /// Block while it is closed (30 s at most).
    pub fn wait(&self) {
        let (open, changed) = &*self.0;
        let guard = open.lock().expect("latch");
        let _ = changed
            .wait_timeout_while(guard, Duration::from_secs(30), |open| !*open)
            .expect("latch");
    }
}

/// Poll `done` until it holds (true) or `limit` passes (false).
pub fn eventually_within(limit: Duration, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done()
}

/// [`eventually_within`] 20 s.
pub fn eventually(done: impl Fn() -> bool) -> bool {
    eventually_within(Duration::from_secs(20), done)
}
