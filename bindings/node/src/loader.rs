//! JavaScript loaders: `new Imagor({ loader: async (key) => Buffer | null })`.
//!
//! The core asks its loaders synchronously, from the thread that processes
//! the image ([`imagor::loader::Loader`]). A [`JsLoader`] hands the key to
//! the JavaScript thread through a threadsafe function, and waits for the
//! answer, which `index.js` sends back with `__loaderReply(id, ...)` when the
//! loader's promise settles.
//!
//! Jobs of an instance with a JavaScript loader run on this module's own
//! threads ([`spawn`]), never on the libuv pool: they wait on JavaScript,
//! and the loader itself (e.g. `fetch`) may need the libuv pool. So do the
//! `serve` / `handle` jobs of an instance with the core's HTTP loader, which
//! may wait on an origin (the fetch itself runs on the core's network
//! runtime).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use napi::bindgen_prelude::{FnArgs, Function, Object, Uint8Array, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;

use imagor::loader::SourceRoom;

use crate::error::Failure;
use crate::tasks::{exit_flag, run_unless_exiting, settle, Work};

/// How long a load may wait for the JavaScript loader before it fails with
/// imagor's timeout (408). The loader should bound its own I/O well below.
const LOADER_TIMEOUT: Duration = Duration::from_secs(60);

type LoaderArgs = FnArgs<(u32, String, u32)>;
type LoaderFn = ThreadsafeFunction<LoaderArgs, Unknown<'static>, LoaderArgs, Status, false, true>;

type Reply = imagor::Result<imagor::Bytes>;

/// A load waiting for its JavaScript answer: the JavaScript thread that
/// will answer it, where the answer goes, and the room reserved in the
/// call's `max_total_memory` before the answer's bytes are copied.
type Waiting = (ThreadId, SyncSender<Reply>, SourceRoom);

/// Loads waiting for their JavaScript answer, by request id.
fn pending() -> &'static Mutex<HashMap<u32, Waiting>> {
    static PENDING: OnceLock<Mutex<HashMap<u32, Waiting>>> = OnceLock::new();
    PENDING.get_or_init(|| Mutex::new(HashMap::new()))
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A [`imagor::loader::Loader`] answered by a JavaScript function.
pub(crate) struct JsLoader {
    call: LoaderFn,
    js_thread: ThreadId,
}

impl JsLoader {
    /// Wrap the bridge function `(id, key, caller) => void` that `index.js` built
    /// around the user's loader. Weak: it does not keep the process alive
    /// (pending jobs do, through their promises).
    pub(crate) fn new(bridge: Unknown) -> napi::Result<JsLoader> {
        // SAFETY: the options parser checked that this is a function.
        let func: Function<LoaderArgs, Unknown<'static>> = unsafe { bridge.cast() }?;
        let call = func
            .build_threadsafe_function::<LoaderArgs>()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        Ok(JsLoader {
            call,
            js_thread: std::thread::current().id(),
        })
    }
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<u32, Waiting>> {
    // A poisoned map only means a panic elsewhere; its data is still valid.
    pending().lock().unwrap_or_else(|e| e.into_inner())
}

impl imagor::loader::Loader for JsLoader {
    fn get<'a>(
        &'a self,
        ctx: imagor::loader::LoadContext<'a>,
        key: &'a str,
    ) -> imagor::loader::BoxFuture<'a, imagor::Result<imagor::Blob>> {
        // Blocks the worker thread polling it (never the JS thread), until
        // the read's deadline at most.
        let result = self.load(key, ctx.deadline).map(imagor::Blob::new);
        Box::pin(std::future::ready(result))
    }

    fn name(&self) -> &'static str {
        "javascript"
    }
}

impl JsLoader {
    /// Ask the JavaScript function for `key` and wait for its answer.
    fn load(
        &self,
        key: &str,
        deadline: Option<std::time::Instant>,
    ) -> imagor::Result<imagor::Bytes> {
        if std::thread::current().id() == self.js_thread {
            return Err(imagor::Error::Internal(
                "imagor: a JavaScript loader cannot run inside a synchronous call; use the async method"
                    .to_owned(),
            ));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        // The room of the call on this thread (the answer is copied on the
        // JavaScript thread, outside it).
        let room = SourceRoom::for_this_call();
        lock().insert(id, (self.js_thread, tx, room));
        // The requests this load is for, for the calls the loader makes.
        let caller = crate::nesting::Lent::here();
        let status = self.call.call(
            FnArgs::from((id, key.to_owned(), caller.id())),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
        if status != Status::Ok {
            lock().remove(&id);
            return Err(imagor::Error::Internal(format!(
                "imagor: the JavaScript loader is not available ({status})"
            )));
        }
        // The load timeout (within the request's): a loader that never
        // answers held the call for LOADER_TIMEOUT whatever its budget.
        let wait = deadline.map_or(LOADER_TIMEOUT, |at| {
            at.saturating_duration_since(std::time::Instant::now())
                .min(LOADER_TIMEOUT)
        });
        match rx.recv_timeout(wait) {
            Ok(reply) => reply,
            Err(_) => {
                lock().remove(&id);
                Err(imagor::Error::timeout())
            }
        }
    }
}

/// The answer of a JavaScript loader to request `id`: the bytes, or no
/// bytes and imagor's `(status, message)` (404 moves on to the next loader),
/// with the kind `code` of an `ImagorError` it threw (kept whatever its
/// message). Called by `index.js` only.
#[napi(catch_unwind, js_name = "__loaderReply", skip_typescript)]
pub fn loader_reply(
    id: u32,
    data: Option<Uint8Array>,
    status: Option<u32>,
    message: Option<String>,
    code: Option<String>,
) -> bool {
    let Some((_, tx, room)) = lock().remove(&id) else {
        return false;
    };
    let reply = match data {
        Some(bytes) => room.copy(&bytes),
        None => {
            let status = status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500);
            let message = message.unwrap_or_else(|| "internal error".to_owned());
            let kind = code
                .as_deref()
                .and_then(|c| imagor::Error::from_code(c, &message))
                .filter(|k| k.status() == status);
            Err(kind.unwrap_or_else(|| imagor::Error::from_status(&message, status)))
        }
    };
    tx.send(reply).is_ok()
}

/// Fail the loads a JavaScript thread will never answer: called when its
/// environment shuts down (a worker thread that ends or is terminated).
pub(crate) fn abandon_pending(js_thread: ThreadId) {
    let mut map = lock();
    let ids: Vec<u32> = map
        .iter()
        .filter(|(_, (thread, _, _))| *thread == js_thread)
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        if let Some((_, tx, _)) = map.remove(&id) {
            let _ = tx.send(Err(imagor::Error::Internal(
                "imagor: the JavaScript environment of the loader shut down".to_owned(),
            )));
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that run jobs of instances with JavaScript loaders: twice
/// the cores (they mostly wait on I/O), at least four. Started on first
/// use; `None` when no thread could be started (each job then gets its own).
fn pool() -> Option<&'static mpsc::Sender<Queued>> {
    static POOL: OnceLock<Option<mpsc::Sender<Queued>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(4)
            .max(4);
        let (tx, rx) = mpsc::channel::<Queued>();
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("imagor-loader-{i}"))
                .spawn(move || worker(&rx));
            started += usize::from(spawned.is_ok());
        }
        (started > 0).then_some(tx)
    })
    .as_ref()
}

