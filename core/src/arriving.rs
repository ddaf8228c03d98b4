//! A source body still arriving: the HTTP loader appends the origin's
//! bytes as they come while libvips already decodes them (imagor streams
//! its HTTP loader's response into libvips the same way).
//!
//! One network task writes through a [`Feed`] ([`Feed::push`],
//! [`Feed::finish`]); any number of readers read from the start
//! ([`Body::reader`]), each waiting for the bytes it needs. Every wait is
//! bounded: by the load's deadline (its timeout error then fails the body
//! for everyone), by the caller going away ([`Error::Cancelled`]), and by
//! the body's own end. A complete body's bytes stay in memory until the
//! last reader is gone (a retry or an error response may need them
//! again), under the loader's size limit; a failed body's go as it fails.
//! Dropping the body aborts the task still feeding it.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::budget::Holding;
use crate::call::{Bound, Stop, POLL_SLICE, SOURCE_WAITS};
use crate::error::{Error, Result};

/// Bytes arriving from a network task, as its readers hold them. When the
/// last reader's handle goes, the bytes go with it (and their reservation
/// in the pool), on that reader's thread, whatever the writer is doing:
/// a call's room is free once its answer is returned.
pub(crate) struct Body {
    shared: Arc<Shared>,
    /// The task feeding the body, aborted when the body is dropped.
    feeder: Mutex<Option<crate::net_runtime::Spawned<()>>>,
}

/// The writer's side of a [`Body`]: it appends and ends, and hears that
/// nobody reads any more when [`Feed::push`] says so.
#[derive(Clone)]
pub(crate) struct Feed(Arc<Shared>);

/// What readers and the writer share.
struct Shared {
    state: Mutex<State>,
    grew: Condvar,
    /// The load's deadline and the error it ends with.
    bound: Bound,
    /// Whether the caller still wants the bytes.
    stop: Stop,
    /// The furthest byte any reader has read.
    read_up_to: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct State {
    /// The bytes while they arrive.
    data: Vec<u8>,
    /// The same bytes once complete and taken whole ([`Body::whole`]).
    whole: Option<Bytes>,
    /// `data`, counted against `max_total_memory` as it grows; it moves
    /// into `whole` with the bytes.
    holding: Option<Holding>,
    /// `Some` once the body has ended: complete, or failed.
    end: Option<Result<()>>,
}

impl State {
    fn bytes(&self) -> &[u8] {
        self.whole.as_deref().unwrap_or(&self.data)
    }

    /// End the body with `end` unless it has ended already. A failed body's
    /// bytes are never read again, so they go (and their reservation with
    /// them) before any reader hears of the failure: the call's room in
    /// the pool is free when its error is returned, whichever thread
    /// drops the last handle to the body.
    fn end_with(&mut self, end: Result<()>) {
        if self.end.is_some() {
            return;
        }
        if end.is_err() {
            self.data = Vec::new();
            self.holding = None;
        }
        self.end = Some(end);
    }
}

impl Feed {
    /// Bytes received so far.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().bytes().len()
    }

    /// Append bytes; `Ok(false)` (and ignored) once the body has ended or
    /// nobody reads it any more, when the writer should stop; `Err` when
    /// the memory all calls share has no room for them (the writer then
    /// ends the body with that error).
    pub(crate) fn push(&self, chunk: &[u8]) -> Result<bool> {
        let mut st = self.0.lock();
        let State {
            data, holding, end, ..
        } = &mut *st;
        match (end, holding) {
            (None, Some(holding)) => holding.extend(data, chunk)?,
            _ => return Ok(false),
        }
        self.0.grew.notify_all();
        Ok(true)
    }

    /// End the body: complete (`Ok`) or failed. The first end wins.
    pub(crate) fn finish(&self, end: Result<()>) {
        self.0.lock().end_with(end);
        self.0.grew.notify_all();
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // Nobody reads any more: the bytes go now, and the writer stops at
        // its next chunk (its task is aborted with `feeder` too).
        let mut st = self.lock();
        st.end_with(Err(Error::Cancelled));
        st.data = Vec::new();
        st.whole = None;
        st.holding = None;
    }
}

