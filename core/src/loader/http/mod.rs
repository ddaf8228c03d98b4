//! imagor's HTTP loader (`loader/httploader`), with an SSRF policy that is
//! on by default.
//!
//! An image key (`https://example.com/a.jpg`, `example.com/a.jpg` with the
//! default scheme, or a path under the base URL) is fetched with reqwest
//! (rustls, connection reuse, gzip/deflate decoding) on the core's network
//! runtime (`crate::net_runtime`), so it works from any thread. Server
//! certificates are checked against the system's roots, as Go does.
//!
//! Every imagor option is honoured: allowed sources (host globs) and an
//! allowed-source regexp (OR-combined), base URL, default scheme (`nil`
//! disables it), `Accept` (sent, and checked against the response's
//! `Content-Type`), forwarded request headers, response headers passed on
//! to the image response, a maximum size, proxies (for the hosts of the
//! proxy allow-list), insecure TLS, and imagor's user agent.
//!
//! Safety, beyond imagor:
//! - loopback, private and link-local addresses are refused by default
//!   ([`NetworkPolicy`]; each class can be lifted), checked after DNS
//!   resolution on every connection (the checked answer is the address
//!   used), on IP literals before any connection, on every redirect hop
//!   (which also re-checks the allowed sources; at most 10 hops), and for
//!   the target of a proxied request (resolved and checked here, since the
//!   proxy resolves it again). A refused address answers 403 with the
//!   message `unauthorized request: <kind> blocked: <url>` (kind:
//!   `loopback address`, `private network address`, `link-local
//!   address`, `multicast, broadcast or reserved address`, `address in a
//!   blocked network`);
//! - the size limit is enforced on the decoded body as it streams, not
//!   only on `Content-Length`: past it the transfer stops (nothing beyond
//!   the limit is kept) with imagor's 400 `maximum size exceeded`. With
//!   no size limit (imagor's default) a body is still never kept past
//!   `max_memory`: an origin that sends without end, or a gzip bomb, is a
//!   422 `limit_exceeded` naming `max_memory` instead of memory without
//!   bound.

mod failure;
mod fetch;
pub mod policy;
mod resolver;
pub mod source;
mod stats;

pub use policy::{Blocked, NetworkPolicy};
pub use resolver::{Resolver, SystemResolver};
pub use stats::HttpLoaderStats;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;
use reqwest::header::HeaderMap;
use url::Url;

use super::{BoxFuture, LoadContext, Loader};
use crate::blob::{Blob, Stat};
use crate::budget::Holding;
use crate::error::{Error, Result};
use crate::options::Options;
use source::{AllowedSource, UrlRules};

/// What the loader's bodies are called when `max_total_memory` refuses
/// them.
const BODY: &str = "the image body from the HTTP loader";

/// The `User-Agent` of the loader's requests: imagor's.
pub const USER_AGENT: &str = "imagor/1.9.5";

/// A request that has already passed through this many imagor-rs HTTP
/// loaders (their `Via` entries) fetches nothing more: 403, as a source
/// not allowed (a bare key, only guessed to name a host: not found, so an
/// earlier loader's 404 stands). A chain of servers fetching from each other is served; an
/// image URL that leads back to a path that loads it again (a watermark of
/// itself behind a redirect) stops there, where it held a server thread
/// per hop until every thread was taken (about 520 at once: the server
/// answered nothing else for 20 s).
pub const MAX_HOPS: usize = 3;

pub(crate) use fetch::{hops_in, via_of};

/// Most redirects followed for one load (as Go's HTTP client).
pub const MAX_REDIRECTS: usize = 10;

/// Loads image keys over HTTP(S). Cheap to clone (shared state).
#[derive(Clone)]
pub struct HttpLoader {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) rules: UrlRules,
    pub(crate) policy: NetworkPolicy,
    pub(crate) accept: String,
    pub(crate) accepts: Vec<String>,
    /// Lower-case header names to forward; `*` forwards the client's.
    pub(crate) forward: Vec<String>,
    pub(crate) override_response: Vec<String>,
    /// 0: no limit.
    pub(crate) max_size: u64,
    /// The call's `max_memory` (0: none): a body is held in memory, so
    /// without `max_size` it is still never kept past this.
    pub(crate) max_memory: u64,
    pub(crate) proxies: Vec<Url>,
    pub(crate) proxy_allowed: Vec<AllowedSource>,
    next_proxy: AtomicUsize,
    insecure: bool,
    pub(crate) resolver: Arc<dyn Resolver>,
    /// 0 for the system resolver, else the custom resolver's address.
    resolver_id: usize,
    /// The clients of the network runtime's current generation.
    client: Mutex<Option<(u64, Clients)>>,
    /// Fetches, bytes and failures (shared with loaders derived from it).
    pub(crate) stats: Arc<stats::Counters>,
}

