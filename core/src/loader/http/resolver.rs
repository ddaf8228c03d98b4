//! Name resolution under the address policy: every name the HTTP client
//! connects to goes through [`PolicyResolver`], which drops the addresses
//! the [`NetworkPolicy`] refuses *after* resolution, so the connection is
//! made only to an address that was checked (no DNS-rebinding window:
//! the checked answer is the one used). A name with nothing left is a
//! [`Blocked`] error, which the loader answers with 403.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::policy::{Blocked, NetworkPolicy};
use crate::loader::BoxFuture;

/// Resolves host names to addresses for the HTTP loader. The default is
/// the system resolver ([`SystemResolver`]); a custom one (a service
/// mesh's, a test's) may be plugged in with
/// [`super::HttpLoader::with_resolver`]. Its answers are filtered by the
/// address policy like the system's.
pub trait Resolver: Send + Sync {
    /// The addresses of `host` (a name, never an IP literal).
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Resolve `host` and keep what the policy allows. `Err(Blocked)` when
/// every address is refused; an I/O error when resolution failed.
pub(crate) async fn resolve_allowed(
    resolver: &dyn Resolver,
    policy: &NetworkPolicy,
    host: &str,
) -> Result<Vec<IpAddr>, ResolveError> {
    if policy.block_loopback && is_localhost(host) {
        return Err(ResolveError::Blocked(Blocked::Loopback));
    }
    let addrs = resolver.resolve(host).await.map_err(ResolveError::Io)?;
    let mut first_block = None;
    let allowed: Vec<IpAddr> = addrs
        .iter()
        .copied()
        .filter(|ip| match policy.check(*ip) {
            Ok(()) => true,
            Err(b) => {
                first_block.get_or_insert(b);
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_block) {
        (true, Some(b)) => Err(ResolveError::Blocked(b)),
        (true, None) => Err(ResolveError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("lookup {host}: no such host"),
        ))),
        (false, _) => Ok(allowed),
    }
}

/// Resolve `host` and require that *every* address is allowed: for a
/// target reached through a proxy, which resolves it again by itself.
pub(crate) async fn resolve_all_allowed(
    resolver: &dyn Resolver,
    policy: &NetworkPolicy,
    host: &str,
) -> Result<(), ResolveError> {
    if policy.block_loopback && is_localhost(host) {
        return Err(ResolveError::Blocked(Blocked::Loopback));
    }
    let addrs = resolver.resolve(host).await.map_err(ResolveError::Io)?;
    for ip in addrs {
        policy.check(ip).map_err(ResolveError::Blocked)?;
    }
    Ok(())
}

/// `localhost`, `localhost.` and names under it: loopback by definition
/// (RFC 6761), whatever a resolver answers.
fn is_localhost(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// Why a name could not be used.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// Every address was refused by the policy.
    Blocked(Blocked),
    /// Resolution failed.
    Io(std::io::Error),
}

/// A name that did not resolve (handed through reqwest's error chain, so
/// the loader can answer Go's `dial tcp: lookup HOST: no such host`).
#[derive(Debug)]
pub(crate) struct LookupFailed {
    /// The name looked up.
    pub(crate) host: String,
    /// The resolver's error.
    pub(crate) source: std::io::Error,
}

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lookup {}: no such host", self.host)
    }
}

impl std::error::Error for LookupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The resolver handed to reqwest: policy-filtered, except for the
/// configured proxies' own host names (the operator's, not the client's).
pub(crate) struct PolicyResolver {
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) policy: NetworkPolicy,
    pub(crate) exempt: HashSet<String>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy.clone();
        let host = name.as_str().to_ascii_lowercase();
        let exempt = self.exempt.contains(host.trim_end_matches('.'));
        Box::pin(async move {
            let addrs = if exempt {
                resolver.resolve(&host).await?
            } else {
                match resolve_allowed(resolver.as_ref(), &policy, &host).await {
                    Ok(addrs) => addrs,
                    Err(ResolveError::Blocked(b)) => return Err(Box::new(b) as _),
                    Err(ResolveError::Io(source)) => {
                        let host = host.trim_end_matches('.').to_owned();
                        return Err(Box::new(LookupFailed { host, source }) as _);
                    }
                }
            };
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
