//! Source bytes counted against `max_total_memory` while they are read,
//! not only once they are in: a flood of requests for large sources would
//! otherwise hold every body in flight uncounted.
//!
//! A loader takes a [`Holding`] for the call on its thread before it reads,
//! grows it as bytes come (a local file's size up front; a body from the
//! network chunk by chunk, its announced `Content-Length` only a hint and a
//! bound, so that a client or origin that announces much and sends little
//! holds no room it does not use) and turns the bytes into [`Bytes`] that keep
//! the reservation until the last of them is dropped
//! ([`Holding::into_bytes`]). Such bytes are not reserved again when they
//! are processed ([`is_held`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use bytes::Bytes;

use super::pool::{fits, Charge, Pool};
use crate::error::Result;

/// Bytes a loader holds for one call, reserved in the pool as they grow
/// and given back when it is dropped. Without a cap it reserves nothing.
pub(crate) struct Holding {
    pool: &'static Pool,
    cap: u64,
    /// What the bytes are, for a refusal's message.
    what: &'static str,
    held: AtomicU64,
    /// The length the bytes are announced to have ([`Holding::expect`]),
    /// which growth stops at while they stay within it; 0: unknown.
    expected: AtomicU64,
}

/// The room a first chunk of a body gets (more if it is larger): growth
/// then doubles, so the reservation stays within twice the bytes received.
const FIRST_ROOM: usize = 64 << 10;

impl Holding {
    /// A holding in the pool of the call on this thread: the processing
    /// call's (an overlay being loaded), else the request's
    /// (`max_total_memory` of the [`crate::call::CallScope`]); outside
    /// both it reserves nothing.
    pub(crate) fn for_this_call(what: &'static str) -> Holding {
        match super::entered() {
            Some(b) => Holding::in_pool(b.0.pool, b.0.max_total, what),
            None => Holding::in_pool(
                Pool::global(),
                crate::call::current().max_total_memory,
                what,
            ),
        }
    }

    /// A holding in `pool` of `cap` bytes (0: none).
    pub(crate) fn in_pool(pool: &'static Pool, cap: u64, what: &'static str) -> Holding {
        Holding {
            pool,
            cap,
            what,
            held: AtomicU64::new(0),
            expected: AtomicU64::new(0),
        }
    }

    /// Make sure `total` bytes are reserved: the pool refuses with 429 at
    /// once when it has no room (as for any source), and with 422 naming
    /// `max_total_memory` when no call could ever hold that many.
    pub(crate) fn grow_to(&self, total: u64) -> Result<()> {
        if self.cap == 0 {
            return Ok(());
        }
        let held = self.held.load(Ordering::Acquire);
        if total <= held {
            return Ok(());
        }
        fits(self.what, total, self.cap, Charge::Source)?;
        self.pool.reserve(
            self.what,
            total - held,
            self.cap,
            Charge::Source,
            None,
            None,
        )?;
        self.held.fetch_add(total - held, Ordering::AcqRel);
        Ok(())
    }

    /// A body announced to be `len` bytes long: refused at once with 422
    /// naming `max_total_memory` when no call could ever hold that many,
    /// else remembered so that [`Holding::extend`] grows toward it. Nothing
    /// is reserved until the bytes come.
    pub(crate) fn expect(&self, len: u64) -> Result<()> {
        if self.cap > 0 {
            fits(self.what, len, self.cap, Charge::Source)?;
        }
        self.expected.store(len, Ordering::Release);
        Ok(())
    }

    /// Append `chunk` to `data`, reserving any room `data` must grow by
    /// before it is allocated. It grows as `Vec` does, doubling (from
    /// [`FIRST_ROOM`]), but never past the announced length while the bytes
    /// stay within it, nor past what a source may take of the pool unless
    /// it must.
    pub(crate) fn extend(&self, data: &mut Vec<u8>, chunk: &[u8]) -> Result<()> {
        let needed = data.len().saturating_add(chunk.len());
        if needed > data.capacity() {
            let most = match self.cap {
                0 => usize::MAX,
                cap => usize::try_from(Charge::Source.limit(cap)).unwrap_or(usize::MAX),
            };
            let doubled = data.capacity().saturating_mul(2).max(FIRST_ROOM).min(most);
            let expected = usize::try_from(self.expected.load(Ordering::Acquire)).unwrap_or(0);
            let target = if expected >= needed {
                doubled.min(expected)
            } else {
                doubled
            };
            let room = needed.max(target);
            self.grow_to(room as u64)?;
            data.reserve_exact(room - data.len());
        }
        data.extend_from_slice(chunk);
        Ok(())
    }

    /// `data` as [`Bytes`] that keep the reservation (grown to its length
    /// first) until the last of them is dropped.
    pub(crate) fn into_bytes<T>(self, data: T) -> Result<Bytes>
    where
        T: AsRef<[u8]> + Send + 'static,
    {
        let len = data.as_ref().len();
        if self.cap == 0 || len == 0 {
            return Ok(Bytes::from_owner(data));
        }
        self.grow_to(len as u64)?;
        Ok(self.register(data))
    }

    /// `data` as [`Bytes`] that keep the reservation (grown to its length
    /// first) until the last of them is dropped, but unknown to
    /// [`is_held`]: bytes waiting for a call to start, which counts them
    /// again in its own pool while it works.
    pub(crate) fn into_waiting_bytes<T>(self, data: T) -> Result<Bytes>
    where
        T: AsRef<[u8]> + Send + 'static,
    {
        self.grow_to(data.as_ref().len() as u64)?;
        Ok(Bytes::from_owner(Held {
            data,
            start: None,
            _holding: self,
        }))
    }

