//! Work that runs off the JavaScript thread.
//!
//! Each job ([`Process`], [`Meta`], [`Serve`]) owns its inputs (a reference
//! to the caller's `Uint8Array`, kept alive until the job settles, and owned
//! strings) and an `Arc` of the configured core instance. It runs either
//!
//! - as a napi `AsyncTask` on the libuv thread pool ([`OffThread`]), the
//!   normal case; or
//! - on this addon's own threads ([`crate::loader::spawn`]) when the instance
//!   has a JavaScript loader: such a job waits for JavaScript (the loader),
//!   and a libuv thread blocked on JavaScript could starve the very I/O the
//!   loader needs (`fetch` resolves host names on the libuv pool).
//!
//! A panic inside a job is caught and rejects the promise with an
//! `ImagorError` (`ERR_IMAGOR_PANIC`).
//!
//! Once the environment that queued a job is exiting (`process.exit()`),
//! the job is dropped unstarted: libuv runs every queued job before the
//! process may end, and nobody waits for their results any more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, ToNapiValue, TypeName, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;

use crate::error::{catch, Failure, Fallible};

/// A unit of work: computed on some thread, converted on the JS thread.
pub trait Work: Send + 'static {
    /// The computed result (plain Rust data).
    type Out: Send + 'static;
    /// What the promise resolves with.
    type Js: ToNapiValue + TypeName + 'static;
    /// The work itself; runs off the JavaScript thread.
    fn compute(&mut self) -> Fallible<Self::Out>;
    /// The JavaScript value for the result; runs on the JavaScript thread.
    fn to_js(env: &Env, out: Self::Out) -> napi::Result<Self::Js>;
}

thread_local! {
    /// Set when the environment of this JavaScript thread exits.
    static EXITING: Arc<AtomicBool> = Arc::default();
}

/// The exit flag of the environment on this (JavaScript) thread, for the
/// jobs it queues.
pub(crate) fn exit_flag() -> Arc<AtomicBool> {
    EXITING.with(Arc::clone)
}

/// Run `work` unless the environment that queued it is exiting (`exit`,
/// from [`exit_flag`]); then it is cancelled unstarted.
pub(crate) fn run_unless_exiting<W: Work>(exit: &AtomicBool, work: &mut W) -> Fallible<W::Out> {
    if exit.load(Ordering::Acquire) {
        return Err(Failure::from(imagor::Error::Cancelled));
    }
    catch(|| work.compute())
}

/// Called by `index.js` on this environment's `exit` event: jobs it
/// queued that have not started are dropped instead of run.
#[napi(js_name = "__environmentExiting", skip_typescript)]
pub fn environment_exiting() {
    EXITING.with(|e| e.store(true, Ordering::Release));
}

/// A [`Work`] as a napi [`Task`] for the libuv pool.
pub struct OffThread<W: Work> {
    work: W,
    exit: Arc<AtomicBool>,
}

impl<W: Work> OffThread<W> {
    /// Wrap `work` for `AsyncTask::new` (on the JavaScript thread).
    pub(crate) fn new(work: W) -> Self {
        OffThread {
            work,
            exit: exit_flag(),
        }
    }
}

impl<W: Work> Task for OffThread<W> {
    type Output = Fallible<W::Out>;
    type JsValue = W::Js;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        // Failures travel as data and become JS errors in `resolve`.
        Ok(run_unless_exiting(&self.exit, &mut self.work))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        settle::<W>(&env, output)
    }
}

/// The promise's value for a computed result, or the JavaScript error for a
/// failure; on the JavaScript thread, with panics caught here too.
pub(crate) fn settle<W: Work>(env: &Env, output: Fallible<W::Out>) -> napi::Result<W::Js> {
    let converted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match output {
        Ok(out) => W::to_js(env, out)
            .map_err(|e| Failure::from(imagor::Error::Internal(format!("imagor: {}", e.reason)))),
        Err(failure) => Err(failure),
    }));
    match converted {
        Ok(Ok(js)) => Ok(js),
        Ok(Err(failure)) => Err(failure.into_js(env)),
        Err(payload) => Err(Failure::panic(payload).into_js(env)),
    }
}

/// Input bytes copied on the JavaScript thread (a worker thread never
/// reads memory that JavaScript could mutate or detach meanwhile), after
/// reserving room for them against the instance's `max_total_memory`: a
/// flood of calls queued behind busy threads holds no more than that, the
/// rest are refused (429) without a copy. A refusal rejects the promise.
pub(crate) type Input = imagor::Result<imagor::Bytes>;

/// Copy `data` for a job of `engine` (see [`Input`]).
pub(crate) fn copy_input(engine: &imagor::Imagor, data: &[u8]) -> Input {
    engine.check_input_size(data.len())?;
    imagor::loader::SourceRoom::for_input(engine.options().max_total_memory).copy(data)
}

/// The bytes of an [`Input`], or its refusal.
pub(crate) fn input(data: &Input) -> Fallible<&[u8]> {
    data.as_deref().map_err(|e| Failure::from(e.clone()))
}

/// `process`: encoded image bytes in, encoded image bytes out.
pub(crate) struct Process {
    pub engine: Arc<imagor::Imagor>,
    pub data: Input,
    pub path: String,
}

impl Work for Process {
    type Out = Vec<u8>;
    type Js = Buffer;

    fn compute(&mut self) -> Fallible<Vec<u8>> {
        Ok(self.engine.process(input(&self.data)?, &self.path)?.data)
    }

    fn to_js(_env: &Env, out: Vec<u8>) -> napi::Result<Buffer> {
        Ok(Buffer::from(out))
    }
}

