//! Closing a connection without losing the answer ([`LingeringClose`]).
//!
//! An answer given before the request's body was read (an upload refused
//! on its announced length, say) is followed by a close with the body's
//! bytes still arriving; closing a socket with unread bytes makes the
//! kernel send a reset, which discards the answer on the client's side
//! before it reads it: a client that sends its whole body before reading
//! saw `Broken pipe` and never the 422. Go's server half-closes and waits;
//! this one also reads what still arrives, so the client can finish
//! sending and read the answer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a closing connection keeps reading what its client still
/// sends (Go's server waits 500 ms).
const LINGER: Duration = Duration::from_millis(500);
/// How much it reads and drops meanwhile, at most.
const LINGER_BYTES: u64 = 8 << 20;

/// A stream whose shutdown sends its end of the stream (FIN after the
/// answer), then reads and drops what the client still sends, until it
/// closes too, for at most [`LINGER`] and [`LINGER_BYTES`].
pub(crate) struct LingeringClose<S> {
    io: S,
    /// Once the write side is shut: the linger's clock and bytes dropped.
    closing: Option<(Pin<Box<Sleep>>, u64)>,
}

impl<S> LingeringClose<S> {
    /// Wrap `io`.
    pub(crate) fn new(io: S) -> LingeringClose<S> {
        LingeringClose { io, closing: None }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LingeringClose<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LingeringClose<S> {
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
        let this = self.get_mut();
        if this.closing.is_none() {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.closing = Some((Box::pin(tokio::time::sleep(LINGER)), 0));
        }
        let Some((clock, dropped)) = this.closing.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; 16 << 10];
        loop {
            if clock.as_mut().poll(cx).is_ready() || *dropped >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
                // The client closed too, or the connection is gone.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => *dropped += buf.filled().len() as u64,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The answer reaches a client still sending its body when the server
    /// closes: it finishes sending, then reads the answer and the end.
    #[tokio::test]
    async fn a_client_still_sending_reads_the_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut io = LingeringClose::new(stream);
            let mut head = [0u8; 4];
            io.read_exact(&mut head).await.unwrap();
            io.write_all(b"refused").await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        // More than the sockets' buffers hold: without the linger the
        // server's close resets the connection while this is written.
        let body = vec![0u8; 6 << 20];
        client.write_all(b"head").await.unwrap();
        client.write_all(&body).await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"refused");
        server.await.unwrap();
    }
}
