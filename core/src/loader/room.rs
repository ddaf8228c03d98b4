//! Room for bytes that a binding copies from its host language (a
//! JavaScript `Uint8Array`, the answer of a Python or JavaScript loader),
//! reserved against `max_total_memory` before the copy is made: a flood of
//! calls queued behind busy threads, or loaders answering with huge
//! buffers, would otherwise hold copies that no limit counts.
//!
//! The copy keeps its reservation until the last clone of the returned
//! [`Bytes`] is dropped. A loader's answer is not counted a second time by
//! the call that loaded it; an input waiting for its call to start is held
//! in a pool of its own (the call counts it in the shared one once it
//! works, so that inputs queued behind a call never make it wait).

use bytes::Bytes;

use crate::budget::{Holding, Pool};
use crate::error::Result;

/// A reservation, made before copying, in the pool all calls share.
pub struct SourceRoom {
    holding: Holding,
    /// An input for a call that has not started: not known as held.
    waiting: bool,
}

impl SourceRoom {
    /// Room in the pool of the call running on this thread (its
    /// `max_total_memory`), for a loader's answer; outside a call it
    /// reserves nothing.
    pub fn for_this_call() -> SourceRoom {
        SourceRoom {
            holding: Holding::for_this_call("the loaded image"),
            waiting: false,
        }
    }

    /// Room for an input given to a call that has not started yet: inputs
    /// waiting for their calls may fill three quarters of
    /// `max_total_memory` (0: no limit), as sources do.
    pub fn for_input(max_total_memory: u64) -> SourceRoom {
        SourceRoom {
            holding: Holding::in_pool(Pool::waiting(), max_total_memory, "the input image"),
            waiting: true,
        }
    }

    /// Reserve `len` bytes before the caller makes its own copy of them
    /// (then handed over with [`SourceRoom::keep`]): the same refusals as
    /// [`SourceRoom::copy`], before anything is copied.
    pub fn reserve(&self, len: u64) -> Result<()> {
        self.holding.grow_to(len)
    }

    /// Keep `data`, which the caller already copied (after
    /// [`SourceRoom::reserve`]), under this reservation without copying it
    /// again: for an answer a binding had to copy out of its host language
    /// anyway (a Python `bytearray`), so that copy is the one counted.
    pub fn keep<T>(self, data: T) -> Result<Bytes>
    where
        T: AsRef<[u8]> + Send + 'static,
    {
        if self.waiting {
            self.holding.into_waiting_bytes(data)
        } else {
            self.holding.into_bytes(data)
        }
    }

    /// Reserve `data.len()` bytes, then copy `data`: 429 at once when the
    /// calls in progress hold the room, 422 naming `max_total_memory` when
    /// no call could ever hold that many bytes; nothing is copied then.
    pub fn copy(self, data: &[u8]) -> Result<Bytes> {
        self.reserve(data.len() as u64)?;
        self.keep(data.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::is_held;

    #[test]
    fn a_copy_is_reserved_before_it_is_made_and_counted_once() {
        let loaded = SourceRoom::for_this_call().copy(&[7u8; 1000]).unwrap();
        assert!(!is_held(&loaded), "outside a call nothing is reserved");
        let input = SourceRoom::for_input(64 << 20).copy(&[7u8; 1000]).unwrap();
        assert!(!is_held(&input), "its call counts it again");
        assert_eq!(Pool::waiting().reserved(), 1000);
        drop(input);
        assert_eq!(Pool::waiting().reserved(), 0);
        let e = SourceRoom::for_input(1 << 20)
            .copy(&vec![0u8; 1 << 20])
            .unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
        assert!(e.to_string().contains("max_total_memory"), "{e}");
        let free = SourceRoom::for_input(0).copy(b"abc").unwrap();
        assert_eq!(&free[..], b"abc");
        // Reserved before the caller's own copy, kept without another.
        let room = SourceRoom::for_input(64 << 20);
        room.reserve(3000).unwrap();
        assert_eq!(Pool::waiting().reserved(), 3000);
        let kept = room.keep(vec![1u8; 3000]).unwrap();
        assert_eq!((kept.len(), Pool::waiting().reserved()), (3000, 3000));
        drop(kept);
        assert_eq!(Pool::waiting().reserved(), 0);
        let e = SourceRoom::for_input(1 << 20).reserve(1 << 20).unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
    }
}
