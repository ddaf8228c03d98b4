//! The resource budget of one call: a wall-clock deadline enforced inside
//! libvips, and estimates of memory and time checked before work starts.
//!
//! Every `process`/`meta`/`serve` call gets a [`Budget`] from its
//! [`Options`]:
//! - `process_timeout`: a [`Deadline`] entered on the calling thread for the
//!   whole call. libvips checks it between tiles and is killed when it
//!   passes; our own loops call [`Budget::check`]. Work whose estimated
//!   duration ([`Cost`]) exceeds the time left is refused before it starts,
//!   which matters for the steps libvips cannot interrupt (encoders that
//!   compress a whole frame in one library call, text layout, SVG).
//! - `max_memory`: the bytes a decoder or an intermediate image will
//!   really allocate, estimated from the headers ([`Budget::charge_memory`]).
//! - `max_total_memory`: the same bytes are reserved in a [`Pool`] all
//!   calls of the process share, so a flood of calls cannot add up to more
//!   than the machine has.
//!
//! Estimates err on the low side: the deadline stays the backstop, and a
//! refusal means the work would surely not fit. Both kinds of refusal name
//! the option that sets the limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::call::Stop;
use crate::duration::format_duration;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::vips::deadline::{Deadline, Entered, Reserved};

mod cpu;
mod held;
mod pool;

pub(crate) use cpu::thread_cpu_time;
pub(crate) use held::{is_held, Holding};
pub(crate) use pool::{default_max_total_memory, memory_figures, Charge, Pool};

/// The budget of one call. Cheap to clone: clones share the same state.
#[derive(Clone)]
pub(crate) struct Budget(Arc<Inner>);

struct Inner {
    deadline: Option<Arc<Deadline>>,
    max_memory: u64,
    /// Estimated work charged so far, in nanoseconds. libvips operations
    /// are lazy (their work happens when the result is written), so the
    /// estimates of a call add up and the sum is held against the limit.
    charged_ns: AtomicU64,
    /// Estimated bytes charged so far. Most allocations of a call are alive
    /// together at its peak (the decoder's buffers while the pipeline that
    /// reads them runs), so they add up too.
    charged_bytes: AtomicU64,
    /// The most `charged_bytes` has been (counted without a `max_memory`
    /// too).
    peak_bytes: AtomicU64,
    /// The pool shared with the other calls, and its cap (0: none).
    pool: &'static Pool,
    max_total: u64,
    /// Bytes this call holds in `pool`, given back when it ends.
    pooled: AtomicU64,
    /// Has the call charged memory for its work (not only its source)?
    working: AtomicBool,
    /// Charges made once for the whole call ([`Budget::charge_memory_once`]),
    /// by key: the largest charged for each.
    once: std::sync::Mutex<Vec<(usize, u64)>>,
    /// The call in the pool: ids grow with the calls' start.
    id: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let (pooled, working) = (*self.pooled.get_mut(), *self.working.get_mut());
        self.pool.end_call(self.id, pooled, working);
    }
}

