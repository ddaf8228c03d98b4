//! The HTTP/1.1 listener: connections on tokio and hyper, each request
//! through the [`super::middleware`] layers and [`crate::Imagor::handle`]
//! (on a blocking thread: it decodes and encodes images), with the access
//! log, the metrics and graceful shutdown on SIGTERM/SIGINT.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::conn::{AcceptBackoff, SendTimeout};
use super::heads::{HeadTally, Tallied};
use super::log::log;
use super::metrics::Metrics;
use super::middleware::{panic_response, real_ip, Layers, Route};
use crate::budget::{Holding, Pool};
use crate::request::{Cancel, Request, Response};
use crate::Imagor;

/// Transport settings of the server (what imagor's `server.New` gets).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `host:port` to listen on (`-bind`, else `-server-address:-port`).
    pub addr: String,
    /// Path prefix, CORS, query-string stripping.
    pub layers: Layers,
    /// One JSON line per request on stderr (`-server-access-log`).
    pub access_log: bool,
    /// Debug logging (`-debug`).
    pub debug: bool,
    /// Metrics listener address (`-prometheus-bind`); empty: none.
    pub prometheus_bind: String,
    /// Metrics path (`-prometheus-path`).
    pub prometheus_path: String,
    /// Metric name prefix (`-prometheus-namespace`).
    pub prometheus_namespace: String,
    /// Time a client has to send its request headers; imagor has none (a
    /// slowloris hole), so this is ours.
    pub header_read_timeout: Duration,
    /// Largest request head (imagor: 1 MiB).
    pub max_header_bytes: usize,
    /// Largest request body read (uploads).
    pub max_body_bytes: usize,
    /// Time a client has to send an upload body (imagor: none; ours is the
    /// request timeout).
    pub body_read_timeout: Duration,
    /// How long a client may take none of its answer before it is cut off
    /// (imagor: for ever; ours is the request timeout). A slow but steady
    /// client is served: every byte taken resets the clock.
    pub send_timeout: Duration,
    /// How long shutdown waits for requests in flight (imagor: 10 s).
    pub shutdown_timeout: Duration,
    /// Requests that may wait at once on their image's loader or storage
    /// (`-imagor-max-source-waits`, ours; 0: no bound); more answer 429 at
    /// once. Below the server's request threads, so that an origin that
    /// never answers cannot hold them all.
    pub max_source_waits: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            addr: ":8000".to_owned(),
            layers: Layers::default(),
            access_log: false,
            debug: false,
            prometheus_bind: String::new(),
            prometheus_path: "/".to_owned(),
            prometheus_namespace: "imagor".to_owned(),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 1 << 20,
            max_body_bytes: (32 << 20) + (1 << 20),
            body_read_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            max_source_waits: DEFAULT_SOURCE_WAITS,
        }
    }
}

struct State {
    imagor: Imagor,
    opts: ServerOptions,
    metrics: Option<Arc<Metrics>>,
    /// Requests being handled, and whether any ended since the last trim.
    in_flight: AtomicUsize,
    served: AtomicBool,
}

/// How often an idle server gives freed memory back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(2);

/// Once no request is in flight and some ended since the last look, trim
/// glibc's arenas ([`crate::vips::malloc::trim`]) on a blocking thread.
async fn trim_when_idle(state: Arc<State>) {
    loop {
        tokio::time::sleep(TRIM_EVERY).await;
        if state.in_flight.load(Ordering::Acquire) == 0
            && state.served.swap(false, Ordering::AcqRel)
        {
            let _ = tokio::task::spawn_blocking(crate::vips::malloc::trim).await;
        }
    }
}

/// Counts a request in flight while it lives.
struct InFlight(Arc<State>);

