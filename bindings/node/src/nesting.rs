//! Calls a JavaScript loader or detector makes on the instance whose
//! request asked it (`imagor::request::Nesting`).
//!
//! The request waits on a loader thread while the callback runs on the
//! JavaScript thread, so the core cannot see that a `serve` or `handle`
//! the callback makes is nested in it: with `processConcurrency` places
//! all taken by such requests, the nested calls waited for the request
//! timeout. The requests a callback works for are lent here under an id
//! while it runs; `index.js` runs the callback in an `AsyncLocalStorage`
//! holding that id, which `serve` and `handle` read back
//! ([`of_js_caller`]) so that their job runs nested in those requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use imagor::request::Nesting;
use napi::Env;

fn lent() -> MutexGuard<'static, HashMap<u32, Nesting>> {
    static LENT: OnceLock<Mutex<HashMap<u32, Nesting>>> = OnceLock::new();
    LENT.get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// The requests of the call on this thread, lent to the JavaScript
/// callback it asks until dropped (when the answer is in, or the wait
/// ended).
pub(crate) struct Lent(u32);

impl Lent {
    /// Lend the requests this thread works for.
    pub(crate) fn here() -> Lent {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lent().insert(id, Nesting::of_this_call());
        Lent(id)
    }

    /// The id `index.js` keeps while the callback runs.
    pub(crate) fn id(&self) -> u32 {
        self.0
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        lent().remove(&self.0);
    }
}

/// The requests the JavaScript code running now works for: those lent to
/// the loader or detector it runs inside (an `AsyncLocalStorage` of
/// `index.js` follows its awaits), else none.
pub(crate) fn of_js_caller(env: &Env) -> Nesting {
    let id = crate::helpers(env).and_then(|h| {
        let current = h.current_caller.borrow_back(env).ok()?;
        current.call(()).ok()?
    });
    id.and_then(|id| lent().get(&id).cloned())
        .unwrap_or_default()
}
