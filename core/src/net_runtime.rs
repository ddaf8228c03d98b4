//! The core's own tokio runtime for network I/O (object storage, and any
//! other network loader).
//!
//! The library's entry points are synchronous and drive loader futures on
//! the caller's thread (`call::block_on_until`); network clients (reqwest)
//! need a tokio reactor. So network futures are spawned onto this runtime and the
//! caller awaits the `JoinHandle`, which works from any executor. Started
//! lazily on first use, two worker threads, never shut down (it lives as
//! long as the process, as libvips does).

use std::future::Future;
use std::sync::OnceLock;

/// The process-wide runtime, started on first use.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("imagor-net")
            .enable_all()
            .build()
            .expect("imagor: cannot start the network runtime")
    })
}

/// Run `future` on [`runtime`] and wait for it from wherever this future is
/// polled (`call::block_on_until`, another runtime). A panic inside becomes
/// an internal error rather than unwinding through the caller. Dropping
/// this future (a load timeout, a caller gone) aborts the task, so its
/// request does not outlive the wait.
pub(crate) async fn run<F>(future: F) -> crate::Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = runtime().spawn(future);
    let _abort = AbortOnDrop(handle.abort_handle());
    handle
        .await
        .map_err(|e| crate::Error::Internal(format!("network task failed: {e}")))
}

/// Aborts a task when dropped (a no-op once it has finished).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