impl InFlight {
    fn new(state: &Arc<State>) -> InFlight {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.served.store(true, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A listen address as Go takes it: `:8000` means every interface.
fn socket_addr(addr: &str) -> String {
    if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    }
}

/// Run the server until SIGTERM or SIGINT, then finish the requests in
/// flight (up to the shutdown timeout) and return.
pub fn run(imagor: Imagor, opts: ServerOptions) -> std::io::Result<()> {
    run_until(imagor, opts, shutdown_signal())
}

/// [`run`] until `shutdown` resolves instead of a signal; work still
/// running shortly after the shutdown timeout is abandoned.
pub fn run_until(
    imagor: Imagor,
    opts: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    crate::vips::malloc::limit_arenas();
    crate::net_runtime::survive_file_size_limit();
    raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("imagor-server")
        .max_blocking_threads(REQUEST_THREADS)
        .build()?;
    let served = runtime.block_on(async move {
        let listener = TcpListener::bind(socket_addr(&opts.addr)).await?;
        serve(listener, imagor, opts, shutdown).await
    });
    // Requests still in flight at the shutdown timeout are dropped, which
    // cancels their work; what has not unwound a moment later (a decoder
    // inside one long call) is abandoned, as Go's imagor abandons its
    // goroutines when it exits. Dropping the runtime would wait for it:
    // a request stuck for an hour kept the process alive after SIGTERM.
    runtime.shutdown_timeout(ABANDON_AFTER);
    served
}

/// How long work cancelled at the shutdown timeout has to unwind before
/// the process exits without it.
const ABANDON_AFTER: Duration = Duration::from_secs(1);

/// Raise the soft limit on open files to the hard one, as Go's runtime
/// does at start: every connection, source file and idle HTTP-loader
/// connection holds a descriptor, and a soft limit of 1024 left the
/// server answering 500 `Too many open files` after 700 fetches from as
/// many origins (their idle connections live 90 s).
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        // Best effort: a server under the soft limit still runs.
        let _ = setrlimit(Resource::Nofile, raised);
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Threads that serve requests at once (each request runs on one, its
/// loads and its wait for a processing slot included). tokio's default of
/// 512 let 512 requests for images on an origin that never answers hold
/// every thread for the 20 s load timeout, while requests for local files
/// waited 17 s and `/healthcheck` said 200. A waiting thread costs little
/// (its stack is reserved, not used); pixel work is bounded apart, by the
/// processing slots.
const REQUEST_THREADS: usize = 4096;

/// Request threads that may wait on sources at once by default: three
/// quarters of them, so a thousand stay for everything else. 4 400
/// connections re-asking an origin that never answers held every thread,
/// and a request for a local file answered 408 after 9-16 s instead of
/// 0.08 s.
pub const DEFAULT_SOURCE_WAITS: usize = REQUEST_THREADS / 4 * 3;

/// Header lines a request may have. Go counts none (only the 1 MiB of the
/// head); hyper's default of 100 answered 431 to requests that proxies and
/// CDNs, adding their own, can reach. Each request's parse reserves room for
/// this many (32 bytes each).
const MAX_REQUEST_HEADERS: usize = 1024;

/// Serve `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    imagor: Imagor,
    opts: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let metrics = if opts.prometheus_bind.is_empty() {
        None
    } else {
        let source = {
            let imagor = imagor.clone();
            Arc::new(move || imagor.stats())
        };
        let m = Metrics::new(&opts.prometheus_namespace, &opts.prometheus_path)
            .and_then(|m| m.with_stats(&opts.prometheus_namespace, source))
            .map_err(|e| std::io::Error::other(format!("metrics: {e}")))?;
        let m = Arc::new(m);
        let metrics_listener = TcpListener::bind(socket_addr(&opts.prometheus_bind)).await?;
        log(
            "info",
            "prometheus listen",
            serde_json::json!({"addr": opts.prometheus_bind, "path": opts.prometheus_path}),
        );
        tokio::spawn(serve_metrics(metrics_listener, Arc::clone(&m)));
        Some(m)
    };
    crate::call::SOURCE_WAITS.limit(opts.max_source_waits.min(REQUEST_THREADS));
    let addr = listener.local_addr()?;
    log(
        "info",
        "listen",
        serde_json::json!({"addr": addr.to_string()}),
    );
    let state = Arc::new(State {
        imagor,
        opts,
        metrics,
        in_flight: AtomicUsize::new(0),
        served: AtomicBool::new(false),
    });
    let trimmer = tokio::spawn(trim_when_idle(Arc::clone(&state)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        // The shutdown first: a signal future installs its handlers when it
        // is first polled, and with connections arriving an unbiased select
        // may skip it (a SIGTERM a second after start then killed the
        // process outright, exit 143, without finishing its requests).
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => {
                        backoff.succeeded();
                        conn
                    }
                    Err(e) => {
                        if wait_to_accept(&mut backoff, &e, &mut shutdown).await {
                            break;
                        }
                        continue;
                    }
                };
                let (timeout, max_head) = (state.opts.header_read_timeout, state.opts.max_header_bytes);
                let tally = HeadTally::new(Pool::global(), state.imagor.options().max_total_memory);
                let stream = Tallied::new(super::linger::LingeringClose::new(stream), Arc::clone(&tally));
                let stream = SendTimeout::new(stream, state.opts.send_timeout);
                let state = Arc::clone(&state);
                let service = service_fn(move |req| {
                    let handling = tally.handling();
                    let handled = handle(Arc::clone(&state), req, peer);
                    async move {
                        let _handling = handling;
                        handled.await
                    }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeout)
                    .max_buf_size(max_head.max(8192))
                    .max_headers(MAX_REQUEST_HEADERS)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }
    drop(listener);
    trimmer.abort();
    log("info", "shutdown", serde_json::json!({}));
    let timeout = state.opts.shutdown_timeout;
    // Connections done, then the work that follows answers (result saves).
    let done = async {
        graceful.shutdown().await;
        while state.in_flight.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = done => {}
        _ = tokio::time::sleep(timeout) => {
            log("error", "server-shutdown", serde_json::json!({"error": "requests still in flight at the shutdown timeout"}));
        }
    }
    Ok(())
}

/// After a failed accept: log the first of a run of failures and wait
/// out the backoff; true when shutdown came meanwhile.
async fn wait_to_accept(
    backoff: &mut AcceptBackoff,
    error: &std::io::Error,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> bool {
    let (delay, first) = backoff.failed();
    if first {
        log(
            "error",
            "accept",
            serde_json::json!({"error": error.to_string(), "retry_in": format!("{delay:?}")}),
        );
    }
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = shutdown => true,
    }
}

async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>) {
    let mut backoff = AcceptBackoff::default();
    let mut never = std::future::pending::<()>();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.succeeded();
                stream
            }
            Err(e) => {
                wait_to_accept(&mut backoff, &e, &mut never).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let (status, headers, body) = metrics.respond(req.uri().path());
            let mut res = hyper::Response::new(Full::new(Bytes::from(body)));
            *res.status_mut() =
                hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    hyper::header::HeaderName::from_bytes(k.as_bytes()),
                    hyper::header::HeaderValue::from_str(&v),
                ) {
                    res.headers_mut().append(k, v);
                }
            }
            async move { Ok::<_, Infallible>(res) }
        });
        let stream = SendTimeout::new(stream, Duration::from_secs(30));
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    state: Arc<State>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let _in_flight = InFlight::new(&state);
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let uri = req.uri().clone();
    let mut request = Request {
        method: method.clone(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Bytes::new(),
    };
    let logged = state.opts.access_log && state.opts.layers.access_logged(&method, &request.path);
    let response = respond(&state, &mut request, req.into_body(), start).await;
    let status = response.status;
    if logged {
        let uri = if request.query.is_empty() {
            request.path.clone()
        } else {
            format!("{}?{}", request.path, request.query)
        };
        log(
            "info",
            "access",
            serde_json::json!({
                "status": status,
                "method": method,
                "uri": uri,
                "ip": real_ip(&request, &peer.to_string()),
                "user-agent": request.header("user-agent").unwrap_or(""),
                "took": start.elapsed().as_secs_f64(),
            }),
        );
    }
    if let Some(m) = &state.metrics {
        m.observe(status, &method, start.elapsed().as_secs_f64());
    }
    // The answer stays in memory until the client has taken it: count it
    // against max_total_memory until then, so that slow readers make new
    // calls wait or be refused rather than pile answers up uncounted.
    let held = Holding::in_pool(
        Pool::global(),
        state.imagor.options().max_total_memory,
        "the answer being sent",
    );
    let response = Response {
        body: held.keep(response.body),
        ..response
    };
    Ok(to_hyper(response))
}