impl std::fmt::Debug for HttpLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner;
        f.debug_struct("HttpLoader")
            .field("base_url", &i.rules.base_url.as_ref().map(Url::as_str))
            .field("default_scheme", &i.rules.default_scheme)
            .field("allowed_sources", &i.rules.allowed.len())
            .field("policy", &i.policy)
            .field("max_size", &i.max_size)
            .field("proxies", &i.proxies.len())
            .finish()
    }
}

/// Split csv entries of a list option, trimmed, empty ones dropped.
fn csv(list: &[String]) -> impl Iterator<Item = &str> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The CIDR list of `http_loader_block_networks`, or a 400 naming the bad
/// entry.
pub fn parse_networks(list: &[String]) -> Result<Vec<ipnet::IpNet>> {
    csv(list)
        .map(|s| {
            s.parse::<ipnet::IpNet>().map(|n| n.trunc()).map_err(|_| {
                Error::invalid_msg(format!(
                    "invalid options: http_loader_block_networks: invalid CIDR address: {s}"
                ))
            })
        })
        .collect()
}

impl HttpLoader {
    /// The loader the `http_loader_*` options describe (whether or not
    /// `http_loader_disable` is set). Fails with a 400 on a regexp, base
    /// URL, proxy URL or CIDR that does not parse (imagor ignores them
    /// silently, which can leave "allow everything").
    pub fn new(o: &Options) -> Result<HttpLoader> {
        let loader = HttpLoader {
            inner: Arc::new(inner_of(o)?),
        };
        // Start the runtime and build the client now, not on the first
        // request (the TLS setup takes a moment).
        loader.inner.client()?;
        Ok(loader)
    }

    /// The same loader resolving names with `resolver` (its answers are
    /// still filtered by the address policy).
    pub fn with_resolver(self, resolver: Arc<dyn Resolver>) -> Result<HttpLoader> {
        let i = &self.inner;
        let inner = Inner {
            rules: i.rules.clone(),
            policy: i.policy.clone(),
            accept: i.accept.clone(),
            accepts: i.accepts.clone(),
            forward: i.forward.clone(),
            override_response: i.override_response.clone(),
            max_size: i.max_size,
            max_memory: i.max_memory,
            proxies: i.proxies.clone(),
            proxy_allowed: i.proxy_allowed.clone(),
            next_proxy: AtomicUsize::new(0),
            insecure: i.insecure,
            resolver_id: Arc::as_ptr(&resolver) as *const () as usize,
            resolver,
            client: Mutex::new(None),
            stats: i.stats.clone(),
        };
        inner.client()?;
        Ok(HttpLoader {
            inner: Arc::new(inner),
        })
    }

    /// The URL `key` is fetched from, after the base URL, the default
    /// scheme and the allowed sources (no network access).
    pub fn url_of(&self, key: &str) -> Result<Url> {
        self.inner.rules.url_of(key)
    }

    /// The address policy in effect.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.inner.policy
    }

    /// Count a load whose body is decoded while it arrives.
    pub(crate) fn note_streamed(&self) {
        self.inner.stats.streamed();
    }

    /// Fetches, bytes received and failures by class so far.
    pub fn stats(&self) -> HttpLoaderStats {
        self.inner.stats.snapshot()
    }
}

/// Check the `http_loader_*` options without building a loader (what
/// [`Options::validate`] calls).
pub(crate) fn check_options(o: &Options) -> Result<()> {
    inner_of(o).map(|_| ())
}

