//! Name resolution under the address policy: every name the HTTP client
//! connects to goes through [`PolicyResolver`], which drops the addresses
//! the [`NetworkPolicy`] refuses *after* resolution, so the connection is
//! made only to an address that was checked (no DNS-rebinding window:
//! the checked answer is the one used). A name with nothing left is a
//! [`Blocked`] error, which the loader answers with 403.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_resolver::TokioResolver;

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

/// The system's name servers and hosts file (`/etc/resolv.conf`,
/// `/etc/hosts`), queried asynchronously as Go's resolver does: a name
/// server that never answers holds only the lookups sent to it, each
/// within resolv.conf's `timeout` and `attempts`, never a thread (with
/// `getaddrinfo`, 16 blocking threads stuck on such a server held every
/// other lookup behind them). Answers, failures included, are cached for
/// their TTL. `localhost` names, and every name where that configuration
/// cannot be read, go to `getaddrinfo` on tokio's blocking threads.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            // hickory answers `localhost` with both loopback addresses
            // whatever the hosts file says; Go, like getaddrinfo, reads the
            // hosts file (often 127.0.0.1 alone).
            match system_dns().filter(|_| !is_localhost(host)) {
                Some(dns) => lookup(&dns, host).await,
                None => {
                    let addrs = tokio::net::lookup_host((host, 0)).await?;
                    Ok(addrs.map(|a| a.ip()).collect())
                }
            }
        })
    }
}

/// The asynchronous resolver of the system's configuration, built once
/// per network runtime (a forked child starts its own), or `None` where
/// the configuration cannot be read.
fn system_dns() -> Option<Arc<TokioResolver>> {
    type Built = Option<(u64, Option<Arc<TokioResolver>>)>;
    static DNS: Mutex<Built> = Mutex::new(None);
    let generation = crate::net_runtime::generation().ok()?;
    let mut built = DNS.lock().unwrap_or_else(|e| e.into_inner());
    match &*built {
        Some((g, dns)) if *g == generation => dns.clone(),
        _ => {
            let dns = TokioResolver::builder_tokio()
                .and_then(|b| b.build())
                .ok()
                .map(Arc::new);
            *built = Some((generation, dns.clone()));
            dns
        }
    }
}

/// The addresses of `host` from `dns`; a name without any is `NotFound`.
async fn lookup(dns: &TokioResolver, host: &str) -> std::io::Result<Vec<IpAddr>> {
    match dns.lookup_ip(host).await {
        Ok(found) => Ok(found.iter().collect()),
        Err(e) if e.is_no_records_found() => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            e.to_string(),
        )),
        Err(e) => Err(std::io::Error::other(e.to_string())),
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    use super::*;

    #[test]
    fn the_system_configuration_and_hosts_file_are_read() {
        let found = crate::net_runtime::spawn(async {
            assert!(system_dns().is_some(), "resolv.conf is readable here");
            SystemResolver.resolve("localhost").await
        })
        .map(pollster::block_on)
        .unwrap()
        .unwrap()
        .unwrap();
        assert!(found.contains(&IpAddr::from([127, 0, 0, 1])), "{found:?}");
    }

    /// getaddrinfo ran on 16 threads, each held 5-10 s by a name server
    /// that never answers, so other lookups queued behind them.
    #[test]
    fn a_name_server_that_never_answers_holds_no_other_lookup() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut udp = ConnectionConfig::udp();
        udp.port = silent.local_addr().unwrap().port();
        let mut server = NameServerConfig::udp(IpAddr::from([127, 0, 0, 1]));
        server.connections = vec![udp];
        let config = ResolverConfig::from_name_servers(vec![server]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().timeout = Duration::from_millis(300);
        builder.options_mut().attempts = 1;
        let dns = Arc::new(builder.build().unwrap());
        let started = Instant::now();
        let failed = crate::net_runtime::spawn(async move {
            let lookups = (0..64).map(|i| {
                let dns = dns.clone();
                tokio::spawn(async move { lookup(&dns, &format!("n{i}.example.com")).await })
            });
            let mut failed = 0;
            for l in lookups.collect::<Vec<_>>() {
                failed += usize::from(l.await.unwrap().is_err());
            }
            failed
        })
        .map(pollster::block_on)
        .unwrap()
        .unwrap();
        assert_eq!(failed, 64);
        // Together, not one after another (64 x 0.3 s = 19 s).
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}");
        drop(silent);
    }
}
