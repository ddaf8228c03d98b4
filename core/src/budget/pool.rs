//! The memory all calls of the process hold together (`max_total_memory`).
//!
//! Each call's [`super::Budget`] bounds what that call may allocate
//! (`max_memory`), but a flood of calls, each within its own budget, could
//! still exhaust the machine. So the bytes a call holds are also reserved
//! here, and given back when the call frees them or ends: first its source
//! bytes, then every memory charge of its work.
//!
//! A call's source bytes and the first charge of its work may fill three
//! quarters of the pool; the last quarter is kept for the later charges of
//! calls already working (see [`Charge`]). When there is no room:
//! - for a call's source bytes (already in memory): 429 at once, and the
//!   bytes are freed, so calls piling up cannot hold more than the pool;
//! - for the first charge of a call's work: it waits while some other call
//!   is working (one that will give memory back), or while it is the oldest
//!   of two or more calls that hold only their source (the newer ones are
//!   refused and give theirs back), up to its deadline; 429 otherwise;
//! - for a later charge: 429 at once, since two working calls waiting for
//!   each other's bytes would never finish.
//!
//! Working calls never wait, and the others wait only for them or, the
//! oldest alone, for calls that will be refused, so waiting cannot
//! deadlock; and a flood of calls whose sources fill the pool still lets
//! one through instead of refusing them all. A single charge larger than it may ever take can never
//! be met and is a 422 naming `max_total_memory`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::format_bytes;
use crate::call::POLL_SLICE;
use crate::error::{Error, Result};
use crate::vips::deadline::Deadline;

/// Which of a call's reservations is being made: it decides how much of
/// the pool it may fill, and what happens without room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charge {
    /// The call's source bytes, already in memory: up to three quarters of
    /// the pool, else 429 at once (the bytes are then freed).
    Source,
    /// The first charge of the call's work: up to three quarters of the
    /// pool; without room it waits while another call is working (one that
    /// will give memory back) or while it is the oldest of the calls
    /// holding only their source and newer ones do too, up to its
    /// deadline, else 429.
    First,
    /// A later charge of a working call: up to the whole pool, else 429
    /// at once. The last quarter is kept for these, so that calls already
    /// working can finish rather than fail for want of what newer calls
    /// took.
    Later,
}

impl Charge {
    /// How much of a pool of `cap` bytes this charge may fill.
    pub(crate) fn limit(self, cap: u64) -> u64 {
        match self {
            Charge::Later => cap,
            Charge::Source | Charge::First => cap - cap / 4,
        }
    }
}

/// 422 naming `max_total_memory` when `bytes` for `what` are more than
/// `charge` may ever fill of a pool of `cap` bytes: no wait would help.
pub(crate) fn fits(what: &str, bytes: u64, cap: u64, charge: Charge) -> Result<()> {
    if bytes > charge.limit(cap) {
        return Err(Error::limit(
            "max_total_memory",
            format!(
                "{what} needs about {}, more than a call may take of max_total_memory ({}), the memory all calls share",
                format_bytes(bytes),
                format_bytes(cap)
            ),
        ));
    }
    Ok(())
}

/// The reserved bytes, how many calls are working, and which calls hold
/// only their source (by age: a call's id grows with its start).
struct Count {
    reserved: u64,
    working: u64,
    waiting_to_work: BTreeSet<u64>,
}

/// A count of reserved bytes that calls wait on. The process has one
/// ([`Pool::global`]); tests make their own.
pub(crate) struct Pool {
    count: Mutex<Count>,
    freed: Condvar,
    /// The most ever reserved at once.
    peak: AtomicU64,
    /// Charges refused with 429 because the pool was full.
    refused: AtomicU64,
}

static GLOBAL: Pool = Pool::new();

/// Inputs that bindings copied for calls that have not started yet (see
/// [`Pool::waiting`]).
static WAITING: Pool = Pool::new();

