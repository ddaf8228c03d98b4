//! Per-call deadlines enforced inside libvips.
//!
//! A [`Deadline`] is entered for the duration of one call on the calling
//! thread ([`Deadline::enter`]). Every image libvips hands us while it is
//! entered is watched: progress reporting is switched on and the image's
//! `eval` signal, which libvips emits between tiles while it computes
//! pixels, is connected to a handler that sets libvips' kill flag once the
//! deadline has passed. The next tile then fails, libvips unwinds the
//! pipeline and frees it, and the failing call reports [`Error::Timeout`]
//! because the deadline fired (never because of libvips' error text).
//!
//! libvips emits `eval` only between the chunks a sink computes, and one
//! chunk can take long: a deep chain that reads its input several times
//! (`fill(blur)` eight times over) recomputes it over and over within a
//! single chunk. So the [`watchdog`](super::watchdog) also wakes at the
//! deadline and sets the kill flag on every image of the call at once;
//! libvips checks it each time a region of one of them is prepared, which
//! happens throughout a chunk.
//!
//! Work that does not run through a libvips sink (our own loops, libvips
//! operations that run at build time) checks [`check`] between steps.

use std::cell::RefCell;
use std::collections::HashSet;
use std::os::raw::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::sys;
use crate::call::Stop;
use crate::error::{Error, Result};

/// A wall-clock limit for one call, shared by every image of that call.
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Instant,
    limit: Duration,
    /// The option that set `limit`, for messages (`process_timeout`).
    option: &'static str,
    fired: AtomicBool,
    /// The caller may also stop the call before the deadline.
    stop: Stop,
    /// Time spent waiting for source bytes still arriving, which a
    /// `process_timeout` does not count ([`Deadline::add_waiting`]).
    waited_ns: AtomicU64,
    /// The request's deadline, which the waiting never moves.
    cap: Option<Instant>,
    /// The live images this deadline watches (addresses), for the
    /// watchdog; each removes itself while it is disposed.
    images: Mutex<HashSet<usize>>,
    /// Threads that have this deadline entered: the watchdog kills only a
    /// call still running, never images that outlive it.
    entered: AtomicUsize,
    /// The watchdog killed every image: images made afterwards are born
    /// killed.
    killed: AtomicBool,
    /// Handed to the watchdog (once).
    tracked: AtomicBool,
    /// Stop the work this long before the deadline: a step that cannot be
    /// interrupted may start until then and must end by the deadline
    /// ([`Deadline::reserve`]).
    reserve_ns: AtomicU64,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Deadline>>> = const { RefCell::new(None) };
}

/// Restores the reserve a deadline had before [`Deadline::reserve`].
pub(crate) struct Reserved {
    deadline: Arc<Deadline>,
    previous: u64,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.deadline
            .reserve_ns
            .store(self.previous, Ordering::Relaxed);
    }
}

/// Restores the previously entered deadline (if any) when dropped.
pub(crate) struct Entered {
    current: Arc<Deadline>,
    previous: Option<Arc<Deadline>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.current.entered.fetch_sub(1, Ordering::AcqRel);
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl Deadline {
    /// A deadline `limit` from now, set by `option`, that also passes as
    /// soon as `stop` says the caller is gone.
    pub(crate) fn with_stop(limit: Duration, option: &'static str, stop: Stop) -> Arc<Deadline> {
        // A limit too far out to add to now is as good as none.
        let limit = limit.min(Duration::from_secs(100 * 365 * 24 * 3600));
        Arc::new(Deadline {
            at: Instant::now() + limit,
            limit,
            option,
            fired: AtomicBool::new(false),
            stop,
            waited_ns: AtomicU64::new(0),
            cap: None,
            images: Mutex::new(HashSet::new()),
            entered: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            tracked: AtomicBool::new(false),
            reserve_ns: AtomicU64::new(0),
        })
    }

    /// [`Deadline::with_stop`] for a `process_timeout` inside a request
    /// that must be answered by `cap`.
    pub(crate) fn capped(limit: Duration, stop: Stop, cap: Instant) -> Arc<Deadline> {
        let mut d = Deadline::with_stop(limit, "process_timeout", stop);
        if let Some(d) = Arc::get_mut(&mut d) {
            d.cap = Some(cap);
        }
        d
    }

    /// Processing waited `d` for source bytes still arriving: a
    /// `process_timeout` moves out by as much (never past the request's
    /// deadline); a request deadline counts everything.
    pub(crate) fn add_waiting(&self, d: Duration) {
        if self.option == "process_timeout" {
            let ns = d.as_nanos().min(u64::MAX as u128) as u64;
            self.waited_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }

    /// When the deadline passes, waiting included.
    pub(super) fn passes_at(&self) -> Instant {
        let waited = Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed));
        let at = self.at.checked_add(waited).unwrap_or(self.at);
        match self.cap {
            Some(cap) if cap < at => cap,
            _ => at,
        }
    }