impl Body {
    /// An empty body whose waits end at `bound` or when `stop` says so;
    /// `capacity` is the length announced (the origin's `Content-Length`),
    /// which the buffer grows toward. The bytes are reserved in `holding`
    /// as they come, not on the announcement.
    pub(crate) fn new(capacity: usize, bound: Bound, stop: Stop, holding: Holding) -> Arc<Body> {
        // A length no call could hold fails at the first bytes instead.
        let _ = holding.expect(capacity as u64);
        Arc::new(Body {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    data: Vec::new(),
                    whole: None,
                    holding: Some(holding),
                    end: None,
                }),
                grew: Condvar::new(),
                bound,
                stop,
                read_up_to: AtomicUsize::new(0),
            }),
            feeder: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// The writer's handle.
    pub(crate) fn feed(&self) -> Feed {
        Feed(self.shared.clone())
    }

    /// Keep the task feeding the body; it is aborted when the body goes.
    pub(crate) fn hold_feeder(&self, task: crate::net_runtime::Spawned<()>) {
        *self.feeder.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// Wait until `ready` holds or the body has ended; a failed body, a
    /// passed deadline or a caller gone is an error (and fails the body).
    fn wait_until(&self, ready: impl Fn(&State) -> bool) -> Result<MutexGuard<'_, State>> {
        let mut st = self.lock();
        // A reader waiting on the network is one of the bounded waits for
        // sources (a dripping origin holds a thread as one that never
        // answers does).
        let mut counted = None;
        loop {
            match &st.end {
                Some(Err(e)) => return Err(e.clone()),
                Some(Ok(())) => return Ok(st),
                None if ready(&st) => return Ok(st),
                None => {}
            }
            let error = if self.shared.stop.stopped() {
                Some(Error::Cancelled)
            } else {
                self.shared
                    .bound
                    .at
                    .filter(|at| Instant::now() >= *at)
                    .map(|_| self.shared.bound.error.clone())
            };
            let error = error.or_else(|| match counted {
                Some(_) => None,
                None => SOURCE_WAITS.enter().map(|w| counted = Some(w)).err(),
            });
            if let Some(e) = error {
                st.end_with(Err(e.clone()));
                self.shared.grew.notify_all();
                return Err(e);
            }
            let slice = match self.shared.bound.at {
                Some(at) => at.saturating_duration_since(Instant::now()).min(POLL_SLICE),
                None => POLL_SLICE,
            };
            st = self
                .shared
                .grew
                .wait_timeout(st, slice)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The first `n` bytes (fewer when the body is shorter).
    pub(crate) fn head(&self, n: usize) -> Result<Vec<u8>> {
        let st = self.wait_until(|st| st.bytes().len() >= n)?;
        let data = st.bytes();
        Ok(data[..n.min(data.len())].to_vec())
    }

    /// Wait for the whole body and run `f` on it.
    pub(crate) fn complete<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let st = self.wait_until(|_| false)?;
        Ok(f(st.bytes()))
    }

    /// Wait for the whole body and share it without a copy; the bytes keep
    /// their reservation in the pool while any of them is alive.
    pub(crate) fn whole(&self) -> Result<Bytes> {
        let mut st = self.wait_until(|_| false)?;
        if let Some(whole) = &st.whole {
            return Ok(whole.clone());
        }
        let data = std::mem::take(&mut st.data);
        let whole = match st.holding.take() {
            Some(holding) => holding.into_bytes(data)?,
            None => Bytes::from(data),
        };
        st.whole = Some(whole.clone());
        Ok(whole)
    }

    /// The furthest any reader has read: how far decoding got.
    #[cfg(test)]
    pub(crate) fn read_up_to(&self) -> usize {
        self.shared.read_up_to.load(Ordering::Relaxed)
    }

    /// The error the body failed with, if it has.
    pub(crate) fn failure(&self) -> Option<Error> {
        match &self.lock().end {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// Copy bytes from `pos` into `buf`, waiting for at least one; 0 at
    /// the end of the body. Time spent waiting is reported to `waited`.
    fn read_at(
        &self,
        pos: usize,
        buf: &mut [u8],
        waited: &dyn Fn(Duration),
        idle: &dyn Fn(bool),
    ) -> Result<usize> {
        let start = Instant::now();
        let ready = {
            let st = self.lock();
            st.end.is_some() || st.bytes().len() > pos
        };
        /// Ends the idle spell however the wait ends.
        struct Idle<'a>(&'a dyn Fn(bool));
        impl Drop for Idle<'_> {
            fn drop(&mut self) {
                (self.0)(false);
            }
        }
        let _idle = (!ready).then(|| {
            idle(true);
            Idle(idle)
        });
        let st = self.wait_until(|st| st.bytes().len() > pos)?;
        let wait = start.elapsed();
        if wait >= WAIT_WORTH_REPORTING {
            waited(wait);
        }
        let data = st.bytes();
        let available = data.len().saturating_sub(pos).min(buf.len());
        buf[..available].copy_from_slice(&data[pos..pos + available]);
        self.shared
            .read_up_to
            .fetch_max(pos + available, Ordering::Relaxed);
        Ok(available)
    }

    /// A reader from the first byte; `waited` hears how long each read
    /// waited for bytes (the processing deadline does not count it), and
    /// `idle` is called with `true` as such a wait begins and `false` as it
    /// ends (the call gives back its processing slot meanwhile).
    pub(crate) fn reader(
        self: &Arc<Body>,
        waited: Box<dyn Fn(Duration) + Send + Sync>,
        idle: Box<dyn Fn(bool) + Send + Sync>,
    ) -> BodyReader {
        BodyReader {
            body: self.clone(),
            pos: 0,
            waited,
            idle,
        }
    }
}

