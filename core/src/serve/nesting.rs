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
//!   while it waits for it. A place is lent to one nested request at a
//!   time and stays taken until that request, and every request nested in
//!   it, has ended, even after the outer request answered ([`Place`]): a
//!   callback's calls made side by side (`Promise.all`) queue as any
//!   request and take the place in turn as each gives it back (the slot
//!   they would wait for is the one the outer request holds), and one left
//!   running after the callback answered keeps the slot, so no more
//!   requests run than the admission allows.
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
use std::sync::{Arc, Weak};

use super::control::Slot;
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
    /// The admission place the request runs under, which it may lend.
    place: Option<Weak<Place>>,
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

/// The live frames of the chain this thread works for, innermost first.
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
/// thread's stack ([`crate::stack`]). Outside a request (or in the
/// coalesced work of one that is not nested), always: the outermost
/// request runs whatever the thread's stack.
pub(crate) fn room_for_a_request() -> Result<()> {
    let depth = frames().next().map_or(0, |f| f.depth);
    if depth == 0 {
        return Ok(());
    }
    if depth >= MAX_NESTED_REQUESTS {
        return Err(Error::Invalid(format!(
            "invalid: requests nested more than {MAX_NESTED_REQUESTS} deep (a loader or detector \
             calling back into imagor without end)"
        )));
    }
    crate::stack::check_room("a nested request")
}

/// A request of `control` is being served on this thread until the guard
/// is dropped: `place` the admission place it runs under (which it may
/// lend to a request nested in it), `flight` the key of the coalesced work
/// it leads.
pub(crate) fn push(
    control: &Control,
    place: Option<&Arc<Place>>,
    flight: Option<&str>,
) -> FrameGuard {
    let parent = INSIDE.with(|i| i.borrow().clone());
    let outer = frames().next().map_or(0, |f| f.depth);
    let live = Arc::new(AtomicBool::new(true));
    let frame = Frame {
        control: id(control),
        live: Arc::clone(&live),
        place: place.map(Arc::downgrade),
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

/// The admission place a request runs under: a slot of its own, or the
/// place of a request it is nested in, borrowed. A place is lent to one
/// nested request at a time, and stays taken until that request and every
/// request nested in it have ended; the slot is given back when the last
/// place on it ends. So however a callback behaves (calls side by side,
/// calls left running after it answered, a request that ends before the
/// requests nested in it), no more requests run than the admission allows
/// plus requests whose outer request waits for them.
pub(crate) struct Place {
    slot: Arc<Slot>,
    lent: AtomicBool,
    /// The lender's place, held until this one ends.
    _borrowed: Option<Borrowed>,
}

impl Place {
    /// The place of a request admitted on a slot of its own.
    pub(crate) fn own(slot: Slot) -> Arc<Place> {
        Arc::new(Place {
            slot: Arc::new(slot),
            lent: AtomicBool::new(false),
            _borrowed: None,
        })
    }
}

/// A lender's place taken by a nested request, given back when dropped.
struct Borrowed(Arc<Place>);

impl Drop for Borrowed {
    fn drop(&mut self) {
        self.0.lent.store(false, Ordering::Release);
    }
}

/// A place for a request nested in a running request of `control` whose
/// place is not lent already (innermost first).
pub(crate) fn borrow_place(control: &Control) -> Option<Arc<Place>> {
    let me = id(control);
    frames()
        .filter(|f| f.control == me)
        .filter_map(|f| f.place.as_ref()?.upgrade())
        .find(|place| {
            place
                .lent
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
        .map(|lender| {
            Arc::new(Place {
                slot: Arc::clone(&lender.slot),
                lent: AtomicBool::new(false),
                _borrowed: Some(Borrowed(lender)),
            })
        })
}

/// Is this call nested in a running request of `control` that leads the
/// coalesced work `key`?
pub(crate) fn leads(control: &Control, key: &str) -> bool {
    let me = id(control);
    frames().any(|f| f.control == me && f.flight.as_deref() == Some(key))
}