    /// When the work is stopped: the deadline less the reserve.
    pub(super) fn stops_at(&self) -> Instant {
        let reserve = Duration::from_nanos(self.reserve_ns.load(Ordering::Relaxed));
        let at = self.passes_at();
        at.checked_sub(reserve).unwrap_or(at)
    }

    /// Must the work stop now: has the deadline passed or the caller gone,
    /// or is less than the reserve left?
    pub(super) fn due(&self) -> bool {
        self.expired() || Instant::now() >= self.stops_at()
    }

    /// Until the guard is dropped, stop the work `reserve` before the
    /// deadline (as if it had passed): the steps libvips runs between the
    /// checks that cannot be interrupted (quantising one frame of a GIF)
    /// then end by the deadline if each takes at most `reserve`.
    pub(crate) fn reserve(self: &Arc<Self>, reserve: Duration) -> Reserved {
        let ns = reserve.as_nanos().min(u64::MAX as u128) as u64;
        let previous = self.reserve_ns.swap(ns, Ordering::Relaxed);
        super::watchdog::rearm();
        Reserved {
            deadline: self.clone(),
            previous,
        }
    }

    /// Watch every image made on this thread until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Entered {
        self.entered.fetch_add(1, Ordering::AcqRel);
        if !self.tracked.swap(true, Ordering::AcqRel) {
            super::watchdog::track(self);
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        Entered {
            current: self.clone(),
            previous,
        }
    }

    /// Is a call still running under this deadline?
    pub(super) fn is_entered(&self) -> bool {
        self.entered.load(Ordering::Acquire) > 0
    }

    /// Has the watchdog already killed this call's images?
    pub(super) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Set libvips' kill flag on every live image of the call (the
    /// watchdog, once the deadline has passed): whichever of them libvips
    /// prepares next fails, and the pipeline unwinds.
    pub(super) fn kill_all(&self) {
        self.fired.store(true, Ordering::Relaxed);
        let images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        self.killed.store(true, Ordering::Release);
        for &image in images.iter() {
            // SAFETY: an address stays in the set only while the image is
            // alive: its dispose removes it under this same lock (see
            // `forget`), so it cannot be freed while we hold the lock.
            unsafe { sys::vips_image_set_kill(image as *mut sys::VipsImage, 1) };
        }
    }

    /// Has the deadline passed (or fired inside libvips, maybe early for a
    /// reserve), or is the caller gone?
    pub(crate) fn expired(&self) -> bool {
        self.fired.load(Ordering::Relaxed)
            || self.stop.stopped()
            || Instant::now() >= self.passes_at()
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.passes_at().saturating_duration_since(Instant::now())
    }

    /// The configured limit.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// The option that set the limit (`process_timeout`, `request_timeout`).
    pub(crate) fn option(&self) -> &'static str {
        self.option
    }

    /// The error a call gets once this deadline has passed:
    /// [`Error::Cancelled`] when the caller is gone.
    pub(crate) fn error(&self) -> Error {
        if self.stop.stopped() {
            return Error::Cancelled;
        }
        // Stopped early for a reserve: what was left would not have
        // ended in time.
        let verb = if Instant::now() < self.passes_at() {
            "would take"
        } else {
            "took"
        };
        Error::Timeout(format!(
            "timeout: processing {verb} longer than {} ({})",
            self.option,
            crate::duration::format_duration(self.limit)
        ))
    }
}

/// The deadline entered on this thread, if any.
pub(crate) fn current() -> Option<Arc<Deadline>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// `Err(Timeout)` when the entered deadline has passed.
pub(crate) fn check() -> Result<()> {
    match current() {
        Some(d) if d.expired() => Err(d.error()),
        _ => Ok(()),
    }
}