/// The id of the next call's budget.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Budget {
    /// The budget `opts` describe, its clock started now. Inside a request
    /// ([`crate::call`]) the deadline is also the request's, if earlier,
    /// and passes when the request's caller is gone.
    pub(crate) fn new(opts: &Options) -> Budget {
        Budget::in_pool(opts, Pool::global())
    }

    /// [`Budget::new`], reserving its memory in `pool`.
    pub(crate) fn in_pool(opts: &Options, pool: &'static Pool) -> Budget {
        let scope = crate::call::current();
        let process = (!opts.process_timeout.is_zero()).then_some(opts.process_timeout);
        let request = scope
            .deadline
            .map(|(at, _)| (at.saturating_duration_since(Instant::now()), at));
        let deadline = match (process, request) {
            (Some(p), Some((left, at))) if p <= left => Some(Deadline::capped(p, scope.stop, at)),
            (_, Some((left, _))) => Some(Deadline::with_stop(left, "request_timeout", scope.stop)),
            (Some(p), None) => Some(Deadline::with_stop(p, "process_timeout", scope.stop)),
            (None, None) => match scope.stop {
                Stop::Never => None,
                stop => Some(Deadline::with_stop(Duration::MAX, "process_timeout", stop)),
            },
        };
        Budget(Arc::new(Inner {
            deadline,
            max_memory: opts.max_memory,
            charged_ns: AtomicU64::new(0),
            charged_bytes: AtomicU64::new(0),
            peak_bytes: AtomicU64::new(0),
            once: std::sync::Mutex::new(Vec::new()),
            pool,
            max_total: opts.max_total_memory,
            pooled: AtomicU64::new(0),
            working: AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }))
    }

    /// A budget without limits (for helpers and tests).
    pub(crate) fn unlimited() -> Budget {
        Budget::new(&Options {
            process_timeout: Duration::ZERO,
            max_memory: 0,
            max_total_memory: 0,
            ..Options::default()
        })
    }

    /// For the rest of the call on this thread: make the deadline watch
    /// every libvips image created, and let helpers that are not handed the
    /// budget find it ([`current`]). Undone when the guard is dropped.
    pub(crate) fn enter(&self) -> Scope {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        Scope {
            _deadline: self.0.deadline.as_ref().map(|d| d.enter()),
            previous,
        }
    }

    /// `Err(Timeout)` once the deadline has passed.
    pub(crate) fn check(&self) -> Result<()> {
        match &self.0.deadline {
            Some(d) if d.expired() => Err(d.error()),
            _ => Ok(()),
        }
    }

    /// Processing waited `d` for source bytes still arriving (not counted
    /// against `process_timeout`).
    pub(crate) fn add_waiting(&self, d: std::time::Duration) {
        if let Some(deadline) = &self.0.deadline {
            deadline.add_waiting(d);
        }
    }

    /// Nanoseconds left before the deadline (`None` without one).
    pub(crate) fn time_left_ns(&self) -> Option<u64> {
        self.0
            .deadline
            .as_ref()
            .map(|d| d.remaining().as_nanos().min(u64::MAX as u128) as u64)
    }

    /// The timeout error for `what`, refused because it would not finish
    /// in time.
    pub(crate) fn timeout_error(&self, what: &str) -> Error {
        let limit = self
            .0
            .deadline
            .as_ref()
            .map_or(Duration::ZERO, |d| d.limit());
        let option = self
            .0
            .deadline
            .as_ref()
            .map_or("process_timeout", |d| d.option());
        Error::Timeout(format!(
            "timeout: {what} would take longer than {option} ({}) allows",
            format_duration(limit)
        ))
    }

    /// Bytes the call may still charge before `max_memory` (`None`: no
    /// limit).
    pub(crate) fn memory_left(&self) -> Option<u64> {
        let max = self.0.max_memory;
        (max != 0).then(|| max.saturating_sub(self.0.charged_bytes.load(Ordering::Relaxed)))
    }

    /// Memory a decoder may take to hold a whole image instead of letting
    /// libvips stream its rows into the resize: a quarter of what
    /// `max_memory` leaves the call, of `max_total_memory`, and of what is
    /// free in that pool now (`None`: no limit). Past it the decode streams,
    /// in smaller charges that a busy pool can still meet.
    pub(crate) fn room_to_hold(&self) -> Option<u64> {
        let call = self.memory_left().map(|left| left / 4);
        let pool = (self.0.max_total != 0).then(|| {
            let free = self.0.max_total.saturating_sub(self.0.pool.reserved());
            self.0.max_total.min(free) / 4
        });
        match (call, pool) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The most memory the call has had charged at once.
    pub(crate) fn peak_memory(&self) -> u64 {
        self.0.peak_bytes.load(Ordering::Relaxed)
    }

    /// Give back `bytes` charged earlier for memory that has been freed.
    pub(crate) fn release_memory(&self, bytes: u64) {
        let _ = self
            .0
            .charged_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            });
        if let Ok(held) = self
            .0
            .pooled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            })
        {
            self.0.pool.release(held.min(bytes));
        }
    }

    /// [`Budget::charge_memory`] for memory a call holds once however often
    /// it is asked for under `key` (the same source's metadata at each of
    /// its header reads, one profile at each try of a save): only what
    /// exceeds the largest charge made under `key` before is charged.
    pub(crate) fn charge_memory_once(&self, key: usize, what: &str, bytes: u64) -> Result<()> {
        let more = {
            let mut once = self.0.once.lock().unwrap_or_else(|p| p.into_inner());
            match once.iter_mut().find(|(k, _)| *k == key) {
                Some((_, held)) if *held >= bytes => 0,
                Some((_, held)) => bytes - std::mem::replace(held, bytes),
                None => {
                    once.push((key, bytes));
                    bytes
                }
            }
        };
        self.charge_memory(what, more)
    }

    /// Add `bytes` for `what` to the call's memory and refuse it when the
    /// total would exceed `max_memory`; then reserve them in the pool all
    /// calls share: the call's first charge waits there while other calls
    /// hold it, a later one is refused with 429 (see [`Charge`]).
    pub(crate) fn charge_memory(&self, what: &str, bytes: u64) -> Result<()> {
        self.charge_call_memory(what, bytes)?;
        // A charge of nothing (a decoder that streams) reserves nothing,
        // and must not start the call's work: its first real charge would
        // then count as a later one, refused at once when newer calls'
        // sources hold the room, instead of waiting for them to give it
        // back.
        if self.0.max_total == 0 || bytes == 0 {
            return Ok(());
        }
        // Only the call's first charge starts its work (and may wait).
        let first = !self.0.working.swap(true, Ordering::AcqRel);
        let charge = if first { Charge::First } else { Charge::Later };
        let reserved = self.reserve(what, bytes, charge);
        if reserved.is_err() && first {
            self.0.working.store(false, Ordering::Release);
        }
        reserved
    }

    /// Reserve the call's source bytes (already in memory, and not bounded
    /// by `max_memory`) in the pool all calls share: 429 at once without
    /// room, so that calls piling up cannot hold more than the pool. Bytes
    /// a loader reserved while reading them ([`Holding`]) are not counted
    /// twice.
    pub(crate) fn reserve_source(&self, data: &[u8]) -> Result<()> {
        if self.0.max_total == 0 {
            return Ok(());
        }
        // Held bytes still make the call one that waits to work.
        let bytes = if is_held(data) { 0 } else { data.len() as u64 };
        self.reserve("holding the source image", bytes, Charge::Source)
    }

    fn reserve(&self, what: &str, bytes: u64, charge: Charge) -> Result<()> {
        let deadline = self.0.deadline.as_deref();
        self.0.pool.reserve(
            what,
            bytes,
            self.0.max_total,
            charge,
            deadline,
            Some(self.0.id),
        )?;
        self.0.pooled.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// The per-call half of [`Budget::charge_memory`]: `max_memory`.
    fn charge_call_memory(&self, what: &str, bytes: u64) -> Result<()> {
        let total = self
            .0
            .charged_bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        self.0.peak_bytes.fetch_max(total, Ordering::Relaxed);
        let max = self.0.max_memory;
        if max == 0 {
            return Ok(());
        }
        if total > max {
            let also = total.saturating_sub(bytes);
            return Err(Error::limit(
                "max_memory",
                format!(
                    "{what} needs about {}{}, more than max_memory ({})",
                    format_bytes(bytes),
                    if also > 0 {
                        format!(
                            " of memory besides the {} already in use",
                            format_bytes(also)
                        )
                    } else {
                        " of memory".to_owned()
                    },
                    format_bytes(max)
                ),
            ));
        }
        Ok(())
    }

    /// [`Budget::charge_time`] for work no deadline can stop once it has
    /// started (an encoder compressing a whole frame, libvips' thumbnail
    /// copy): it shares the cores with the other calls working in the
    /// process, so with more of them than cores its estimate grows by that
    /// ratio. Eight HEIF encodes at once on two cores, each estimated
    /// within 2 s alone, took 8-10 s each.
    pub(crate) fn charge_unstoppable_time(&self, what: &str, cost: Cost) -> Result<()> {
        self.charge_time(what, self.unstoppable(cost))
    }

    /// `cost` of work that cannot be stopped, as long as it takes with the
    /// other calls working in the process sharing the cores.
    pub(crate) fn unstoppable(&self, cost: Cost) -> Cost {
        let sharing = if self.0.max_total == 0 {
            1.0
        } else {
            (self.0.pool.working() as f64 / cores() as f64).max(1.0)
        };
        Cost(cost.0 * sharing)
    }

    /// Work charged as `charged` has run and took `took`: the call's total
    /// counts what it took instead of the estimate.
    pub(crate) fn settle(&self, charged: Cost, took: Duration) {
        let charged = charged.0.clamp(0.0, u64::MAX as f64) as u64;
        let took = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        let _ = self
            .0
            .charged_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                Some(total.saturating_sub(charged).saturating_add(took))
            });
    }

    /// Stop the call's work `reserve` before its deadline until the guard
    /// is dropped ([`Deadline::reserve`]); `None` without a deadline.
    pub(crate) fn stop_early(&self, reserve: Duration) -> Option<Reserved> {
        self.0.deadline.as_ref().map(|d| d.reserve(reserve))
    }

    /// Add the estimated work of `what` to the call's total and refuse it
    /// when the total would exceed `process_timeout` or the work alone the
    /// time left (and check the deadline itself).
    pub(crate) fn charge_time(&self, what: &str, cost: Cost) -> Result<()> {
        let Some(d) = &self.0.deadline else {
            return Ok(());
        };
        if d.expired() {
            return Err(d.error());
        }
        let ns = cost.0.clamp(0.0, u64::MAX as f64) as u64;
        let total = self
            .0
            .charged_ns
            .fetch_add(ns, Ordering::Relaxed)
            .saturating_add(ns);
        let estimate = cost.duration();
        let total = Duration::from_nanos(total);
        if estimate > d.remaining() || total > d.limit() {
            return Err(Error::Timeout(format!(
                "timeout: {what} would take about {}, more than {} ({}) allows",
                format_duration(round_ms(estimate.max(Duration::from_millis(1)))),
                d.option(),
                format_duration(d.limit())
            )));
        }
        Ok(())
    }
}