/// Waits shorter than this are not reported (reading is not waiting).
const WAIT_WORTH_REPORTING: Duration = Duration::from_micros(200);

/// Reads a [`Body`] from its start, blocking for bytes not yet arrived.
pub(crate) struct BodyReader {
    body: Arc<Body>,
    pos: usize,
    waited: Box<dyn Fn(Duration) + Send + Sync>,
    idle: Box<dyn Fn(bool) + Send + Sync>,
}

impl io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .body
            .read_at(self.pos, buf, &*self.waited, &*self.idle)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn body(limit: Option<Duration>) -> Arc<Body> {
        let bound = Bound {
            at: limit.map(|d| Instant::now() + d),
            error: Error::timeout(),
        };
        Body::new(0, bound, Stop::Never, Holding::for_this_call("a body"))
    }

    #[test]
    fn a_reader_gets_bytes_as_they_arrive_and_the_end() {
        let b = body(None);
        let writer = b.feed();
        let t = std::thread::spawn(move || {
            for chunk in [&b"abc"[..], b"def", b"g"] {
                // Long enough that a reader on a loaded machine still finds
                // a chunk missing and waits.
                std::thread::sleep(Duration::from_millis(30));
                writer.push(chunk).unwrap();
            }
            writer.finish(Ok(()));
        });
        let mut out = Vec::new();
        let waited = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let w = waited.clone();
        // +1 as an idle spell begins, -1 as it ends: balanced at the end.
        let idle = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let (spells, i) = (Arc::new(std::sync::atomic::AtomicU64::new(0)), idle.clone());
        let s = spells.clone();
        let mut reader = b.reader(
            Box::new(move |d| {
                w.fetch_add(d.as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
            }),
            Box::new(move |begins| {
                i.fetch_add(
                    if begins { 1 } else { -1 },
                    std::sync::atomic::Ordering::SeqCst,
                );
                if begins {
                    s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }),
        );
        reader.read_to_end(&mut out).unwrap();
        // The writer's pauses were reported as waiting, and as idle spells.
        assert!(waited.load(std::sync::atomic::Ordering::Relaxed) >= 1000);
        assert!(spells.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        assert_eq!(idle.load(std::sync::atomic::Ordering::SeqCst), 0);
        t.join().unwrap();
        assert_eq!(out, b"abcdefg");
        assert_eq!(b.head(2).unwrap(), b"ab");
        assert_eq!(b.head(100).unwrap(), b"abcdefg");
        assert_eq!(b.complete(|d| d.len()).unwrap(), 7);
        assert!(b.failure().is_none());
    }

    #[test]
    fn a_failed_body_fails_every_reader_with_its_error() {
        let b = body(None);
        b.feed().push(b"abc").unwrap();
        b.feed().finish(Err(Error::MaxSizeExceeded));
        let mut buf = [0u8; 8];
        let err = b
            .reader(Box::new(|_| {}), Box::new(|_| {}))
            .read(&mut buf)
            .unwrap_err();
        assert!(err.to_string().contains("maximum size"), "{err}");
        assert_eq!(b.complete(|_| ()).unwrap_err(), Error::MaxSizeExceeded);
        assert_eq!(b.failure(), Some(Error::MaxSizeExceeded));
    }

    /// A body whose bytes are reserved in `pool` (1 MiB), its waits
    /// ending `limit` from now.
    fn pooled(pool: &'static crate::budget::Pool, limit: Option<Duration>) -> Arc<Body> {
        let bound = Bound {
            at: limit.map(|d| Instant::now() + d),
            error: Error::timeout(),
        };
        Body::new(
            0,
            bound,
            Stop::Never,
            Holding::in_pool(pool, 1 << 20, "a body"),
        )
    }

    #[test]
    fn a_failed_body_gives_back_its_bytes_while_the_writer_still_holds_it() {
        let pool: &'static crate::budget::Pool = Box::leak(Box::new(crate::budget::Pool::new()));
        let b = pooled(pool, Some(Duration::from_millis(60)));
        let writer = b.feed();
        writer.push(&[7u8; 1000]).unwrap();
        assert!(pool.reserved() >= 1000);
        // The reader's deadline fails the body: its bytes are given back
        // before the reader returns, though the writer's handle lives on.
        assert_eq!(b.head(5000).unwrap_err(), Error::timeout());
        assert_eq!(pool.reserved(), 0);
        // Likewise when the writer fails it.
        let b = pooled(pool, None);
        let writer = b.feed();
        writer.push(&[7u8; 1000]).unwrap();
        writer.finish(Err(Error::MaxSizeExceeded));
        assert_eq!(pool.reserved(), 0);
        assert_eq!(b.complete(|_| ()).unwrap_err(), Error::MaxSizeExceeded);
        // A complete body keeps its bytes for every reader.
        let b = pooled(pool, None);
        let writer = b.feed();
        writer.push(b"abc").unwrap();
        writer.finish(Ok(()));
        writer.finish(Err(Error::MaxSizeExceeded));
        assert_eq!(b.head(3).unwrap(), b"abc");
        assert!(pool.reserved() >= 3);
        // The last reader gone, the bytes go with it though the writer
        // still holds its side, and the writer hears to stop.
        drop(b);
        assert_eq!(pool.reserved(), 0);
        assert!(!writer.push(b"def").unwrap());
        assert_eq!(pool.reserved(), 0);
    }

    #[test]
    fn a_stalled_body_ends_at_the_deadline() {
        let b = body(Some(Duration::from_millis(60)));
        let writer = b.feed();
        writer.push(b"abc").unwrap();
        let start = Instant::now();
        assert_eq!(b.head(10).unwrap_err(), Error::timeout());
        assert!(start.elapsed() < Duration::from_secs(2));
        // The writer's later bytes are refused: the body failed (and gave
        // back the bytes it had).
        assert!(!writer.push(b"def").unwrap());
        assert_eq!(writer.len(), 0);
    }

    #[test]
    fn a_caller_gone_cancels_the_wait() {
        let cancel = crate::request::Cancel::new();
        let bound = Bound {
            at: None,
            error: Error::timeout(),
        };
        let b = Body::new(
            0,
            bound,
            Stop::Caller(cancel.clone()),
            Holding::for_this_call("a body"),
        );
        cancel.cancel();
        assert_eq!(b.complete(|_| ()).unwrap_err(), Error::Cancelled);
    }
}
