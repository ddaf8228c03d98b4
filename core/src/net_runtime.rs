//! The core's own network runtime: one lazily started, process-wide tokio
//! runtime (2 worker threads named `imagor-net`) that drives the HTTP
//! loader's requests.
//!
//! The synchronous entry points of the core drive loader futures with
//! `pollster` on whatever thread calls them (a Python or Node worker, a C
//! caller, the server's blocking pool). reqwest needs a tokio reactor and
//! timer, so network work is [`spawn`]ed onto this runtime and its
//! `JoinHandle` awaited from there: that works from any thread, inside or
//! outside another tokio runtime, and never blocks one of this runtime's
//! own workers.
//!
//! A process that forks after the runtime started (Python's
//! `multiprocessing`) has no worker threads in the child; the runtime is
//! keyed by process id and started anew in the child (the parent's is
//! leaked there, never dropped: its threads do not exist). [`generation`]
//! changes with it, so clients bound to the old runtime are rebuilt.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::error::{Error, Result};

struct Current {
    pid: u32,
    generation: u64,
    runtime: Arc<Runtime>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// The runtime of this process and its generation, started on first use.
fn current() -> Result<(u64, Arc<Runtime>)> {
    let pid = std::process::id();
    let mut slot = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = slot.as_ref() {
        if c.pid == pid {
            return Ok((c.generation, c.runtime.clone()));
        }
    }
    if let Some(stale) = slot.take() {
        // Forked: the parent's worker threads do not exist here, and
        // dropping the runtime would wait for them.
        std::mem::forget(stale);
    }
    let runtime = Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .thread_name("imagor-net")
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the network runtime: {e}")))?;
    let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let runtime = Arc::new(runtime);
    *slot = Some(Current {
        pid,
        generation,
        runtime: runtime.clone(),
    });
    Ok((generation, runtime))
}

/// The runtime's handle, starting it if needed.
pub(crate) fn handle() -> Result<Handle> {
    current().map(|(_, rt)| rt.handle().clone())
}

/// Changes whenever a new runtime is started (after a fork): anything bound
/// to the previous one (connection pools) must be rebuilt.
pub(crate) fn generation() -> Result<u64> {
    current().map(|(g, _)| g)
}

/// Run `future` on the network runtime; the returned future resolves to its
/// output and may be polled from any thread. Dropping it aborts the task
/// (a load that timed out stops its request).
pub(crate) fn spawn<F>(future: F) -> Result<Spawned<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(Spawned(Some(handle()?.spawn(future))))
}

/// A task on the network runtime, aborted when dropped unfinished.
pub(crate) struct Spawned<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> Future for Spawned<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let Some(handle) = self.0.as_mut() else {
            return Poll::Ready(Err(Error::internal()));
        };
        match Pin::new(handle).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(out) => {
                self.0 = None;
                Poll::Ready(out.map_err(|e| {
                    Error::Internal(if e.is_panic() {
                        "internal error: network task panicked".to_owned()
                    } else {
                        "internal error: network task cancelled".to_owned()
                    })
                }))
            }
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

/// `future`, or imagor's `ErrTimeout` (408, `"timeout"`) once `deadline`
/// passes. Works for any future, polled from any thread: the timer runs on
/// the network runtime. `None`: no deadline.
pub(crate) async fn with_deadline<T>(
    deadline: Option<Instant>,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(deadline) = deadline else {
        return future.await;
    };
    if Instant::now() >= deadline {
        return Err(Error::timeout());
    }
    let sleep = {
        let handle = handle()?;
        let _entered = handle.enter();
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    };
    let mut future = std::pin::pin!(future);
    let mut sleep = std::pin::pin!(sleep);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::timeout())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn spawned_work_completes_from_a_plain_thread() {
        let out = pollster::block_on(spawn(async { 40 + 2 }).expect("runtime")).expect("task");
        assert_eq!(out, 42);
    }

    #[test]
    fn deadlines_cut_slow_futures_from_any_thread() {
        let slow = async {
            spawn(async { tokio::time::sleep(Duration::from_secs(5)).await })?.await?;
            Ok(())
        };
        let deadline = Some(Instant::now() + Duration::from_millis(50));
        let started = Instant::now();
        let out = pollster::block_on(with_deadline(deadline, slow));
        assert_eq!(out, Err(Error::timeout()));
        assert!(started.elapsed() < Duration::from_secs(3));
        let fast = pollster::block_on(with_deadline(deadline, async { Ok(1) }));
        assert!(matches!(fast, Ok(1) | Err(Error::Timeout(_))));
    }
}
