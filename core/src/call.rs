//! The scope of one request being served on this thread: its deadline
//! (`request_timeout`) and whether its caller still wants the result.
//!
//! [`crate::Imagor::handle`] enters a [`CallScope`] for the whole request;
//! everything below it finds the scope here instead of being handed it:
//! the per-call [`crate::budget::Budget`] bounds its processing deadline by
//! the request's and stops libvips when the caller is gone, loads and
//! storage calls give up at their timeouts ([`block_on_until`]), and queue
//! waits end with the request.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::request::Cancel;

/// When the work of a call should stop because nobody wants its result.
/// Reading it never panics and never blocks (it runs inside libvips'
/// progress callbacks).
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    /// Never stops (library calls without a caller to lose).
    Never,
    /// The caller's own cancellation.
    Caller(Cancel),
    /// Coalesced work: it stops only once its leader's caller is gone and
    /// no follower waits for it any more.
    Shared {
        /// The cancellation of the request that runs the work.
        leader: Cancel,
        /// Requests waiting for the work's result.
        followers: Arc<AtomicUsize>,
    },
}

impl Stop {
    /// Should the work stop now?
    pub(crate) fn stopped(&self) -> bool {
        match self {
            Stop::Never => false,
            Stop::Caller(c) => c.is_cancelled(),
            Stop::Shared { leader, followers } => {
                leader.is_cancelled() && followers.load(Ordering::Acquire) == 0
            }
        }
    }
}

/// The deadline and stop condition of the request on this thread.
#[derive(Debug, Clone)]
pub(crate) struct CallScope {
    /// When the request must be answered, and the limit that set it.
    pub deadline: Option<(Instant, Duration)>,
    /// Whether the caller still wants the result.
    pub stop: Stop,
    /// The request's `max_total_memory`: its loaders reserve the source
    /// bytes they read in that pool ([`crate::budget::Holding`]); 0: none.
    pub max_total_memory: u64,
    /// The `Via` entries of the request being served, one line
    /// (`None` outside one): what the HTTP loader's fetches, overlays'
    /// included, count and extend to see a fetch that loops back
    /// ([`crate::loader::http::MAX_HOPS`]).
    pub via: Option<Arc<str>>,
}

/// The instant `limit` from now and the limit, or `None` for a zero limit
/// (none) or one too far out to add to now (as good as none).
fn deadline_in(limit: Duration) -> Option<(Instant, Duration)> {
    if limit.is_zero() {
        return None;
    }
    Instant::now().checked_add(limit).map(|at| (at, limit))
}

impl CallScope {
    /// A scope for a request starting now with `request_timeout` (zero:
    /// none) and the caller's `cancel`, its sources counted against
    /// `max_total_memory` while they are read.
    pub(crate) fn new(
        request_timeout: Duration,
        cancel: &Cancel,
        max_total_memory: u64,
    ) -> CallScope {
        Self::since(Instant::now(), request_timeout, cancel, max_total_memory)
    }

    /// [`CallScope::new`] for a request that arrived at `arrived`: its
    /// time waiting for a thread counts against `request_timeout` too.
    pub(crate) fn since(
        arrived: Instant,
        request_timeout: Duration,
        cancel: &Cancel,
        max_total_memory: u64,
    ) -> CallScope {
        let deadline = if request_timeout.is_zero() {
            None
        } else {
            arrived
                .checked_add(request_timeout)
                .map(|at| (at, request_timeout))
        };
        CallScope {
            deadline,
            stop: Stop::Caller(cancel.clone()),
            max_total_memory,
            via: None,
        }
    }

    /// The request's timeout error.
    pub(crate) fn timeout_error(&self) -> Error {
        match self.deadline {
            Some((_, limit)) => Error::Timeout(format!(
                "timeout: the request took longer than request_timeout ({})",
                crate::duration::format_duration(limit)
            )),
            None => Error::timeout(),
        }
    }

    /// `Err` when the caller is gone or the request's time is up.
    pub(crate) fn check(&self) -> Result<()> {
        if self.stop.stopped() {
            return Err(Error::Cancelled);
        }
        match self.deadline {
            Some((at, _)) if Instant::now() >= at => Err(self.timeout_error()),
            _ => Ok(()),
        }
    }

    /// The earlier of the request deadline and `limit` from now (zero
    /// `limit`: no limit of its own), with the error for each.
    pub(crate) fn bound(&self, limit: Duration, what: &'static str) -> Bound {
        let own = deadline_in(limit);
        match (own, self.deadline) {
            (Some((at, l)), Some((req_at, _))) if at < req_at => Bound::own(at, l, what),
            (Some((at, l)), None) => Bound::own(at, l, what),
            (_, Some((req_at, _))) => Bound {
                at: Some(req_at),
                error: self.timeout_error(),
            },
            (None, None) => Bound {
                at: None,
                error: Error::timeout(),
            },
        }
    }
}