/// The cores this process may use.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().min(u64::MAX as u128) as u64)
}

thread_local! {
    /// The budget of the call running on this thread.
    static CURRENT: std::cell::RefCell<Option<Budget>> = const { std::cell::RefCell::new(None) };
}

/// The budget of a call entered on this thread ([`Budget::enter`]).
pub(crate) struct Scope {
    _deadline: Option<Entered>,
    previous: Option<Budget>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The budget of the call entered on this thread (unlimited outside a
/// call), for helpers that are not handed one (per-frame work).
pub(crate) fn current() -> Budget {
    entered().unwrap_or_else(Budget::unlimited)
}

/// The budget of the call entered on this thread, if one is.
fn entered() -> Option<Budget> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Bytes for messages: `"1.2 GiB"`, `"256 MiB"`, `"12 KiB"`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64;
    let mut unit = "";
    for u in UNITS {
        v /= 1024.0;
        unit = u;
        if v < 1024.0 {
            break;
        }
    }
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Estimated work, in nanoseconds of one core on the reference machine
/// (a 2-core x86_64 CI runner; see `core/examples/calibrate_budget.rs`).
/// The constants are measured throughputs rounded up, so estimates are
/// on the low side.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub(crate) struct Cost(f64);

impl Cost {
    /// `pixels` pixels at `ns_per_pixel` each.
    pub(crate) fn per_pixel(pixels: f64, ns_per_pixel: f64) -> Cost {
        Cost(pixels.max(0.0) * ns_per_pixel)
    }

    /// The estimate as a duration (saturating).
    pub(crate) fn duration(self) -> Duration {
        Duration::try_from_secs_f64(self.0 / 1e9).unwrap_or(Duration::MAX)
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, other: Cost) -> Cost {
        Cost(self.0 + other.0)
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.0 += other.0;
    }
}

#[cfg(test)]
mod tests;