impl Pool {
    /// An empty pool.
    pub(crate) const fn new() -> Pool {
        Pool {
            count: Mutex::new(Count {
                reserved: 0,
                working: 0,
                waiting_to_work: BTreeSet::new(),
            }),
            freed: Condvar::new(),
            peak: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The pool every call of the process shares.
    pub(crate) fn global() -> &'static Pool {
        &GLOBAL
    }

    /// The pool of inputs copied for calls that wait for a thread: apart
    /// from [`Pool::global`], whose fairness rules are about calls that
    /// work (a call would otherwise wait for room held by inputs queued
    /// behind it). A started call counts its input again in the global
    /// pool, so together they bound the memory at twice
    /// `max_total_memory`.
    pub(crate) fn waiting() -> &'static Pool {
        &WAITING
    }

    fn lock(&self) -> MutexGuard<'_, Count> {
        // A poisoned lock only means a panic elsewhere; the count stays valid.
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserve `bytes` for `what` in a pool of `cap` bytes, as `charge`
    /// says, for the call `caller` (`None`: bytes of no call yet, a
    /// loader's); waits end when `deadline` passes or its caller is gone.
    /// A call's [`Charge::Source`] makes it wait to work, its
    /// [`Charge::First`] makes it count as working from now on (until
    /// [`Pool::end_call`]).
    pub(crate) fn reserve(
        &self,
        what: &str,
        bytes: u64,
        cap: u64,
        charge: Charge,
        deadline: Option<&Deadline>,
        caller: Option<u64>,
    ) -> Result<()> {
        fits(what, bytes, cap, charge)?;
        let limit = charge.limit(cap);
        let mut count = self.lock();
        while count.reserved.saturating_add(bytes) > limit {
            // The oldest call holding only its source waits only while
            // newer ones hold theirs: they will be refused and give them
            // back. Alone, it would wait for nobody.
            let oldest = caller.is_some()
                && count.waiting_to_work.first() == caller.as_ref()
                && count.waiting_to_work.len() > 1;
            if charge != Charge::First || (count.working == 0 && !oldest) {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Error::TooManyRequests);
            }
            let slice = match deadline {
                Some(d) if d.expired() => return Err(d.error()),
                Some(d) => d.remaining().clamp(Duration::from_millis(1), POLL_SLICE),
                None => POLL_SLICE,
            };
            count = self
                .freed
                .wait_timeout(count, slice)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        count.reserved += bytes;
        if let Some(id) = caller {
            match charge {
                Charge::Source => {
                    count.waiting_to_work.insert(id);
                }
                Charge::First => {
                    count.working += 1;
                    count.waiting_to_work.remove(&id);
                }
                Charge::Later => {}
            }
        }
        self.peak.fetch_max(count.reserved, Ordering::Relaxed);
        Ok(())
    }

    /// Count `bytes` that exist already, whatever room the pool has: they
    /// are in memory whether counted or not, and counting them makes new
    /// calls wait or be refused while they are held.
    #[cfg(any(feature = "server", test))]
    pub(crate) fn add(&self, bytes: u64) {
        let mut count = self.lock();
        count.reserved = count.reserved.saturating_add(bytes);
        self.peak.fetch_max(count.reserved, Ordering::Relaxed);
    }

    /// Give back `bytes` reserved earlier and wake the calls waiting for
    /// room.
    pub(crate) fn release(&self, bytes: u64) {
        self.update(|c| c.reserved = c.reserved.saturating_sub(bytes));
    }

    /// The call `caller` has ended: give back the `bytes` it held, and it
    /// no longer works (if `working`) or waits to.
    pub(crate) fn end_call(&self, caller: u64, bytes: u64, working: bool) {
        self.update(|c| {
            c.reserved = c.reserved.saturating_sub(bytes);
            c.working = c.working.saturating_sub(u64::from(working));
            c.waiting_to_work.remove(&caller);
        });
    }

    fn update(&self, change: impl FnOnce(&mut Count)) {
        change(&mut self.lock());
        self.freed.notify_all();
    }

    /// Calls working now (past their first charge, not yet ended).
    pub(crate) fn working(&self) -> u64 {
        self.lock().working
    }

