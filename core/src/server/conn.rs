//! Connection-level defences of the listener, which hyper leaves to us:
//! - a client that stops taking its answer is cut off ([`SendTimeout`]),
//!   so a slow reader cannot hold a connection (and the answer's bytes)
//!   for ever;
//! - accepting backs off when it fails ([`AcceptBackoff`]): out of file
//!   descriptors, `accept` fails at once, and retrying at once would spin
//!   a core for as long as the flood lasts.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A stream whose writes fail with `TimedOut` once the peer has taken no
/// byte for `limit`: the clock starts when a write cannot proceed and is
/// reset by every write that does, so a slow but steady client is never
/// cut off, only one that stalls (nginx's `send_timeout`).
pub(crate) struct SendTimeout<S> {
    io: S,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> SendTimeout<S> {
    /// Wrap `io`, allowing a stall of at most `limit`.
    pub(crate) fn new(io: S, limit: Duration) -> SendTimeout<S> {
        SendTimeout {
            io,
            limit,
            stalled: None,
        }
    }

    /// The outcome of a write attempt: progress resets the clock, a
    /// blocked write starts it (once) and fails when it runs out.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        attempt: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if attempt.is_ready() {
            self.stalled = None;
            return attempt;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took none of the answer within the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SendTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let attempt = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, attempt)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let attempt = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, attempt)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let attempt = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, attempt)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let attempt = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch(cx, attempt)
    }
}

/// The wait before accepting again after `accept` failed: 5 ms, doubling
/// up to a second while failures go on, back to none after a success (as
/// Go's `http.Server` does).
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    delay: Option<Duration>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MOST: Duration = Duration::from_secs(1);

    /// An accept succeeded: no wait next time it fails.
    pub(crate) fn succeeded(&mut self) {
        self.delay = None;
    }

    /// An accept failed: how long to wait before the next, and whether
    /// this failure starts a run of them (worth a log line).
    pub(crate) fn failed(&mut self) -> (Duration, bool) {
        let first = self.delay.is_none();
        let delay = self.delay.map_or(Self::FIRST, |d| (d * 2).min(Self::MOST));
        self.delay = Some(delay);
        (delay, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn accept_backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::default();
        let waits: Vec<_> = (0..10).map(|_| b.failed()).collect();
        assert_eq!(waits[0], (Duration::from_millis(5), true));
        assert_eq!(waits[1], (Duration::from_millis(10), false));
        assert_eq!(waits[8].0, Duration::from_secs(1));
        assert_eq!(waits[9].0, Duration::from_secs(1));
        b.succeeded();
        assert_eq!(b.failed(), (Duration::from_millis(5), true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_reader_is_cut_off_and_a_steady_one_is_not() {
        // A pipe that holds 1 KiB: the writer blocks until it is read.
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut stream = SendTimeout::new(ours, Duration::from_secs(30));
        let answer = vec![7u8; 64 * 1024];
        // Steady: 1 KiB every 20 s (less than the limit) gets it all.
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = vec![0u8; 1024];
            while got < 64 * 1024 {
                tokio::time::sleep(Duration::from_secs(20)).await;
                got += theirs.read(&mut buf).await.expect("read");
            }
            theirs
        });
        stream
            .write_all(&answer)
            .await
            .expect("a steady reader is served");
        let mut theirs = reader.await.expect("reader");
        // Stalled: nothing read, the write fails after 30 s.
        let start = tokio::time::Instant::now();
        let err = stream
            .write_all(&answer)
            .await
            .expect_err("a stalled reader is cut off");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        // Reading still works on the stream.
        theirs.write_all(b"hi").await.expect("write back");
        let mut two = [0u8; 2];
        stream.read_exact(&mut two).await.expect("read");
        assert_eq!(&two, b"hi");
    }
}