/// Pool threads free for a job not yet claimed by a caller: a worker adds
/// itself before it waits, a caller claims one before it queues a job
/// ([`run_extra`]), so several calls in one tick never count on the same
/// free thread.
static IDLE: AtomicUsize = AtomicUsize::new(0);

/// Jobs running on threads of their own, started while every pool thread
/// was busy.
static EXTRA: AtomicUsize = AtomicUsize::new(0);

/// At most this many jobs run on threads of their own at once; more wait
/// for a pool thread. Jobs wait on JavaScript (a loader that stalls on its
/// origin) far more than they work, and a job's time budget starts only
/// when it runs: with the pool alone, four calls whose loader never
/// answered held every other instance's calls until their load timeout.
const MAX_EXTRA: usize = 256;

/// A job sent to the pool, and whether its caller claimed a free thread
/// for it ([`IDLE`]).
struct Queued {
    job: Job,
    claimed: bool,
}

fn worker(rx: &Mutex<Receiver<Queued>>) {
    loop {
        IDLE.fetch_add(1, Ordering::SeqCst);
        let queued = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match queued {
            // Jobs catch their own panics; this keeps the thread alive
            // even if one did not.
            Ok(Queued { job, claimed }) => {
                // A job no caller claimed a thread for (every extra thread
                // busy): this thread is no longer free.
                if !claimed {
                    IDLE.fetch_sub(1, Ordering::SeqCst);
                }
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Run `job` on a thread of its own if every pool thread is busy and fewer
/// than [`MAX_EXTRA`] such threads run; otherwise it is for the pool,
/// with a free thread claimed for it if there is one.
fn run_extra(job: Job) -> Result<(), Queued> {
    if IDLE
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(Queued { job, claimed: true });
    }
    if EXTRA.fetch_add(1, Ordering::SeqCst) >= MAX_EXTRA {
        EXTRA.fetch_sub(1, Ordering::SeqCst);
        return Err(Queued {
            job,
            claimed: false,
        });
    }
    // The thread owns the job through this cell, so that a thread that
    // cannot start hands it back (spawn drops the closure it was given).
    let job = Arc::new(Mutex::new(Some(job)));
    let mine = Arc::clone(&job);
    let spawned = std::thread::Builder::new()
        .name("imagor-loader-extra".to_owned())
        .spawn(move || {
            let job = mine.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(job) = job {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            EXTRA.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_ok() {
        return Ok(());
    }
    EXTRA.fetch_sub(1, Ordering::SeqCst);
    let job = job.lock().unwrap_or_else(|e| e.into_inner()).take();
    job.map_or(Ok(()), |job| {
        Err(Queued {
            job,
            claimed: false,
        })
    })
}

/// Run `work` on the loader pool; the returned promise settles on the
/// JavaScript thread with its result or an `ImagorError`.
pub(crate) fn spawn<W: Work>(env: &Env, mut work: W) -> napi::Result<Object<'_>> {
    let (deferred, promise) = env.create_deferred()?;
    let exit = exit_flag();
    let job: Job = Box::new(move || {
        let result = run_unless_exiting(&exit, &mut work);
        deferred.resolve(move |env: Env| settle::<W>(&env, result));
    });
    let job = match pool() {
        Some(tx) => match run_extra(job).err() {
            None => return Ok(promise),
            Some(queued) => match tx.send(queued) {
                Ok(()) => return Ok(promise),
                Err(mpsc::SendError(queued)) => queued.job,
            },
        },
        None => job,
    };
    std::thread::Builder::new()
        .name("imagor-loader".to_owned())
        .spawn(job)
        .map_err(|e| {
            Failure::from(imagor::Error::Internal(format!(
                "cannot start a thread: {e}"
            )))
            .into_js(env)
        })?;
    Ok(promise)
}