/// `meta`: imagor's `/meta` JSON of the (processed) image.
pub(crate) struct Meta {
    pub engine: Arc<imagor::Imagor>,
    pub data: Input,
    pub path: String,
}

impl Work for Meta {
    type Out = serde_json::Value;
    type Js = Json;

    fn compute(&mut self) -> Fallible<serde_json::Value> {
        let meta = self.engine.meta(input(&self.data)?, &self.path)?;
        serde_json::to_value(meta)
            .map_err(|e| Failure::from(imagor::Error::Internal(e.to_string())))
    }

    fn to_js(_env: &Env, out: serde_json::Value) -> napi::Result<Json> {
        Ok(Json(out))
    }
}

/// A JSON value resolved as the equivalent JavaScript object.
pub struct Json(pub serde_json::Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "object"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        // SAFETY: same contract, forwarded to serde_json::Value's impl.
        unsafe { serde_json::Value::to_napi_value(env, val.0) }
    }
}

/// What `Imagor.serve` resolves with: the response body and its type.
#[napi(object)]
pub struct ServeResult {
    /// The encoded image, or the JSON of a `meta/` path.
    pub data: Buffer,
    /// `image/webp`, `application/json`, ...
    pub content_type: String,
    /// The image format written (`'jpeg'`, `'webp'`, ...); absent for
    /// `meta/` JSON.
    pub format: Option<String>,
}

/// `serve`: a request path through signature check, loaders and processing.
pub(crate) struct Serve {
    pub engine: Arc<imagor::Imagor>,
    pub path: String,
    /// The requests whose loader or detector made this call, if any.
    pub nesting: imagor::request::Nesting,
}

impl Work for Serve {
    type Out = imagor::Output;
    type Js = ServeResult;

    fn compute(&mut self) -> Fallible<imagor::Output> {
        let _nested = self.nesting.enter();
        Ok(self.engine.serve(&self.path)?)
    }

    fn to_js(_env: &Env, out: imagor::Output) -> napi::Result<ServeResult> {
        Ok(ServeResult {
            data: Buffer::from(out.data),
            content_type: out.content_type,
            format: out.format.map(|f| f.name().to_owned()),
        })
    }
}

/// An HTTP request for `Imagor.handle`: what imagor's server receives,
/// after its path prefix.
#[napi(object)]
pub struct ImagorRequest {
    /// `'GET'` (default), `'HEAD'`, `'POST'`, ...
    pub method: Option<String>,
    /// The path as the client sent it, percent-escapes kept, from the
    /// first `/` after the mount point (`'/unsafe/fit-in/100x100/a.jpg'`).
    /// A `?query` part is split off into `query`.
    pub path: String,
    /// The raw query string without `?`.
    pub query: Option<String>,
    /// Request headers (any case; Node's `req.headers` as it is).
    #[napi(ts_type = "Record<string, string | string[] | undefined>")]
    pub headers: Option<std::collections::HashMap<String, serde_json::Value>>,
    /// The body of a `POST` upload.
    pub body: Option<Uint8Array>,
}

/// What `Imagor.handle` resolves with: the whole HTTP response.
#[napi(object)]
pub struct ImagorResponse {
    /// The status code.
    pub status: u32,
    /// Headers in order, as `[name, value]` pairs.
    #[napi(ts_type = "Array<[string, string]>")]
    pub headers: Vec<Vec<String>>,
    /// The body (empty for `HEAD`, 304 and bodiless errors).
    pub body: Buffer,
}

impl ImagorRequest {
    /// The core request, with the body copied on the JavaScript thread
    /// after reserving room for it, as an input ([`copy_input`]).
    pub(crate) fn into_core(
        self,
        engine: &imagor::Imagor,
    ) -> imagor::Result<imagor::request::Request> {
        let (path, mut query) = match self.path.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (self.path, String::new()),
        };
        if let Some(q) = self.query {
            query = q;
        }
        let mut headers = Vec::new();
        for (name, value) in self.headers.into_iter().flatten() {
            let name = name.to_ascii_lowercase();
            match value {
                serde_json::Value::String(v) => headers.push((name, v)),
                serde_json::Value::Array(vs) => headers.extend(
                    vs.into_iter()
                        .filter_map(|v| v.as_str().map(|s| (name.clone(), s.to_owned()))),
                ),
                _ => {}
            }
        }
        let body = match self.body {
            Some(b) => copy_input(engine, &b)?,
            None => imagor::Bytes::new(),
        };
        Ok(imagor::request::Request {
            method: self
                .method
                .map(|m| m.to_ascii_uppercase())
                .unwrap_or_else(|| "GET".to_owned()),
            path,
            query,
            headers,
            body,
        })
    }
}

/// `handle`: a whole HTTP request through imagor's request handling; a
/// body refused before its copy is answered as imagor answers errors.
pub(crate) struct Handle {
    pub engine: Arc<imagor::Imagor>,
    pub request: imagor::Result<imagor::request::Request>,
    /// The requests whose loader or detector made this call, if any.
    pub nesting: imagor::request::Nesting,
}

impl Work for Handle {
    type Out = imagor::request::Response;
    type Js = ImagorResponse;

    fn compute(&mut self) -> Fallible<imagor::request::Response> {
        let _nested = self.nesting.enter();
        Ok(match &self.request {
            Ok(request) => self.engine.handle(request),
            Err(e) => self.engine.error_response(e),
        })
    }

    fn to_js(_env: &Env, out: imagor::request::Response) -> napi::Result<ImagorResponse> {
        Ok(ImagorResponse {
            status: u32::from(out.status),
            headers: out.headers.into_iter().map(|(k, v)| vec![k, v]).collect(),
            body: Buffer::from(out.body.to_vec()),
        })
    }
}