/// The answer to `request`, which arrived at `arrived`: its body read and
/// any wait for a worker thread count against the request timeout.
async fn respond(
    state: &Arc<State>,
    request: &mut Request,
    body: Incoming,
    arrived: Instant,
) -> Response {
    // Go's server refuses a malformed escape before any handler (no
    // prefix, CORS or no-op route applies).
    if super::escaped_path::escaped_path(&request.path).is_none() {
        return bad_request();
    }
    let extra = match state.opts.layers.route(request) {
        Route::Answer(res) => return res,
        Route::App(extra) => extra,
    };
    match super::escaped_path::escaped_path(&request.path) {
        Some(p) => request.path = p,
        None => return bad_request(),
    }
    // Only an upload is read: imagor answers any other POST 405 without
    // touching the body (spec §4.3 step 2).
    let opts = state.imagor.options();
    if request.method == "POST" && opts.unsafe_ && opts.upload_loader_enable {
        // A body that trickles in is cut off at the request timeout.
        let holding = Holding::in_pool(Pool::global(), opts.max_total_memory, "the upload");
        let announced = request
            .header("content-length")
            .and_then(|n| n.parse().ok());
        let read = read_upload(body, state.opts.max_body_bytes, announced, holding);
        match tokio::time::timeout(state.opts.body_read_timeout, read).await {
            Err(_) => return state.imagor.error_response(&crate::Error::timeout()),
            Ok(Ok(data)) => request.body = data,
            Ok(Err(e)) => return state.imagor.error_response(&e),
        }
    }
    let (st, req) = (Arc::clone(state), request.clone());
    // hyper drops this future when the client goes away: the guard then
    // cancels the request's work (which stops unless others share it).
    let cancel = Cancel::new();
    let _cancel_on_drop = CancelOnDrop(cancel.clone());
    // The answer comes back as soon as it is made; the thread goes on with
    // what follows it (the result's save), counted in flight until done.
    let (tx, answered) = tokio::sync::oneshot::channel();
    let working = tokio::task::spawn_blocking(move || {
        let _in_flight = InFlight::new(&st);
        let answered = std::cell::Cell::new(false);
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            st.imagor.handle_answering(&req, &cancel, arrived, |res| {
                answered.set(true);
                let _ = tx.send(res);
            })
        }));
        if let (Err(payload), true) = (&done, answered.get()) {
            // Nobody hears of it as a 500 any more: the log does.
            let error = format!("after the answer: {}", panic_text(&**payload));
            log("error", "panic", serde_json::json!({ "error": error }));
        }
        done
    });
    let mut res = match answered.await {
        Ok(res) => res,
        // No answer: the work unwound before it made one.
        Err(_) => match working.await {
            Ok(Err(payload)) => panic_response(&panic_text(&*payload)),
            Ok(Ok(())) => panic_response("the request ended without an answer"),
            Err(e) => panic_response(&e.to_string()),
        },
    };
    // CORS runs before the app in imagor, so its `Vary: Origin` comes
    // first and the app's `Vary: Accept` is the second line.
    let app_headers = std::mem::replace(&mut res.headers, extra);
    res.headers.extend(app_headers);
    res
}

