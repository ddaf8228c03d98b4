//! The core's own network runtime: one lazily started, process-wide tokio
//! runtime (2 worker threads named `imagor-net`) that drives the HTTP
//! loader's requests.
//!
//! The synchronous entry points of the core drive loader futures on
//! whatever thread calls them (a Python or Node worker, a C caller, the
//! server's blocking pool) with [`crate::call::block_on_until`], which
//! bounds them by the load timeout and the caller's cancellation. reqwest
//! needs a tokio reactor and timer, so network work is [`spawn`]ed onto
//! this runtime and its `JoinHandle` awaited from there: that works from
//! any thread, inside or outside another tokio runtime, and never blocks
//! one of this runtime's own workers. A load given up (timeout, client
//! gone) drops its future, which aborts the task and so the fetch.
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

/// Make a write past the process's file size limit (`ulimit -f`) fail
/// with `EFBIG`, as a full disk fails with `ENOSPC`, instead of killing
/// the process: its SIGXFSZ is caught (by a handler of this runtime that
/// does nothing, registered for the life of the process), as Go's runtime
/// and CPython ignore it. Called by whatever writes files (the file
/// storages, the server) before it does.
pub(crate) fn survive_file_size_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(handle) = handle() {
            let _runtime = handle.enter();
            // Dropping the stream keeps the handler: tokio registers one
            // for good, replacing the default action.
            let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
                libc::SIGXFSZ,
            ));
        }
    });
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
/// (a load that timed out stops its request). Refused with
/// [`Error::TooManyRequests`] on a thread whose source wait was refused.
pub(crate) fn spawn<F>(future: F) -> Result<Spawned<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::call::may_start_network()?;
    Ok(Spawned(Some(handle()?.spawn(future))))
}

/// Run `future` on the network runtime and wait for its output from
/// wherever this future is polled; dropping it aborts the task.
pub(crate) async fn run<F>(future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(future)?.await
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    #[test]
    fn spawned_work_completes_from_a_plain_thread() {
        let out = pollster::block_on(spawn(async { 40 + 2 }).expect("runtime")).expect("task");
        assert_eq!(out, 42);
    }

    /// Sets its flag when dropped: the task that owns it was aborted.
    struct Dropped(Arc<AtomicBool>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_the_spawned_future_aborts_the_task() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let task = spawn(async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .expect("runtime");
        drop(task);
        let start = Instant::now();
        while !dropped.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(dropped.load(Ordering::SeqCst), "the task still runs");
    }
}