fn inner_of(o: &Options) -> Result<Inner> {
    let bad = |what: &str| Error::invalid_msg(format!("invalid options: {what}"));
    let mut allowed = source::host_patterns(&o.http_loader_allowed_sources);
    let re = o.http_loader_allowed_source_regexp.trim();
    if !re.is_empty() {
        let re =
            Regex::new(re).map_err(|e| bad(&format!("http_loader_allowed_source_regexp: {e}")))?;
        allowed.push(AllowedSource::Regex(re));
    }
    let base_url = match o.http_loader_base_url.trim() {
        "" => None,
        text => Some(
            Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                .ok_or_else(|| {
                    bad(&format!(
                        "http_loader_base_url {text:?} is not an absolute http(s) URL"
                    ))
                })?,
        ),
    };
    let default_scheme = match o.http_loader_default_scheme.trim() {
        "" => Some("https".to_owned()),
        s if s.eq_ignore_ascii_case("nil") => None,
        s => Some(s.to_owned()),
    };
    let proxies = csv(&o.http_loader_proxy_urls)
        .map(|p| {
            Url::parse(p)
                .ok()
                .filter(|u| u.has_host())
                .ok_or_else(|| bad(&format!("http_loader_proxy_urls: {p:?} is not a URL")))
        })
        .collect::<Result<Vec<_>>>()?;
    let accept = match o.http_loader_accept.trim() {
        "" => "*/*".to_owned(),
        a => a.to_owned(),
    };
    let mut forward: Vec<String> = csv(&o.http_loader_forward_headers)
        .map(str::to_ascii_lowercase)
        .collect();
    if o.http_loader_forward_client_headers || o.http_loader_forward_all_headers {
        forward = vec!["*".to_owned()];
    }
    let inner = Inner {
        rules: UrlRules {
            base_url,
            default_scheme,
            allowed,
        },
        policy: NetworkPolicy {
            block_loopback: o.http_loader_block_loopback_networks,
            block_private: o.http_loader_block_private_networks,
            block_link_local: o.http_loader_block_link_local_networks,
            block_networks: parse_networks(&o.http_loader_block_networks)?,
        },
        accepts: source::accept_list(&accept),
        accept,
        forward,
        override_response: csv(&o.http_loader_override_response_headers)
            .map(str::to_owned)
            .collect(),
        max_size: o.http_loader_max_allowed_size.max(0) as u64,
        max_memory: o.max_memory,
        proxies,
        proxy_allowed: source::host_patterns(&o.http_loader_proxy_allowed_sources),
        next_proxy: AtomicUsize::new(0),
        insecure: o.http_loader_insecure_skip_verify_transport,
        resolver: Arc::new(SystemResolver),
        resolver_id: 0,
        client: Mutex::new(None),
        stats: Arc::default(),
    };
    Ok(inner)
}

/// What makes two loaders' clients interchangeable.
#[derive(PartialEq, Eq)]
struct ClientKey {
    generation: u64,
    policy: NetworkPolicy,
    proxies: Vec<String>,
    proxy_allowed: Vec<String>,
    insecure: bool,
    resolver_id: usize,
}

/// Clients shared by loaders with equal transport settings.
static CLIENTS: Mutex<Vec<(ClientKey, Clients)>> = Mutex::new(Vec::new());

/// A loader's two clients: one for direct requests, whose every address
/// is checked against the policy, and (with proxies) one that sends every
/// request through them, whose resolver exempts only the proxies' own host
/// names. Each hop takes the client its URL calls for ([`Inner::proxied`]),
/// so a direct request to a proxy's host name is checked like any other.
#[derive(Clone)]
pub(crate) struct Clients {
    direct: reqwest::Client,
    via_proxy: Option<reqwest::Client>,
}

impl Clients {
    /// The client for `url`.
    pub(crate) fn for_url(&self, inner: &Inner, url: &Url) -> &reqwest::Client {
        match &self.via_proxy {
            Some(c) if inner.proxied(url) => c,
            _ => &self.direct,
        }
    }
}

impl Inner {
    /// Is `url` sent through a proxy?
    pub(crate) fn proxied(&self, url: &Url) -> bool {
        !self.proxies.is_empty() && source::is_allowed(url, &self.proxy_allowed)
    }