/// A deadline for one step and the error it ends with.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    /// When the step must be done.
    pub at: Option<Instant>,
    /// What a step past `at` fails with.
    pub error: Error,
}

impl Bound {
    fn own(at: Instant, limit: Duration, what: &'static str) -> Bound {
        Bound {
            at: Some(at),
            error: Error::Timeout(format!(
                "timeout: {what} took longer than {}",
                crate::duration::format_duration(limit)
            )),
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<CallScope>> = const { RefCell::new(None) };
}

/// Restores the previous scope when dropped.
pub(crate) struct Entered {
    previous: Option<CallScope>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Make `scope` the scope of this thread until the guard is dropped.
pub(crate) fn enter(scope: CallScope) -> Entered {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(scope));
    Entered { previous }
}

/// The scope of the request on this thread; outside a request, one without
/// deadline that never stops.
pub(crate) fn current() -> CallScope {
    CURRENT.with(|c| c.borrow().clone()).unwrap_or(CallScope {
        deadline: None,
        stop: Stop::Never,
        max_total_memory: 0,
        via: None,
    })
}

/// How often a blocked wait looks at the stop condition.
pub(crate) const POLL_SLICE: Duration = Duration::from_millis(20);

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drive `future` on this thread until it is done, `bound` passes (its
/// error) or the scope's caller is gone ([`Error::Cancelled`]). The future
/// is dropped unfinished in the last two cases, which cancels the I/O it
/// owns.
pub(crate) fn block_on_until<F: Future>(
    future: F,
    bound: &Bound,
    stop: &Stop,
) -> Result<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Ok(out);
        }
        if stop.stopped() {
            return Err(Error::Cancelled);
        }
        let wait = match bound.at {
            Some(at) => {
                let now = Instant::now();
                if now >= at {
                    return Err(bound.error.clone());
                }
                (at - now).min(POLL_SLICE)
            }
            None => POLL_SLICE,
        };
        std::thread::park_timeout(wait);
    }
}

/// A bound on the threads blocked at once waiting for an image's source (a
/// loader's or a storage's answer). The server serves each request on a
/// thread of a bounded pool: requests for images on an origin that never
/// answers could hold every one of them for the load timeout, and requests
/// for local files then waited for a thread. Past the bound such a wait is
/// refused with [`Error::TooManyRequests`] at once, so the rest of the pool
/// stays free for work that does not wait on the network.
pub(crate) struct SourceWaits {
    waiting: AtomicUsize,
    /// 0: no bound (library calls, whose threads are their caller's).
    max: AtomicUsize,
}

/// The process's threads waiting for sources; [`crate::server`] bounds it.
pub(crate) static SOURCE_WAITS: SourceWaits = SourceWaits::new();

/// One thread counted in [`SourceWaits`] until dropped.
pub(crate) struct SourceWait<'a>(&'a SourceWaits);

impl Drop for SourceWait<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SourceWaits {
    pub(crate) const fn new() -> Self {
        SourceWaits {
            waiting: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        }
    }

    /// At most `max` threads may wait at once (0: no bound).
    #[cfg_attr(not(any(feature = "server", test)), allow(dead_code))]
    pub(crate) fn limit(&self, max: usize) {
        self.max.store(max, Ordering::Release);
    }

    /// Count this thread in, or refuse it when the bound is reached.
    pub(crate) fn enter(&self) -> Result<SourceWait<'_>> {
        let max = self.max.load(Ordering::Acquire);
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let wait = SourceWait(self);
        if max > 0 && before >= max {
            return Err(Error::TooManyRequests);
        }
        Ok(wait)
    }

    /// [`block_on_until`] for a source: a future that is not ready at once
    /// waits only as one of the bounded waiting threads. The place is taken
    /// before the first poll: past the bound, that poll may still answer
    /// from what is at hand but starts no network task
    /// ([`crate::net_runtime::spawn`] refuses), so a refused request never
    /// reaches its origin (the built-in loaders and storages start their
    /// I/O there; a custom loader doing its own is not stopped).
    pub(crate) fn block_on<F: Future>(
        &self,
        future: F,
        bound: &Bound,
        stop: &Stop,
    ) -> Result<F::Output> {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        let counted = self.enter();
        let first = {
            let _refusing = counted.is_err().then(RefusingNetwork::start);
            future.as_mut().poll(&mut cx)
        };
        match (first, counted) {
            (Poll::Ready(out), _) => Ok(out),
            (Poll::Pending, Err(e)) => Err(e),
            (Poll::Pending, Ok(_counted)) => block_on_until(future, bound, stop),
        }
    }
}