    /// `data` as [`Bytes`] that keep this holding's reservation, known to
    /// [`is_held`] until the last of them is dropped.
    fn register<T>(self, data: T) -> Bytes
    where
        T: AsRef<[u8]> + Send + 'static,
    {
        let (start, len) = (data.as_ref().as_ptr() as usize, data.as_ref().len());
        registry().insert(start, len);
        Bytes::from_owner(Held {
            data,
            start: Some(start),
            _holding: self,
        })
    }
}

#[cfg(any(feature = "server", test))]
impl Holding {
    /// `data`, which exist already, counted in the pool until the last of
    /// them is dropped, whatever room it has (an answer waiting for a slow
    /// client). Bytes held already, or any without a cap, come back as
    /// they are.
    pub(crate) fn keep(mut self, data: Bytes) -> Bytes {
        if self.cap == 0 || data.is_empty() || is_held(&data) {
            return data;
        }
        self.pool.add(data.len() as u64);
        *self.held.get_mut() = data.len() as u64;
        self.register(data)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        if held > 0 {
            self.pool.release(held);
        }
    }
}

/// Bytes that keep their reservation; registered while alive (when they
/// have a `start`).
struct Held<T> {
    data: T,
    start: Option<usize>,
    _holding: Holding,
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Held<T> {
    fn as_ref(&self) -> &[u8] {
        self.data.as_ref()
    }
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        if let Some(start) = self.start {
            registry().remove(&start);
        }
    }
}

/// Where held bytes start, and how many there are.
fn registry() -> MutexGuard<'static, BTreeMap<usize, usize>> {
    static HELD: LazyLock<Mutex<BTreeMap<usize, usize>>> = LazyLock::new(Mutex::default);
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Are `data` (or the bytes they are a part of) held by a [`Holding`]
/// already, so that reserving them again would count them twice?
pub(crate) fn is_held(data: &[u8]) -> bool {
    if data.is_empty() {
        return false;
    }
    let (from, to) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    registry()
        .range(..=from)
        .next_back()
        .is_some_and(|(start, len)| to <= start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An announced length reserves nothing: the room follows the bytes
    /// that came (doubling from FIRST_ROOM), stops at the announced length
    /// while within it, and a length no call could hold is refused at once.
    #[test]
    fn announced_lengths_reserve_only_what_arrives() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        let cap = 100 << 20;
        let h = Holding::in_pool(pool, cap, "the upload");
        h.expect(60 << 20).unwrap();
        assert_eq!(pool.reserved(), 0, "nothing reserved on the announcement");
        let mut data = Vec::new();
        h.extend(&mut data, &[1; 1000]).unwrap();
        assert_eq!(pool.reserved(), FIRST_ROOM as u64);
        for _ in 0..99 {
            h.extend(&mut data, &[1; 1000]).unwrap();
        }
        assert!(pool.reserved() <= 2 * 100_000 + FIRST_ROOM as u64);
        // Near its end the buffer grows to the announced length, not past.
        let small = Holding::in_pool(pool, cap, "the body");
        small.expect(100_000).unwrap();
        let mut body = Vec::new();
        for _ in 0..100 {
            small.extend(&mut body, &[2; 1000]).unwrap();
        }
        assert_eq!(body.capacity(), 100_000);
        let e = Holding::in_pool(pool, cap, "the upload")
            .expect(cap)
            .unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
    }

    #[test]
    fn held_bytes_keep_their_reservation_until_dropped() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        let h = Holding::in_pool(pool, 1000, "the body");
        h.grow_to(300).unwrap();
        h.grow_to(200).unwrap();
        assert_eq!(pool.reserved(), 300, "growing never shrinks");
        // No room: 429 at once; past what a call may take: 422.
        let other = Holding::in_pool(pool, 1000, "another body");
        assert_eq!(other.grow_to(500).unwrap_err().status(), 429);
        let e = other.grow_to(751).unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(
            e.to_string().contains("another body needs about 751 bytes"),
            "{e}"
        );
        assert!(e.to_string().contains("max_total_memory"), "{e}");
        drop(other);
        assert_eq!(pool.reserved(), 300, "a refused holding holds nothing");
        // The bytes keep the reservation, grown to their length, and are
        // known to be held (whole or in part) until the last clone goes.
        let bytes = h.into_bytes(vec![7u8; 400]).unwrap();
        assert_eq!(pool.reserved(), 400);
        assert!(is_held(&bytes) && is_held(&bytes[10..20]));
        assert!(!is_held(&vec![7u8; 400]));
        let part = bytes.slice(100..200);
        drop(bytes);
        assert_eq!(pool.reserved(), 400);
        assert!(is_held(&part));
        let ptr = part.as_ptr() as usize;
        drop(part);
        assert_eq!(pool.reserved(), 0);
        assert!(!registry().contains_key(&(ptr - 100)));
        // Kept bytes count whatever room there is, once, until dropped.
        let full = Holding::in_pool(pool, 1000, "the source");
        full.grow_to(700).unwrap();
        let answer = Holding::in_pool(pool, 1000, "the answer").keep(Bytes::from(vec![3u8; 900]));
        assert_eq!(pool.reserved(), 1600);
        let again = Holding::in_pool(pool, 1000, "the answer").keep(answer.slice(0..10));
        assert_eq!(pool.reserved(), 1600, "held bytes are not counted twice");
        drop((answer, again, full));
        assert_eq!(pool.reserved(), 0);
        // Without a cap nothing is reserved or registered.
        let free = Holding::in_pool(pool, 0, "free");
        free.grow_to(u64::MAX).unwrap();
        let bytes = free.into_bytes(vec![1u8; 10]).unwrap();
        assert!(!is_held(&bytes));
        assert_eq!(pool.reserved(), 0);
    }
}