    /// The reqwest clients bound to the current network runtime. Loaders
    /// with the same transport settings share them (and so their
    /// connection pools): instances built per call stay cheap.
    pub(crate) fn client(self: &Inner) -> Result<Clients> {
        let generation = crate::net_runtime::generation()?;
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, c)) = slot.as_ref() {
            if *g == generation {
                return Ok(c.clone());
            }
        }
        let key = ClientKey {
            generation,
            policy: self.policy.clone(),
            proxies: self.proxies.iter().map(|u| u.to_string()).collect(),
            proxy_allowed: self
                .proxy_allowed
                .iter()
                .map(|s| format!("{s:?}"))
                .collect(),
            insecure: self.insecure,
            resolver_id: self.resolver_id,
        };
        let client = {
            let mut cache = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|(k, _)| k.generation == generation);
            match cache.iter().find(|(k, _)| *k == key) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = Clients {
                        direct: self.build_client(false)?,
                        via_proxy: if self.proxies.is_empty() {
                            None
                        } else {
                            Some(self.build_client(true)?)
                        },
                    };
                    if cache.len() >= 16 {
                        cache.remove(0);
                    }
                    cache.push((key, c.clone()));
                    c
                }
            }
        };
        *slot = Some((generation, client.clone()));
        Ok(client)
    }

    fn build_client(&self, via_proxy: bool) -> Result<reqwest::Client> {
        crate::tls::install_crypto();
        // reqwest needs the runtime's context to build its connector.
        let handle = crate::net_runtime::handle()?;
        let _entered = handle.enter();
        // The system's roots; a machine without any makes the platform
        // verifier, and so the build, fail: Mozilla's then (tls.rs).
        self.client_builder(via_proxy).build().or_else(|system| {
            let roots = crate::tls::bundled_roots()
                .filter_map(|der| reqwest::Certificate::from_der(der).ok());
            self.client_builder(via_proxy)
                .tls_certs_only(roots)
                .build()
                .map_err(|_| {
                    Error::Internal(format!(
                        "cannot build the HTTP client: {}",
                        failure::error_text(&system)
                    ))
                })
        })
    }

    /// The client's settings, TLS roots aside: direct, or sending every
    /// request through the proxies (round robin), whose host names alone
    /// are exempt from the address policy.
    fn client_builder(&self, via_proxy: bool) -> reqwest::ClientBuilder {
        let exempt: HashSet<String> = if via_proxy {
            self.proxies
                .iter()
                .filter_map(|u| u.host_str())
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect()
        } else {
            HashSet::new()
        };
        let resolver = resolver::PolicyResolver {
            resolver: self.resolver.clone(),
            policy: self.policy.clone(),
            exempt,
        };
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(100)
            .gzip(true)
            .deflate(true)
            .tls_danger_accept_invalid_certs(self.insecure);
        if via_proxy && !self.proxies.is_empty() {
            let proxies = self.proxies.clone();
            let counter = Arc::new(AtomicUsize::new(self.next_proxy.load(Ordering::Relaxed)));
            builder = builder.proxy(reqwest::Proxy::custom(move |_| {
                let i = counter.fetch_add(1, Ordering::Relaxed) % proxies.len();
                Some(proxies[i].clone())
            }));
        }
        builder
    }
}

/// A bare key (`missing.png`, fetched as `https://missing.png/`) whose
/// name does not resolve is simply not found: imagor answers Go's `dial
/// tcp: lookup missing.png: no such host` (also a 404), which misreports
/// a missing file as a network failure when the HTTP loader is the last
/// of several loaders. So is a bare key that cannot even be a host name
/// (`Bad_Bucket!/x.png`): it was never a URL, and an earlier loader's
/// answer for it must stand.
fn not_a_host(e: Error) -> Error {
    match e {
        Error::Status {
            status: 404,
            message,
        } if message.starts_with("dial tcp: lookup ")
            || message.starts_with("dial tcp: invalid dns name") =>
        {
            Error::NOT_FOUND
        }
        e => e,
    }
}

/// A response whose body is still arriving ([`HttpLoader::open`]).
pub(crate) struct Opened {
    /// What the response says about the image (no bytes).
    pub head: Blob,
    /// The bytes, as they arrive.
    pub body: Arc<crate::arriving::Body>,
}