thread_local! {
    /// Set while a source's first poll runs past the bound of waits.
    static REFUSING_NETWORK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, network tasks started on this thread are refused.
struct RefusingNetwork(bool);

impl RefusingNetwork {
    fn start() -> Self {
        RefusingNetwork(REFUSING_NETWORK.replace(true))
    }
}

impl Drop for RefusingNetwork {
    fn drop(&mut self) {
        REFUSING_NETWORK.set(self.0);
    }
}

/// [`Error::TooManyRequests`] when this thread may not start a network
/// task now: it polls a source whose wait was refused (see
/// [`SourceWaits::block_on`]).
pub(crate) fn may_start_network() -> Result<()> {
    match REFUSING_NETWORK.get() {
        true => Err(Error::TooManyRequests),
        false => Ok(()),
    }
}

/// [`SourceWaits::block_on`] on the process's [`SOURCE_WAITS`].
pub(crate) fn block_on_source<F: Future>(
    future: F,
    bound: &Bound,
    stop: &Stop,
) -> Result<F::Output> {
    SOURCE_WAITS.block_on(future, bound, stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_past_the_bound_are_refused_and_ready_sources_never_wait() {
        let waits = SourceWaits::new();
        waits.limit(1);
        let never = Bound {
            at: None,
            error: Error::timeout(),
        };
        // A source that answers at once is not counted.
        assert_eq!(
            waits.block_on(async { 7 }, &never, &Stop::Never).ok(),
            Some(7)
        );
        let held = waits.enter().expect("the first wait");
        let soon = Bound {
            at: Some(Instant::now() + Duration::from_secs(5)),
            error: Error::timeout(),
        };
        // Refused, not timed out: it did not wait.
        let refused = waits.block_on(std::future::pending::<()>(), &soon, &Stop::Never);
        assert!(
            matches!(refused, Err(Error::TooManyRequests)),
            "{refused:?}"
        );
        assert_eq!(
            waits.block_on(async { 8 }, &soon, &Stop::Never).ok(),
            Some(8)
        );
        // A refused source starts no network task: its origin never hears.
        let started = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let fetch = async move {
            crate::net_runtime::spawn(async move {
                counter.fetch_add(1, Ordering::SeqCst);
            })?
            .await
        };
        let refused = waits.block_on(fetch, &soon, &Stop::Never);
        assert!(
            matches!(refused, Ok(Err(Error::TooManyRequests))),
            "{refused:?}"
        );
        assert!(crate::call::may_start_network().is_ok(), "only that poll");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(started.load(Ordering::SeqCst), 0);
        drop(held);
        // The refused wait gave its count back: one may wait again.
        let again = waits.enter();
        assert!(again.is_ok());
        drop(again);
        waits.limit(0);
        let (a, b) = (waits.enter(), waits.enter());
        assert!(a.is_ok() && b.is_ok(), "no bound");
    }

    #[test]
    fn a_pending_future_ends_at_its_bound_or_when_cancelled() {
        // The deadline is set when the scope is made: start the clock first.
        let start = Instant::now();
        let scope = CallScope::new(Duration::from_millis(50), &Cancel::new(), 0);
        let bound = scope.bound(Duration::ZERO, "load");
        let r = block_on_until(std::future::pending::<()>(), &bound, &scope.stop);
        assert!(matches!(r, Err(Error::Timeout(m)) if m.contains("request_timeout")));
        assert!(start.elapsed() >= Duration::from_millis(50));

        let cancel = Cancel::new();
        let stop = Stop::Caller(cancel.clone());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            cancel.cancel();
        });
        let never = Bound {
            at: None,
            error: Error::timeout(),
        };
        let r = block_on_until(std::future::pending::<()>(), &never, &stop);
        assert_eq!(r, Err(Error::Cancelled));
        t.join().ok();
    }

    #[test]
    fn the_earlier_deadline_names_itself() {
        let scope = CallScope::new(Duration::from_secs(30), &Cancel::new(), 0);
        let b = scope.bound(Duration::from_millis(10), "load");
        assert!(
            matches!(&b.error, Error::Timeout(m) if m == "timeout: load took longer than 10ms")
        );
        let b = scope.bound(Duration::from_secs(60), "load");
        assert!(matches!(&b.error, Error::Timeout(m) if m.contains("request_timeout (30s)")));
    }

    #[test]
    fn shared_work_stops_only_when_everyone_is_gone() {
        let leader = Cancel::new();
        let followers = Arc::new(AtomicUsize::new(1));
        let stop = Stop::Shared {
            leader: leader.clone(),
            followers: followers.clone(),
        };
        leader.cancel();
        assert!(!stop.stopped());
        followers.store(0, Ordering::Release);
        assert!(stop.stopped());
    }
}
