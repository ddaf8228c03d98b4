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
//!   while it waits for it, so the bound holds. The place is lent to one nested request at a time, and only while
//!   the outer request runs: a callback's calls made side by side
//!   (`Promise.all`), or left running after it answered, go through
//!   admission like any other, so the bound holds however a callback
//!   behaves.
//! - the coalesced work it leads ([`super::Control::coalesce`]): a request
//!   for a key its own chain is producing (a loader serving an image
//!   through the instance that leads back to the outer request, a → b → a)
//!   would wait for itself (408 again). It runs the work directly, as
//!   imagor's `suppress` does; a chain that never ends stops at
//!   [`MAX_NESTED_REQUESTS`] (or where the thread's stack runs short).
//!
//! Each request being served on a thread pushes a [`Frame`] that names its
//! instance and what it holds; a nested request on the same thread (a
//! Python callback runs on the thread of the call that asked for it) finds
//! the chain there. A callback answered on another thread (a JavaScript
//! one) has its binding carry the chain over: [`Nesting::of_this_call`]
//! where the callback is asked, [`Nesting::enter`] where the calls it makes
//! run.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Control;
use crate::error::{Error, Result};

/// How deep requests may nest in each other (a loader or detector calling
/// back into an instance, whose loader calls back again...), as the
/// Python binding bounds its callbacks: a loader that asks for its own
/// request without end stops here.
pub const MAX_NESTED_REQUESTS: usize = 32;

/// One request (or coalesced piece of work) being served: its instance
/// (the address of its [`Control`], compared only while the frame is
/// live), whether it is still running, the admission place it can lend,
/// the coalesced work it leads, and how many requests deep it is.
#[derive(Debug)]
struct Frame {
    control: usize,
    live: Arc<AtomicBool>,
    /// `Some` when the request holds an admission place: whether it is
    /// lent to a nested request now.
    place: Option<Arc<AtomicBool>>,
    flight: Option<String>,
    depth: usize,
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
/// calls are seen as nested. A copy kept after its requests ended means
/// nothing: only requests still running lend their place or their work.
#[derive(Debug, Clone, Default)]
pub struct Nesting(Option<Arc<Frame>>);

impl Nesting {
    /// The requests the call on this thread works for.
    pub fn of_this_call() -> Nesting {
        Nesting(INSIDE.with(|i| i.borrow().clone()))
    }

    /// Make these the requests this thread works for until the guard is
    /// dropped (a call made on behalf of a callback), on this thread.
    pub fn enter(&self) -> NestingGuard {
        NestingGuard {
            previous: INSIDE.with(|i| i.replace(self.0.clone())),
            not_send: PhantomData,
        }
    }
}

/// Restores the requests this thread worked for before, when dropped. It
/// stays on the thread that entered (neither `Send` nor `Sync`).
#[derive(Debug)]
#[must_use = "the nesting ends when this is dropped"]
pub struct NestingGuard {
    previous: Option<Arc<Frame>>,
    not_send: PhantomData<*const ()>,
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        INSIDE.with(|i| *i.borrow_mut() = previous);
    }
}

/// A request (or coalesced work) being served on this thread: ends its
/// frame when dropped, so that copies of the chain kept elsewhere no longer
/// lend its place or its work.
#[must_use = "the request's frame ends when this is dropped"]
pub(crate) struct FrameGuard {
    live: Arc<AtomicBool>,
    _entered: NestingGuard,
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        self.live.store(false, Ordering::Release);
    }
}

fn id(control: &Control) -> usize {
    control as *const Control as usize
}

/// The innermost live frame of the chain this thread works for.
fn frames() -> impl Iterator<Item = Arc<Frame>> {
    let mut next = INSIDE.with(|i| i.borrow().clone());
    std::iter::from_fn(move || {
        while let Some(frame) = next.take() {
            next = frame.parent.clone();
            if frame.live.load(Ordering::Acquire) {
                return Some(frame);
            }
        }
        None
    })
}

/// Whether one more request may nest in the chain this thread works for:
/// at most [`MAX_NESTED_REQUESTS`] deep, and with room left on the
/// thread's stack ([`crate::stack`]). Outside a request, always.
pub(crate) fn room_for_a_request() -> Result<()> {
    let Some(depth) = frames().next().map(|f| f.depth) else {
        return Ok(());
    };
    if depth >= MAX_NESTED_REQUESTS {
        return Err(Error::Invalid(format!(
            "invalid: requests nested more than {MAX_NESTED_REQUESTS} deep (a loader or detector \
             calling back into imagor without end)"
        )));
    }
    crate::stack::check_room("a nested request")
}

/// A request of `control` is being served on this thread until the guard
/// is dropped: `admitted` when it holds an admission place (which it may
/// lend to a request nested in it), `flight` the key of the coalesced work
/// it leads.
pub(crate) fn push(control: &Control, admitted: bool, flight: Option<&str>) -> FrameGuard {
    let parent = INSIDE.with(|i| i.borrow().clone());
    let outer = frames().next().map_or(0, |f| f.depth);
    let live = Arc::new(AtomicBool::new(true));
    let frame = Frame {
        control: id(control),
        live: Arc::clone(&live),
        place: admitted.then(|| Arc::new(AtomicBool::new(false))),
        flight: flight.map(str::to_owned),
        // Coalesced work is the request that leads it, not one more.
        depth: if flight.is_some() { outer } else { outer + 1 },
        parent,
    };
    FrameGuard {
        live,
        _entered: Nesting(Some(Arc::new(frame))).enter(),
    }
}

/// An admission place borrowed from a request this call is nested in,
/// given back when dropped.
#[derive(Debug)]
pub(crate) struct BorrowedPlace(Arc<AtomicBool>);

impl Drop for BorrowedPlace {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The admission place of a running request of `control` this call is
/// nested in, when one is not lent already (innermost first).
pub(crate) fn borrow_place(control: &Control) -> Option<BorrowedPlace> {
    let me = id(control);
    frames()
        .filter(|f| f.control == me)
        .filter_map(|f| f.place.clone())
        .find(|place| {
            place
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
        .map(BorrowedPlace)
}

/// Is this call nested in a running request of `control` that leads the
/// coalesced work `key`?
pub(crate) fn leads(control: &Control, key: &str) -> bool {
    let me = id(control);
    frames().any(|f| f.control == me && f.flight.as_deref() == Some(key))
}