    /// Bytes reserved now.
    pub(crate) fn reserved(&self) -> u64 {
        self.lock().reserved
    }

    /// The most bytes ever reserved at once.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// Bytes the calls of this process hold now, as charged against
/// `max_total_memory`, and the charges refused so far because the pool was
/// full.
pub(crate) fn memory_figures() -> (u64, u64) {
    (GLOBAL.reserved(), GLOBAL.refused.load(Ordering::Relaxed))
}

/// The default `max_total_memory`: half the memory this process may use,
/// the smaller of the machine's (`MemTotal`) and the limit of its cgroup
/// (or of any cgroup above it); 0 (no limit) where neither can be read.
pub(crate) fn default_max_total_memory() -> u64 {
    static DEFAULT: OnceLock<u64> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let machine = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| mem_total(&s));
        let cgroup = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|s| cgroup_limit(&s, |p| std::fs::read_to_string(p).ok()));
        machine.into_iter().chain(cgroup).min().map_or(0, |m| m / 2)
    })
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The smallest memory limit of the cgroups `/proc/self/cgroup` lists
/// (`own`) and their ancestors, cgroup v2 (`0::/path`, `memory.max`) or v1
/// (`N:memory:/path`, `memory.limit_in_bytes`), read through `read`.
/// Ancestors count because a limit anywhere above bounds the process too,
/// and because inside a container without a cgroup namespace the listed
/// path does not exist but the container's own cgroup is mounted as the
/// root. "max" (v2) and v1's huge "unlimited" value lose to `MemTotal`.
fn cgroup_limit(own: &str, read: impl Fn(&std::path::Path) -> Option<String>) -> Option<u64> {
    let mut least: Option<u64> = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (roots, file): (&[&str], &str) = if controllers.is_empty() {
            (&["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            (&["/sys/fs/cgroup/memory"], "memory.limit_in_bytes")
        } else {
            continue;
        };
        for root in roots {
            let mut dir = Some(std::path::Path::new(path.trim_start_matches('/')));
            while let Some(d) = dir {
                let file = std::path::Path::new(root).join(d).join(file);
                if let Some(limit) = read(&file).and_then(|s| s.trim().parse::<u64>().ok()) {
                    least = Some(least.map_or(limit, |l| l.min(limit)));
                }
                dir = d.parent();
            }
        }
    }
    least
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_total() {
        let info = "MemTotal:       24000000 kB\nMemFree:        1 kB\n";
        assert_eq!(mem_total(info), Some(24_000_000 * 1024));
        assert_eq!(mem_total("nothing"), None);
        assert!(default_max_total_memory() > 0, "Linux always says");
    }

    #[test]
    fn reads_the_least_cgroup_limit_above_the_process() {
        let files = [
            (
                "/sys/fs/cgroup/memory/a/b/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            (
                "/sys/fs/cgroup/memory/a/memory.limit_in_bytes",
                "2147483648\n",
            ),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("/sys/fs/cgroup/memory.max", "max\n"),
            ("/sys/fs/cgroup/svc/memory.max", "1073741824\n"),
        ];
        let read = |p: &std::path::Path| {
            files
                .iter()
                .find(|(f, _)| std::path::Path::new(f) == p)
                .map(|(_, s)| s.to_string())
        };
        // v1: the parent's limit bounds the child.
        let v1 = "4:memory:/a/b\n3:cpuset:/\n0::/\n";
        assert_eq!(cgroup_limit(v1, read), Some(2 << 30));
        // v2: a service's own limit; "max" above it is no limit.
        assert_eq!(cgroup_limit("0::/svc\n", read), Some(1 << 30));
        // A path that is not mounted here (a container without a cgroup
        // namespace) falls back to the root, the container's own cgroup.
        assert_eq!(
            cgroup_limit("4:memory:/docker/xyz\n", read),
            Some(9223372036854771712)
        );
        assert_eq!(cgroup_limit("0::/\n", read), None);
        assert_eq!(cgroup_limit("", read), None);
    }
}