impl HttpLoader {
    /// The URL and request headers for `key` (a refusal is counted; a key
    /// that is not a URL is not ours), and whether the key is bare: with
    /// no scheme (`photo.jpg`) it is only guessed to name a host.
    fn prepare(&self, ctx: LoadContext<'_>, key: &str) -> (Result<(Url, HeaderMap)>, bool) {
        let bare = self.inner.rules.base_url.is_none() && !key.contains("://");
        let prepared = if fetch::imagor_hops(ctx.request) >= MAX_HOPS {
            // Past the hop limit nothing is fetched. A bare key was only
            // guessed to name a host: an earlier loader's "not found" (a
            // missing local file) stands, as it would after a failed
            // lookup ([`not_a_host`]).
            Err(if bare {
                Error::NOT_FOUND
            } else {
                Error::SourceNotAllowed
            })
        } else {
            self.inner
                .rules
                .url_of_key(key, ctx.image_bytes)
                .map(|url| (url, fetch::request_headers(&self.inner, ctx.request)))
        };
        if let Err(e) = &prepared {
            if e.status() == 403 {
                self.inner.stats.outcome(&Err::<(), _>(e.clone()));
            }
        }
        (prepared, bare)
    }

    /// [`Loader::get`] that answers once the origin's response headers are
    /// in and checked: the bytes keep arriving into the returned body
    /// (bounded by `bound` and `stop` while someone waits for them), so
    /// libvips can decode while the origin still sends. Dropping the body
    /// stops the fetch.
    pub(crate) fn open<'a>(
        &'a self,
        ctx: LoadContext<'a>,
        key: &'a str,
        bound: crate::call::Bound,
        stop: crate::call::Stop,
    ) -> BoxFuture<'a, Result<Opened>> {
        let (prepared, bare) = self.prepare(ctx, key);
        let inner = self.inner.clone();
        let holding = Holding::for_this_call(BODY);
        Box::pin(async move {
            let (url, headers) = prepared?;
            let (tx, rx) = tokio::sync::oneshot::channel::<Result<Opened>>();
            let task = async move {
                // The load is counted before anyone hears how it ended: a
                // caller that reads the stats after its answer sees it.
                let flight = std::sync::Mutex::new(Some(stats::InFlight::start(&inner.stats)));
                let settle = |r: &Result<()>| {
                    let taken = flight.lock().unwrap_or_else(|e| e.into_inner()).take();
                    match (taken, r) {
                        (Some(f), Err(Error::Cancelled)) => drop(f),
                        (Some(f), r) => f.finish(r),
                        (None, _) => {}
                    }
                };
                let mut tx = Some(tx);
                let arrive = |head: Blob, capacity: usize| {
                    let body = crate::arriving::Body::new(capacity, bound, stop, holding);
                    let feed = body.feed();
                    let sent = tx.take()?.send(Ok(Opened { head, body }));
                    sent.is_ok().then_some(feed)
                };
                let mut r = fetch::open(&inner, url, headers, arrive, &settle).await;
                if bare {
                    r = r.map_err(not_a_host);
                }
                settle(&r);
                if let (Some(tx), Err(e)) = (tx, &r) {
                    // Refused before the body (status, type, size).
                    let _ = tx.send(Err(e.clone()));
                }
            };
            let spawned = crate::net_runtime::spawn(task)?;
            let opened = rx
                .await
                .map_err(|_| Error::Internal("internal error: network task ended".to_owned()))??;
            opened.body.hold_feeder(spawned);
            Ok(opened)
        })
    }
}

impl Loader for HttpLoader {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        let (prepared, bare) = self.prepare(ctx, key);
        let inner = self.inner.clone();
        let holding = Holding::for_this_call(BODY);
        Box::pin(async move {
            let (url, headers) = prepared?;
            // Dropping this future (a load or request timeout, a client
            // gone) aborts the task, and with it the connection.
            let task = async move {
                let flight = stats::InFlight::start(&inner.stats);
                let mut r = fetch::get(&inner, url, headers, holding).await;
                if bare {
                    r = r.map_err(not_a_host);
                }
                flight.finish(&r);
                r
            };
            crate::net_runtime::spawn(task)?.await?
        })
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Stat>> {
        let url = self.inner.rules.url_of(key);
        let headers = fetch::request_headers(&self.inner, None);
        let inner = self.inner.clone();
        Box::pin(async move {
            let task = fetch::stat(inner, url?, headers);
            crate::net_runtime::spawn(task)?.await?
        })
    }

    fn name(&self) -> &'static str {
        "http"
    }
}