/// Did the entered deadline fire? Used to classify a failed libvips call.
/// The deadline hook our C decoders call between steps (`jpeg.c`,
/// `png_rows.c`): non-zero once this thread's deadline has passed.
pub(super) extern "C" fn passed_for_c() -> std::os::raw::c_int {
    std::panic::catch_unwind(|| check().is_err()).unwrap_or(true) as std::os::raw::c_int
}

pub(crate) fn fired() -> Option<Error> {
    current().filter(|d| d.expired()).map(|d| d.error())
}

fn quark() -> u32 {
    static QUARK: OnceLock<u32> = OnceLock::new();
    // SAFETY: interns a static NUL-terminated string.
    *QUARK.get_or_init(|| unsafe { sys::g_quark_from_static_string(c"imagor-deadline".as_ptr()) })
}

/// Watch `image` with the deadline entered on this thread, once.
///
/// # Safety
/// `image` must be a live `VipsImage`.
pub(crate) unsafe fn watch(image: *mut sys::VipsImage) {
    let Some(deadline) = current() else { return };
    let key = Arc::as_ptr(&deadline) as *mut c_void;
    // SAFETY: qdata lookups on a live object; the value is only compared.
    if unsafe { sys::g_object_get_qdata(image.cast(), quark()) } == key {
        return;
    }
    let owner = deadline.clone();
    let data = Arc::into_raw(deadline) as *mut c_void;
    // SAFETY: the image is live. The handler's data is one strong reference
    // to the deadline, released by `release` when the handler is
    // disconnected (at the latest when the image is finalised). The marker
    // qdata is a plain pointer used for comparison only.
    unsafe {
        // Signal progress on this image itself, not on the upstream image
        // libvips inherited it from. The handler kills the image the
        // signal is emitted on, and libvips 8.14 notices a kill only on an
        // image whose regions are still being computed: once the upstream
        // image has been copied to memory (animation frames, crop copies),
        // nothing reads it again, so a kill set there was never seen and
        // the rest of the call ran past its deadline. (libvips 8.15 also
        // checks the signalling image's flag; with this it need not.)
        sys::vips_image_set_progress(image, 0);
        sys::vips_image_set_progress(image, 1);
        let handler: sys::EvalHandler = on_eval;
        sys::g_signal_connect_data(
            image.cast(),
            c"eval".as_ptr(),
            handler as *const c_void,
            data,
            Some(release),
            0,
        );
        sys::g_object_set_qdata(image.cast(), quark(), key);
    }
    {
        let mut images = owner.images.lock().unwrap_or_else(|e| e.into_inner());
        images.insert(image as usize);
        if owner.is_killed() {
            // SAFETY: the image is live.
            unsafe { sys::vips_image_set_kill(image, 1) };
        }
    }
    let data = Arc::into_raw(owner) as *mut c_void;
    // SAFETY: the image is live; `forget` gets the strong reference taken
    // here, once, while the image is disposed.
    unsafe { sys::g_object_weak_ref(image.cast(), forget, data) };
}

/// Weak-reference notify: the image is being disposed, so the watchdog
/// must no longer reach it. Never panics (it runs inside GObject).
unsafe extern "C" fn forget(data: *mut c_void, image: *mut c_void) {
    // SAFETY: data came from Arc::into_raw in `watch`; GObject calls this
    // exactly once.
    let deadline = unsafe { Arc::from_raw(data as *const Deadline) };
    let mut images = deadline.images.lock().unwrap_or_else(|e| e.into_inner());
    images.remove(&(image as usize));
}

/// The `eval` handler: kill the image once the deadline has passed. Never
/// panics (it runs inside libvips).
unsafe extern "C" fn on_eval(
    image: *mut sys::VipsImage,
    _progress: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: data is the strong reference taken in `watch`, alive until
    // `release` runs.
    let deadline = unsafe { &*(data as *const Deadline) };
    if deadline.due() {
        deadline.fired.store(true, Ordering::Relaxed);
        // SAFETY: libvips passes the live image the signal is emitted on.
        unsafe { sys::vips_image_set_kill(image, 1) };
    }
}

/// Drops the reference `watch` gave the handler.
unsafe extern "C" fn release(data: *mut c_void, _closure: *mut c_void) {
    // SAFETY: data came from Arc::into_raw in `watch`; GObject calls this
    // exactly once.
    drop(unsafe { Arc::from_raw(data as *const Deadline) });
}
