//! The HTTP loader's figures: fetches, bytes received, and the loads that
//! failed, by class. Shared by clones of a loader; the server exports them
//! as Prometheus counters (through [`crate::Stats`]).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

/// Totals of one HTTP loader since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpLoaderStats {
    /// Loads sent towards an origin (one per image key, redirects included).
    pub fetches: u64,
    /// Loads answered with an image.
    pub fetched: u64,
    /// Body bytes received (after decoding), including bodies cut off at
    /// the size limit.
    pub bytes: u64,
    /// Loads whose body was decoded while it arrived (a sequential JPEG or
    /// a PNG without interlacing, processed by the server's flow).
    pub streamed: u64,
    /// Refused by the address policy (loopback, private, link-local or a
    /// blocked network; 403), before or after DNS, on any redirect hop.
    pub blocked: u64,
    /// Refused by the allowed sources (403), the key or a redirect.
    pub not_allowed: u64,
    /// Cut off at the size limit (400).
    pub too_large: u64,
    /// Timed out inside the loader (408).
    pub timeouts: u64,
    /// The origin answered 404 or could not be reached (imagor's 404).
    pub not_found: u64,
    /// Other failures: origin error statuses, refused content types,
    /// broken transfers.
    pub failed: u64,
    /// Given up by the caller (load or request timeout, client gone): the
    /// fetch was aborted.
    pub cancelled: u64,
}

/// The live counters behind [`HttpLoaderStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    fetches: AtomicU64,
    fetched: AtomicU64,
    bytes: AtomicU64,
    streamed: AtomicU64,
    blocked: AtomicU64,
    not_allowed: AtomicU64,
    too_large: AtomicU64,
    timeouts: AtomicU64,
    not_found: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

fn inc(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    /// A load is sent.
    pub(crate) fn fetch(&self) {
        inc(&self.fetches, 1);
    }

    /// `n` body bytes arrived.
    pub(crate) fn bytes(&self, n: usize) {
        inc(&self.bytes, n as u64);
    }

    /// A body is decoded while it arrives.
    pub(crate) fn streamed(&self) {
        inc(&self.streamed, 1);
    }

    /// A load was given up unfinished.
    pub(crate) fn cancelled(&self) {
        inc(&self.cancelled, 1);
    }

    /// Count a finished load by its outcome.
    pub(crate) fn outcome<T>(&self, r: &Result<T, Error>) {
        let c = match r {
            Ok(_) => &self.fetched,
            Err(Error::Status {
                status: 403,
                message,
            }) if message.starts_with("unauthorized ") => &self.blocked,
            Err(Error::SourceNotAllowed) => &self.not_allowed,
            Err(Error::MaxSizeExceeded) => &self.too_large,
            Err(Error::Timeout(_)) => &self.timeouts,
            Err(Error::NotFound(_)) => &self.not_found,
            Err(e) if e.status() == 404 => &self.not_found,
            Err(Error::Cancelled) => &self.cancelled,
            Err(_) => &self.failed,
        };
        inc(c, 1);
    }

    /// The totals now.
    pub(crate) fn snapshot(&self) -> HttpLoaderStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HttpLoaderStats {
            fetches: get(&self.fetches),
            fetched: get(&self.fetched),
            bytes: get(&self.bytes),
            streamed: get(&self.streamed),
            blocked: get(&self.blocked),
            not_allowed: get(&self.not_allowed),
            too_large: get(&self.too_large),
            timeouts: get(&self.timeouts),
            not_found: get(&self.not_found),
            failed: get(&self.failed),
            cancelled: get(&self.cancelled),
        }
    }
}

/// Lives in a load's task: counts the load as cancelled when the task is
/// dropped (aborted) before it finished.
pub(crate) struct InFlight<'a> {
    counters: &'a Counters,
    done: bool,
}

impl<'a> InFlight<'a> {
    /// A load starts.
    pub(crate) fn start(counters: &'a Counters) -> InFlight<'a> {
        counters.fetch();
        InFlight {
            counters,
            done: false,
        }
    }

    /// The load finished with `r`.
    pub(crate) fn finish<T>(mut self, r: &Result<T, Error>) {
        self.done = true;
        self.counters.outcome(r);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.counters.cancelled();
        }
    }
}
