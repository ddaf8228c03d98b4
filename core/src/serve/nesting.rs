//! Requests made from inside a request of the same instance: a binding's
//! loader or detector (Python, JavaScript) that calls `serve` or `handle`
//! on the instance whose request asked it for something.
//!
//! The outer request waits for the nested one, so the nested one must not
//! wait for what the outer holds:
//!
//! - its admission (`process_concurrency`, [`super::Control::admit`]): with
//!   every place taken by outer requests waiting on their loaders, the
//!   nested ones waited for the request timeout (a 408 after 30 s by
//!   default). A nested request runs under its outer request's admission
//!   instead, as a call made on a thread holding a processing slot runs
//!   under that slot ([`super::slots`]): the outer request does nothing
//!   while it waits, so the bound holds.
//! - the coalesced work it leads ([`super::Control::coalesce`]): an
//!   identical request nested in itself would wait for its own result (408
//!   again), and doing the work instead would only ask the loader again
//!   without end. It fails at once: [`Error::Invalid`] (400), a request
//!   that cannot be answered however often it is retried.
//!
//! Each request being served on a thread pushes a [`Frame`] that names its
//! instance and what it holds; a nested request on the same thread (a
//! Python callback runs on the thread of the call that asked for it) finds
//! the chain there. A callback answered on another thread (a JavaScript
//! one) has its binding carry the chain over: [`Nesting::of_this_call`]
//! where the callback is asked, [`Nesting::enter`] where the calls it makes
//! run.

use std::cell::RefCell;
use std::sync::Arc;

use super::Control;

/// One request being served: its instance (the address of its
/// [`Control`], alive while the request runs), whether it holds an
/// admission place, the coalesced work it leads.
#[derive(Debug)]
struct Frame {
    control: usize,
    admitted: bool,
    flight: Option<String>,
    parent: Option<Arc<Frame>>,
}

thread_local! {
    /// The requests this thread works for, innermost first.
    static INSIDE: RefCell<Option<Arc<Frame>>> = const { RefCell::new(None) };
}

/// The requests a call works for: the one being served on this thread, the
/// one whose callback made it, and so on outwards. Empty outside a
/// request.
///
/// A binding whose callbacks (loaders, detectors) run on another thread
/// than the request that asks them takes it where the callback is asked,
/// and enters it where the calls the callback makes run, so that those
/// calls are seen as nested: they run under the outer request's admission
/// and fail at once when they would wait for their own result.
#[derive(Debug, Clone, Default)]
pub struct Nesting(Option<Arc<Frame>>);

impl Nesting {
    /// The requests the call on this thread works for.
    pub fn of_this_call() -> Nesting {
        Nesting(INSIDE.with(|i| i.borrow().clone()))
    }

    /// Make these the requests this thread works for until the guard is
    /// dropped (a call made on behalf of a callback).
    pub fn enter(&self) -> NestingGuard {
        NestingGuard {
            previous: INSIDE.with(|i| i.replace(self.0.clone())),
        }
    }
}

/// Restores the requests this thread worked for before, when dropped.
#[derive(Debug)]
#[must_use = "the nesting ends when this is dropped"]
pub struct NestingGuard {
    previous: Option<Arc<Frame>>,
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        INSIDE.with(|i| *i.borrow_mut() = previous);
    }
}

fn id(control: &Control) -> usize {
    control as *const Control as usize
}

/// A request of `control` is being served on this thread until the guard
/// is dropped: `admitted` when it holds an admission place, `flight` the
/// key of the coalesced work it leads.
pub(crate) fn push(control: &Control, admitted: bool, flight: Option<&str>) -> NestingGuard {
    let frame = Frame {
        control: id(control),
        admitted,
        flight: flight.map(str::to_owned),
        parent: INSIDE.with(|i| i.borrow().clone()),
    };
    Nesting(Some(Arc::new(frame))).enter()
}

/// Does a frame of the chain this thread works for match?
fn any(f: impl Fn(&Frame) -> bool) -> bool {
    INSIDE.with(|i| {
        let mut frame = i.borrow().clone();
        while let Some(fr) = frame {
            if f(&fr) {
                return true;
            }
            frame = fr.parent.clone();
        }
        false
    })
}

/// Is this call nested in a request of `control` that holds an admission
/// place?
pub(crate) fn admitted(control: &Control) -> bool {
    let me = id(control);
    any(|f| f.control == me && f.admitted)
}

/// Is this call nested in a request of `control` that leads the coalesced
/// work `key`?
pub(crate) fn leads(control: &Control, key: &str) -> bool {
    let me = id(control);
    any(|f| f.control == me && f.flight.as_deref() == Some(key))
}