/// Read an upload body of at most `max` bytes (else `MaxSizeExceeded`),
/// reserving it against `max_total_memory` as it arrives, before it is
/// allocated. The announced length is checked against both limits up
/// front but reserves nothing: a client that announces much and sends
/// little holds no room.
async fn read_upload(
    mut body: Incoming,
    max: usize,
    announced: Option<u64>,
    holding: Holding,
) -> crate::Result<Bytes> {
    if let Some(n) = announced {
        if n > max as u64 {
            return Err(crate::Error::MaxSizeExceeded);
        }
        holding.expect(n)?;
    }
    let mut data = Vec::new();
    while let Some(frame) = body.frame().await {
        // A malformed body (a bad chunk size, endless chunk extensions or
        // trailers) is a 400 that says so, not a size the client exceeded.
        let frame = frame
            .map_err(|e| crate::Error::invalid_msg(format!("reading the request body: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if data.len() + chunk.len() > max {
            return Err(crate::Error::MaxSizeExceeded);
        }
        holding.extend(&mut data, &chunk)?;
    }
    holding.into_bytes(data)
}

/// Cancels its flag when dropped: when the request future is dropped
/// before the answer is ready, or (harmlessly) after it.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Go's answer to a request line it cannot parse.
fn bad_request() -> Response {
    let body = "400 Bad Request";
    Response {
        status: 400,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: body.into(),
    }
}

fn to_hyper(res: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(res.body));
    *out.status_mut() =
        hyper::StatusCode::from_u16(res.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in res.headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            out.headers_mut().append(k, v);
        }
    }
    out
}
