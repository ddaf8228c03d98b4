//! Request heads still arriving count against `max_total_memory`.
//!
//! hyper buffers a request's head until its blank line, up to the largest
//! head allowed (1 MiB, as Go's server). Those bytes were nobody's charge:
//! 2 000 connections each sending 1 MB of header lines without ending them
//! held 2 GB in a server limited to 256 MiB, until the header timeout. Each
//! connection now reads through a [`HeadTally`]: what it reads while no
//! request of it is being handled (the next head) is free up to
//! [`FREE_HEAD_BYTES`], which every ordinary head fits in, and beyond that
//! reserved in the pool as a source's bytes are; a connection the pool has
//! no room for is closed. A head's bytes are given back once it is parsed,
//! and a connection's when it closes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::budget::{Charge, Pool};

/// Bytes of an unfinished head that are not charged: request lines and
/// headers of browsers, proxies and CDNs fit in far less.
pub(crate) const FREE_HEAD_BYTES: u64 = 16 << 10;

/// What one connection has read toward its next request head.
pub(crate) struct HeadTally {
    pool: &'static Pool,
    /// `max_total_memory`; 0: nothing is charged.
    cap: u64,
    /// Bytes read since the last head was parsed.
    unparsed: AtomicU64,
    /// Of those, the bytes reserved in `pool`.
    charged: AtomicU64,
    /// A request of this connection is being handled: what it reads is
    /// that request's body, counted (if at all) by whoever reads it.
    handling: AtomicBool,
}

impl HeadTally {
    /// A tally charging `pool`, of `cap` bytes (0: no charge).
    pub(crate) fn new(pool: &'static Pool, cap: u64) -> Arc<HeadTally> {
        Arc::new(HeadTally {
            pool,
            cap,
            unparsed: AtomicU64::new(0),
            charged: AtomicU64::new(0),
            handling: AtomicBool::new(false),
        })
    }

    /// `n` more bytes read from the connection; an error when they would
    /// be charged and the pool has no room for them.
    fn read(&self, n: u64) -> io::Result<()> {
        if n == 0 || self.cap == 0 || self.handling.load(Ordering::Acquire) {
            return Ok(());
        }
        let unparsed = self.unparsed.fetch_add(n, Ordering::AcqRel) + n;
        let due = unparsed.saturating_sub(FREE_HEAD_BYTES);
        let charged = self.charged.load(Ordering::Acquire);
        if due <= charged {
            return Ok(());
        }
        self.pool
            .reserve(
                "request headers",
                due - charged,
                self.cap,
                Charge::Source,
                None,
                None,
            )
            .map_err(|e| io::Error::other(format!("request headers: {e}")))?;
        self.charged.fetch_add(due - charged, Ordering::AcqRel);
        Ok(())
    }

    /// A head has been parsed and its request is handled until the
    /// returned guard is dropped: the head's bytes are given back.
    pub(crate) fn handling(self: &Arc<Self>) -> Handling {
        self.handling.store(true, Ordering::Release);
        self.unparsed.store(0, Ordering::Release);
        self.pool.release(self.charged.swap(0, Ordering::AcqRel));
        Handling(Arc::clone(self))
    }
}

impl Drop for HeadTally {
    fn drop(&mut self) {
        self.pool.release(*self.charged.get_mut());
    }
}

/// A request of the connection is being handled (see
/// [`HeadTally::handling`]).
pub(crate) struct Handling(Arc<HeadTally>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.store(false, Ordering::Release);
    }
}

/// A connection whose reads are told to its [`HeadTally`].
pub(crate) struct Tallied<S> {
    io: S,
    tally: Arc<HeadTally>,
}

impl<S> Tallied<S> {
    /// Wrap `io`, telling `tally` what is read from it.
    pub(crate) fn new(io: S, tally: Arc<HeadTally>) -> Tallied<S> {
        Tallied { io, tally }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tallied<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                Poll::Ready(this.tally.read(n))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tallied<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_past_the_free_bytes_are_charged_until_parsed_or_closed() {
        static POOL: Pool = Pool::new();
        // Three quarters of 400 KiB may be heads' (as any source's bytes).
        let cap = 400 << 10;
        let a = HeadTally::new(&POOL, cap);
        a.read(FREE_HEAD_BYTES).expect("free");
        assert_eq!(POOL.reserved(), 0);
        a.read(100 << 10).expect("room");
        assert_eq!(POOL.reserved(), 100 << 10);
        let b = HeadTally::new(&POOL, cap);
        b.read(FREE_HEAD_BYTES + (200 << 10)).expect("room");
        assert_eq!(POOL.reserved(), 300 << 10);
        // No room for more: refused, and nothing more is held.
        assert!(a.read(1 << 10).is_err());
        assert_eq!(POOL.reserved(), 300 << 10);
        // A parsed head gives its bytes back; its body is not counted.
        let handling = b.handling();
        assert_eq!(POOL.reserved(), 100 << 10);
        b.read(1 << 20).expect("a body");
        assert_eq!(POOL.reserved(), 100 << 10);
        drop(handling);
        // The next head counts afresh.
        b.read(FREE_HEAD_BYTES + 5).expect("room");
        assert_eq!(POOL.reserved(), (100 << 10) + 5);
        // Closed connections give back what they held.
        drop(a);
        drop(b);
        assert_eq!(POOL.reserved(), 0);
        // Without a cap nothing is charged.
        let free = HeadTally::new(&POOL, 0);
        free.read(10 << 20).expect("no cap");
        assert_eq!(POOL.reserved(), 0);
    }
}
