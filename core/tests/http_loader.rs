//! The HTTP loader at the library level, against a real local origin on
//! 127.0.0.1 (started here; loopback explicitly allowed where the origin
//! is used) and a canary listener that must never be connected to.
//!
//! Run: `cargo test -p imagor --test http_loader`.

mod origin;

use std::net::IpAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use imagor::loader::http::{HttpLoader, Resolver};
use imagor::loader::{BoxFuture, LoadContext, Loader};
use imagor::request::Request;
use imagor::{Blob, Error, Imagor, Options};
use origin::{ssrf_matrix, Canary, Origin};

/// Tests that measure the process's memory hold this exclusively; every
/// other test holds it shared, so nothing else allocates meanwhile.
static SERIAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(|p| p.into_inner())
}

/// Options whose HTTP loader may reach the local origin (loopback lifted).
/// Processing gets a minute: these tests are about loading, and a debug
/// build on a loaded machine can take longer than the 2 s default.
fn local() -> Options {
    Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        process_timeout: Duration::from_secs(60),
        ..Options::default()
    }
}

fn loader(o: &Options) -> HttpLoader {
    HttpLoader::new(o).expect("loader")
}

fn get(l: &HttpLoader, key: &str) -> Result<Blob, Error> {
    pollster::block_on(l.get(LoadContext::default(), key))
}

fn get_with(l: &HttpLoader, req: &Request, key: &str) -> Result<Blob, Error> {
    pollster::block_on(l.get(
        LoadContext {
            request: Some(req),
            ..Default::default()
        },
        key,
    ))
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name),
    )
    .expect("testdata")
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A resolver answering from a fixed table (a stand-in for DNS records).
struct Table(Vec<(&'static str, IpAddr)>);

impl Resolver for Table {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        let found: Vec<IpAddr> = self
            .0
            .iter()
            .filter(|(h, _)| *h == host)
            .map(|(_, ip)| *ip)
            .collect();
        Box::pin(async move {
            if found.is_empty() {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such host",
                ))
            } else {
                Ok(found)
            }
        })
    }
}

#[test]
fn loads_from_an_allowed_local_origin() {
    let _shared = shared();
    let origin = Origin::start();
    let l = loader(&local());
    let blob = get(&l, &origin.url("/image/gopher.png")).expect("load");
    assert_eq!(blob.data.as_ref(), testdata("gopher.png").as_slice());
    assert_eq!(blob.content_type.as_deref(), Some("image/png"));
    let seen = origin.seen();
    assert_eq!(seen[0].header("user-agent"), Some("imagor/1.9.5"));
    assert_eq!(seen[0].header("accept"), Some("*/*"));
    // Through an instance: loaded, then processed.
    let imagor = Imagor::new(local()).expect("imagor");
    let path = format!(
        "unsafe/fit-in/40x40/filters:format(png)/{}",
        origin.url("/image/gopher.png")
    );
    let out = imagor.serve(&path).expect("serve");
    assert_eq!(out.content_type, "image/png");
    // Origin statuses keep their status and Go's status text, as imagor's
    // `NewErrorFromStatusCode` (so a 404 is `Not Found`).
    let missing = get(&l, &origin.url("/missing")).unwrap_err();
    assert_eq!(
        (missing.status(), missing.to_json()),
        (404, r#"{"message":"Not Found","status":404}"#.to_owned())
    );
    assert_eq!(
        get(&l, &origin.url("/status/503")).unwrap_err().status(),
        503
    );
    assert_eq!(
        get(&l, &origin.url("/status/403")).unwrap_err().status(),
        403
    );
    // Nothing listens: Go's `dial tcp ADDR: connect: connection refused`
    // is no `dial tcp: ` error, so imagor answers it 500.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}/x");
    let e = get(&l, &url).unwrap_err();
    assert_eq!(e.status(), 500, "{e}");
    assert_eq!(
        e.message(),
        format!("Get \"{url}\": dial tcp 127.0.0.1:{closed}: connect: connection refused")
    );
}

#[test]
fn the_ssrf_matrix_is_refused_by_default_without_a_connection() {
    let _shared = shared();
    let canary = Canary::start();
    let l = loader(&Options::default());
    let policy = l.policy().clone();
    let mut failures = Vec::new();
    for (label, url) in ssrf_matrix(canary.port) {
        // Never send a request to a non-loopback private address: the
        // policy must refuse it on paper first.
        if let Ok(u) = l.url_of(&url) {
            let ip = match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = ip {
                assert!(policy.check(ip).is_err(), "{label}: {ip} passes the policy");
            }
        }
        match get(&l, &url) {
            Err(e) if e.status() == 403 => {}
            other => failures.push(format!("{label} {url}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));
    assert_eq!(canary.hits(), 0, "the canary was connected to");
}

#[test]
fn blocked_addresses_answer_403_with_a_clear_message() {
    let _shared = shared();
    let canary = Canary::start();
    let l = loader(&Options::default());
    let e = get(&l, &format!("http://127.0.0.1:{}/a.jpg", canary.port)).unwrap_err();
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.message(),
        format!(
            "unauthorized request: loopback address blocked: http://127.0.0.1:{}/a.jpg",
            canary.port
        )
    );
    let e = get(&l, &format!("http://localhost:{}/a.jpg", canary.port)).unwrap_err();
    assert!(
        e.message()
            .starts_with("unauthorized request: loopback address blocked"),
        "{e}"
    );
    // Names resolving to blocked addresses (a stub resolver stands in for
    // the cloud metadata name and a rebinding name).
    let l = loader(&Options::default())
        .with_resolver(Arc::new(Table(vec![
            (
                "metadata.google.internal",
                "169.254.169.254".parse().unwrap(),
            ),
            ("rebind.test", "127.0.0.1".parse().unwrap()),
            ("mixed.test", "10.0.0.1".parse().unwrap()),
            ("mixed.test", "fd00::1".parse().unwrap()),
        ])))
        .unwrap();
    let e = get(&l, "http://metadata.google.internal/computeMetadata/v1/").unwrap_err();
    assert_eq!(
        e.message(),
        "unauthorized request: link-local address blocked: http://metadata.google.internal/computeMetadata/v1/"
    );
    let e = get(&l, &format!("http://rebind.test:{}/x", canary.port)).unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    let e = get(&l, "http://mixed.test/x").unwrap_err();
    assert!(
        e.message().contains("private network address blocked"),
        "{e}"
    );
    // Instances answer the same, through their loader chain.
    let imagor = Imagor::new(Options {
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    let path = format!("unsafe/http://127.0.0.1:{}/a.jpg", canary.port);
    assert_eq!(imagor.serve(&path).unwrap_err().status(), 403);
    let res = imagor.handle(&Request::get(&format!("/{path}")));
    assert_eq!(res.status, 403);
    assert!(String::from_utf8_lossy(&res.body).contains("unauthorized request"));
    assert_eq!(canary.hits(), 0);
}

/// A host the URL standard takes but no HTTP request can carry: a client
/// error as imagor's (Go refuses `{`, `}` and `` ` `` in a host, and finds
/// no host named with `"`), never the 500 of a request that would not build.
#[test]
fn hosts_no_request_can_carry_are_client_errors() {
    let _shared = shared();
    let l = loader(&Options::default());
    let e = get(&l, "https://a\"b.png/x.png").unwrap_err();
    assert_eq!(e.status(), 404, "{e}");
    assert!(
        e.message()
            .starts_with("dial tcp: lookup a\"b.png: no such host"),
        "{e}"
    );
    for key in [
        "https://a{b}/x.png",
        "http://x`y.com/a.png",
        "a}b.png/x.png",
    ] {
        let e = get(&l, key).unwrap_err();
        assert_eq!(e.status(), 400, "{key}: {e}");
    }
    // A bare key is only guessed to name a host: not found.
    let e = get(&l, "a\"b.png").unwrap_err();
    assert_eq!(e.status(), 404, "{e}");
}

/// A password in a source URL never reaches an error (and so the client's
/// response body or a log): it is `***`, as Go's HTTP client shows it.
#[test]
fn errors_never_show_a_urls_password() {
    let _shared = shared();
    let canary = Canary::start();
    let blocked = loader(&Options::default());
    let key = format!("http://user:baseP4ss@127.0.0.1:{}/a.jpg", canary.port);
    let e = get(&blocked, &key).unwrap_err();
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.message(),
        format!(
            "unauthorized request: loopback address blocked: http://user:***@127.0.0.1:{}/a.jpg",
            canary.port
        )
    );
    // A refused connection (nothing listens there) and a failed lookup.
    let open = loader(&local());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for key in [
        format!("http://user:baseP4ss@127.0.0.1:{port}/a.jpg"),
        "http://user:baseP4ss@no-such-host.invalid/a.jpg".to_owned(),
    ] {
        let e = get(&open, &key).unwrap_err();
        assert!(!e.to_string().contains("baseP4ss"), "{key}: {e}");
        assert!(e.to_string().contains("user:***@"), "{key}: {e}");
    }
}

#[test]
fn each_class_can_be_lifted_and_networks_added() {
    let _shared = shared();
    let origin = Origin::start();
    let url = origin.url("/ok");
    assert_eq!(
        get(&loader(&Options::default()), &url)
            .unwrap_err()
            .status(),
        403
    );
    assert!(get(&loader(&local()), &url).is_ok());
    let extra = Options {
        http_loader_block_networks: vec!["127.0.0.0/8".into()],
        ..local()
    };
    let e = get(&loader(&extra), &url).unwrap_err();
    assert!(e.message().contains("address in a blocked network"), "{e}");
    // Lifting loopback lifts nothing else.
    let l = loader(&local());
    assert_eq!(
        get(&l, "http://169.254.169.254/").unwrap_err().status(),
        403
    );
    assert_eq!(get(&l, "http://10.0.0.1/").unwrap_err().status(), 403);
}

#[test]
fn redirects_are_checked_at_every_hop() {
    let _shared = shared();
    let origin = Origin::start();
    let canary = Canary::start();
    let redirect_to = |to: &str| origin.url(&format!("/redirect?to={to}"));
    // Allowed origin (loopback lifted, only 127.0.0.1 allowed as a host),
    // redirected to another loopback address: the allowed sources are
    // checked again.
    let only_origin = Options {
        http_loader_allowed_sources: vec![origin.host()],
        ..local()
    };
    let l = loader(&only_origin);
    assert!(get(&l, &redirect_to(&origin.url("/ok"))).is_ok());
    let e = get(
        &l,
        &redirect_to(&format!("http://127.0.0.1:{}/x", canary.port)),
    )
    .unwrap_err();
    assert_eq!(e, Error::SourceNotAllowed);
    // The address policy is checked again: with 127.0.0.2 blocked, a hop
    // there (directly, mapped, or by name) is refused.
    let l = loader(&Options {
        http_loader_block_networks: vec!["127.0.0.2/32".into()],
        ..local()
    });
    for to in [
        format!("http://127.0.0.2:{}/x", canary.port),
        format!("http://[::ffff:127.0.0.2]:{}/x", canary.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let e = get(&l, &redirect_to(&to)).unwrap_err();
        assert_eq!(e.status(), 403, "{to}: {e}");
    }
    // At most 10 hops.
    let e = get(&loader(&local()), &origin.url("/loop")).unwrap_err();
    assert!(e.message().starts_with("stopped after 10 redirects"), "{e}");
    assert_eq!(canary.hits(), 0);
    // A hop to another scheme is Go's client error (500), not imagor's
    // `invalid`, which made a signed request retry unescaped and then fail
    // as a signature mismatch (403).
    let signed = Imagor::new(Options {
        unsafe_: false,
        secret: "s3cret".into(),
        ..local()
    })
    .unwrap();
    for to in ["file:///etc/passwd", "ftp://127.0.0.1/x"] {
        let path = format!("fit-in/10x10/{}", redirect_to(to));
        let hash = signed.sign(&path).unwrap();
        let e = signed.serve(&format!("{hash}/{path}")).unwrap_err();
        assert_eq!(e.status(), 500, "{to}: {e}");
        assert!(
            e.message().contains("unsupported protocol scheme"),
            "{to}: {e}"
        );
    }
    // So is a hop to a host Go cannot parse (a 400 for a key of its own).
    let path = format!("fit-in/10x10/{}", redirect_to("http://a{b}/x"));
    let hash = signed.sign(&path).unwrap();
    let e = signed.serve(&format!("{hash}/{path}")).unwrap_err();
    assert_eq!(e.status(), 500, "{e}");
    assert!(
        e.message().starts_with("failed to parse Location header"),
        "{e}"
    );
}

#[test]
fn a_50_mb_body_without_length_stops_at_the_limit_with_bounded_memory() {
    let _serial = SERIAL.write().unwrap_or_else(|p| p.into_inner());
    let origin = Origin::start();
    let l = loader(&Options {
        http_loader_max_allowed_size: 1 << 20,
        ..local()
    });
    // Warm up (runtime, client, first connection) before measuring.
    get(&l, &origin.url("/ok")).unwrap();
    let before = rss_kib();
    let started = std::time::Instant::now();
    let e = get(&l, &origin.url("/big?n=52428800")).unwrap_err();
    let grew = rss_kib().saturating_sub(before);
    assert_eq!(e, Error::MaxSizeExceeded);
    assert_eq!(e.status(), 400);
    assert_eq!(e.message(), "maximum size exceeded");
    assert!(started.elapsed() < Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let written = origin.big_written.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "50 MB body, 1 MB limit: RSS grew {grew} KiB; origin wrote {written} bytes before the cut"
    );
    assert!(grew < 16 * 1024, "RSS grew {grew} KiB");
    assert!(written < 50 << 20, "the whole body was sent: {written}");
    // A Content-Length over the limit is refused before the body.
    let e = get(&l, &origin.url("/big-cl?n=52428800")).unwrap_err();
    assert_eq!(e, Error::MaxSizeExceeded);
    // Within the limit: fine.
    assert_eq!(
        get(&l, &origin.url("/big?n=1000")).unwrap().data.len(),
        1000
    );
    assert_eq!(
        get(&l, &origin.url("/big?n=1048576")).unwrap().data.len(),
        1 << 20
    );
}

#[test]
fn a_gzip_bomb_is_cut_after_decompression() {
    let _serial = SERIAL.write().unwrap_or_else(|p| p.into_inner());
    let origin = Origin::start();
    let l = loader(&Options {
        http_loader_max_allowed_size: 1 << 20,
        ..local()
    });
    get(&l, &origin.url("/ok")).unwrap();
    let before = rss_kib();
    assert_eq!(
        get(&l, &origin.url("/gzip-bomb")),
        Err(Error::MaxSizeExceeded)
    );
    let grew = rss_kib().saturating_sub(before);
    println!("gzip bomb (32 MB of zeros, ~140 KB on the wire), 1 MB limit: RSS grew {grew} KiB");
    assert!(grew < 16 * 1024, "RSS grew {grew} KiB");
    // gzip is decoded: a limit of 64 MB reads all of it.
    let open = loader(&Options {
        http_loader_max_allowed_size: 64 << 20,
        ..local()
    });
    assert_eq!(
        get(&open, &origin.url("/gzip-bomb")).unwrap().data.len(),
        32 << 20
    );
}

#[test]
fn without_a_size_limit_a_body_is_still_cut_at_max_memory() {
    let _serial = SERIAL.write().unwrap_or_else(|p| p.into_inner());
    let origin = Origin::start();
    // imagor's default: no http_loader_max_allowed_size. The body is held
    // in memory, so max_memory bounds it instead (an origin that never
    // stops sending, a gzip bomb, a Content-Length of a terabyte).
    let l = loader(&Options {
        max_memory: 4 << 20,
        ..local()
    });
    get(&l, &origin.url("/ok")).unwrap();
    let before = rss_kib();
    for path in ["/big?n=52428800", "/big-cl?n=52428800", "/gzip-bomb"] {
        let e = get(&l, &origin.url(path)).unwrap_err();
        assert_eq!(e.status(), 422, "{path}: {e}");
        assert_eq!(e.code(), "limit_exceeded", "{path}");
        assert_eq!(
            e.message(),
            "the image body from the HTTP loader is larger than max_memory (4 MiB)",
            "{path}"
        );
    }
    let grew = rss_kib().saturating_sub(before);
    println!("50 MB bodies and a 32 MB gzip bomb, max_memory 4 MiB: RSS grew {grew} KiB");
    assert!(grew < 24 * 1024, "RSS grew {grew} KiB");
    // Within max_memory: whole.
    assert_eq!(
        get(&l, &origin.url("/big?n=4194304")).unwrap().data.len(),
        4 << 20
    );
    // The size limit, when set, is imagor's and takes precedence.
    let sized = loader(&Options {
        max_memory: 4 << 20,
        http_loader_max_allowed_size: 64 << 20,
        ..local()
    });
    assert_eq!(
        get(&sized, &origin.url("/gzip-bomb")).unwrap().data.len(),
        32 << 20
    );
    // max_memory 0 turns the bound off, as everywhere.
    let open = loader(&Options {
        max_memory: 0,
        ..local()
    });
    assert_eq!(
        get(&open, &origin.url("/gzip-bomb")).unwrap().data.len(),
        32 << 20
    );
}

#[test]
fn accept_is_sent_and_checked_against_the_content_type() {
    let _shared = shared();
    let origin = Origin::start();
    let l = loader(&Options {
        http_loader_accept: "image/*".into(),
        ..local()
    });
    assert!(get(&l, &origin.url("/image/gopher.png")).is_ok());
    assert_eq!(get(&l, &origin.url("/text")), Err(Error::unsupported()));
    assert_eq!(get(&l, &origin.url("/text")).unwrap_err().status(), 406);
    assert!(origin
        .seen()
        .iter()
        .all(|s| s.header("accept") == Some("image/*")));
}

#[test]
fn headers_are_forwarded_as_configured() {
    let _shared = shared();
    let origin = Origin::start();
    let mut req = Request::get("/unsafe/x");
    req.headers = vec![
        ("user-agent".into(), "browser/1".into()),
        ("x-test".into(), "yes".into()),
        ("cookie".into(), "a=b".into()),
        ("authorization".into(), "Bearer t".into()),
        ("host".into(), "evil.example".into()),
        ("accept-encoding".into(), "br".into()),
    ];
    let body = |o: &Options| {
        let blob = get_with(&loader(o), &req, &origin.url("/headers")).unwrap();
        String::from_utf8(blob.data.to_vec()).unwrap()
    };
    let named = body(&Options {
        http_loader_forward_headers: vec!["X-Test,Cookie".into(), "Host".into()],
        ..local()
    });
    assert!(named.contains("x-test: yes"), "{named}");
    assert!(named.contains("cookie: a=b"), "{named}");
    assert!(named.contains("user-agent: imagor/1.9.5"), "{named}");
    assert!(!named.contains("evil.example"), "{named}");
    let all = body(&Options {
        http_loader_forward_client_headers: true,
        ..local()
    });
    assert!(all.contains("user-agent: browser/1"), "{all}");
    assert!(all.contains("x-test: yes"), "{all}");
    for absent in [
        "cookie",
        "authorization",
        "evil.example",
        "accept-encoding: br",
    ] {
        assert!(!all.contains(absent), "{absent} forwarded: {all}");
    }
    let none = body(&local());
    assert!(!none.contains("x-test"), "{none}");
}

#[test]
fn override_response_headers_reach_the_image_response() {
    let _shared = shared();
    let origin = Origin::start();
    let imagor = Imagor::new(Options {
        http_loader_override_response_headers: vec!["cache-control,X-Origin".into()],
        ..local()
    })
    .unwrap();
    for filters in ["filters:raw()/", "fit-in/20x20/"] {
        let path = format!("/unsafe/{filters}{}", origin.url("/cache/gopher.png"));
        let res = imagor.handle(&Request::get(&path));
        assert_eq!(
            res.status,
            200,
            "{path}: {:?}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.header("Cache-Control"), Some("max-age=1234"));
        assert_eq!(res.header("X-Origin"), Some("test-origin"));
        assert_eq!(res.header("Set-Cookie"), None);
    }
    let plain = Imagor::new(local()).unwrap();
    let res = plain.handle(&Request::get(&format!(
        "/unsafe/{}",
        origin.url("/cache/gopher.png")
    )));
    assert_eq!(res.status, 200);
    assert!(res.header("Cache-Control").unwrap().starts_with("public"));
    assert_eq!(res.header("X-Origin"), None);
}

#[test]
fn base_url_and_default_scheme() {
    let _shared = shared();
    let origin = Origin::start();
    let l = loader(&Options {
        http_loader_base_url: origin.url("/image"),
        ..local()
    });
    assert_eq!(
        get(&l, "gopher.png").unwrap().data.as_ref(),
        testdata("gopher.png").as_slice()
    );
    let http = loader(&Options {
        http_loader_default_scheme: "http".into(),
        ..local()
    });
    assert!(get(&http, &format!("{}/ok", origin.host())).is_ok());
    let nil = loader(&Options {
        http_loader_default_scheme: "nil".into(),
        ..local()
    });
    assert_eq!(
        get(&nil, &format!("{}/ok", origin.host())),
        Err(Error::invalid())
    );
    assert!(get(&nil, &origin.url("/ok")).is_ok());
    for bad in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1/",
        "dict://127.0.0.1/",
    ] {
        let e = get(&loader(&local()), bad).unwrap_err();
        assert!(matches!(e.status(), 400 | 403), "{bad}: {e}");
    }
}

#[test]
fn allowed_sources_globs_and_regexp() {
    let _shared = shared();
    let origin = Origin::start();
    let port = origin.addr.port();
    let glob = loader(&Options {
        http_loader_allowed_sources: vec!["*.example.com".into(), "127.0.0.1:*".into()],
        ..local()
    });
    assert!(get(&glob, &origin.url("/ok")).is_ok());
    let other = loader(&Options {
        http_loader_allowed_sources: vec!["*.example.com".into()],
        ..local()
    });
    assert_eq!(
        get(&other, &origin.url("/ok")),
        Err(Error::SourceNotAllowed)
    );
    let re = loader(&Options {
        http_loader_allowed_source_regexp: format!(r"^http://127\.0\.0\.1:{port}/image/"),
        ..local()
    });
    assert!(get(&re, &origin.url("/image/gopher.png")).is_ok());
    assert_eq!(get(&re, &origin.url("/ok")), Err(Error::SourceNotAllowed));
    // OR-combined.
    let both = loader(&Options {
        http_loader_allowed_sources: vec!["*.example.com".into()],
        http_loader_allowed_source_regexp: format!(r"^http://127\.0\.0\.1:{port}/ok$"),
        ..local()
    });
    assert!(get(&both, &origin.url("/ok")).is_ok());
    assert_eq!(
        get(&both, &origin.url("/text")),
        Err(Error::SourceNotAllowed)
    );
}

#[test]
fn a_proxy_never_reaches_a_refused_target() {
    let _shared = shared();
    let origin = Origin::start();
    let canary = Canary::start();
    // The canary is the proxy: nothing refused may even reach it.
    let via_canary = Options {
        http_loader_proxy_urls: vec![format!("http://127.0.0.1:{}", canary.port)],
        ..Options::default()
    };
    let l = loader(&via_canary);
    for target in [
        "http://127.0.0.1:9/x".to_owned(),
        "http://localhost/x".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        assert_eq!(get(&l, &target).unwrap_err().status(), 403, "{target}");
    }
    let named = loader(&via_canary)
        .with_resolver(Arc::new(Table(vec![(
            "internal.test",
            "10.1.2.3".parse().unwrap(),
        )])))
        .unwrap();
    let e = get(&named, "http://internal.test/x").unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    assert_eq!(canary.hits(), 0);
    // An allowed target goes through the proxy (the origin serves as one):
    // the name is resolved and checked here, and resolved again by the proxy.
    let through_origin = loader(&Options {
        http_loader_proxy_urls: vec![format!("http://{}", origin.host())],
        ..Options::default()
    })
    .with_resolver(Arc::new(Table(vec![(
        "images.test",
        "203.0.113.7".parse().unwrap(),
    )])))
    .unwrap();
    let blob = get(&through_origin, "http://images.test/image/gopher.png").unwrap();
    assert_eq!(blob.data.as_ref(), testdata("gopher.png").as_slice());
    assert!(origin
        .seen()
        .iter()
        .any(|s| s.target == "http://images.test/image/gopher.png"));
    // Proxy allowed sources: other hosts go direct (and are checked there).
    let selective = loader(&Options {
        http_loader_proxy_urls: vec![format!("http://{}", origin.host())],
        http_loader_proxy_allowed_sources: vec!["*.cdn.test".into()],
        ..Options::default()
    })
    .with_resolver(Arc::new(Table(vec![(
        "direct.test",
        "127.0.0.1".parse().unwrap(),
    )])))
    .unwrap();
    assert_eq!(
        get(&selective, "http://direct.test/ok")
            .unwrap_err()
            .status(),
        403
    );
    // A proxy named by a host name on a refused network: only connections
    // to the proxy are exempt. A direct request to that name, on any port,
    // is checked like any other (before: served, the policy skipped).
    let port = origin.host().rsplit(':').next().unwrap().to_owned();
    let named_proxy = loader(&Options {
        http_loader_proxy_urls: vec![format!("http://proxy.test:{port}")],
        http_loader_proxy_allowed_sources: vec!["*.cdn.test".into()],
        ..Options::default()
    })
    .with_resolver(Arc::new(Table(vec![
        ("proxy.test", "127.0.0.1".parse().unwrap()),
        ("img.cdn.test", "203.0.113.7".parse().unwrap()),
    ])))
    .unwrap();
    let before = origin.seen().len();
    let direct = format!("http://proxy.test:{port}/image/gopher.png");
    assert_eq!(get(&named_proxy, &direct).unwrap_err().status(), 403);
    assert_eq!(origin.seen().len(), before, "the direct request reached it");
    // Through the proxy, its name still resolves to the refused address.
    let blob = get(&named_proxy, "http://img.cdn.test/image/gopher.png").unwrap();
    assert_eq!(blob.data.as_ref(), testdata("gopher.png").as_slice());
}

#[test]
fn overlays_obey_the_same_policy() {
    let _shared = shared();
    let canary = Canary::start();
    let origin = Origin::start();
    let base = Options {
        unsafe_: true,
        process_timeout: Duration::from_secs(60),
        file_loader_base_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .to_string_lossy()
            .into_owned(),
        ..Options::default()
    };
    let imagor = Imagor::new(base.clone()).unwrap();
    for overlay in [
        format!("watermark(http://127.0.0.1:{}/x.png,0,0,0)", canary.port),
        "watermark(http://169.254.169.254/x.png,0,0,0)".to_owned(),
        format!("image(/unsafe/http://localhost:{}/x.png,0,0)", canary.port),
    ] {
        let path = format!("unsafe/filters:{overlay}/gopher.png");
        let e = imagor.serve(&path).unwrap_err();
        assert_eq!(e.status(), 403, "{path}: {e}");
    }
    assert_eq!(canary.hits(), 0);
    // Lifted, the same overlay loads from the local origin.
    let lifted = Imagor::new(Options {
        http_loader_block_loopback_networks: false,
        ..base
    })
    .unwrap();
    let path = format!(
        "unsafe/filters:watermark({},0,0,0)/gopher.png",
        origin.url("/image/gopher.png")
    );
    let r = lifted.serve(&path);
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn load_timeouts_answer_408() {
    let _shared = shared();
    let origin = Origin::start();
    let imagor = Imagor::new(Options {
        load_timeout: Duration::from_millis(10),
        ..local()
    })
    .unwrap();
    let path = format!("unsafe/filters:raw()/{}", origin.url("/sleep"));
    assert_eq!(
        imagor.serve(&path).unwrap_err(),
        Error::Timeout("timeout: load took longer than 10ms".into())
    );
    // A fast origin within its load timeout (not 10 ms: that races on a
    // loaded machine) is served.
    let fast = Imagor::new(Options {
        load_timeout: Duration::from_secs(5),
        ..local()
    })
    .unwrap();
    let path = format!("unsafe/filters:raw()/{}", origin.url("/ok"));
    assert_eq!(fast.serve(&path).unwrap().data, b"ok");
    let request = Imagor::new(Options {
        request_timeout: Duration::from_millis(10),
        ..local()
    })
    .unwrap();
    let path = format!("unsafe/filters:raw()/{}", origin.url("/sleep"));
    assert_eq!(request.serve(&path).unwrap_err().status(), 408);
}

#[test]
fn a_load_given_up_aborts_its_fetch() {
    let _shared = shared();
    let origin = Origin::start();
    let imagor = Imagor::new(Options {
        load_timeout: Duration::from_millis(300),
        ..local()
    })
    .unwrap();
    // The origin sends a little every 20 ms for 30 s: only the loader
    // closing the connection ends the response early.
    let path = format!("unsafe/filters:raw()/{}", origin.url("/drip"));
    let e = imagor.serve(&path).unwrap_err();
    assert_eq!(e.status(), 408, "{e}");
    assert!(
        origin.drips_end_within(Duration::from_secs(10)),
        "the origin is still sending: the fetch was not aborted"
    );
    let stats = imagor.stats().http;
    assert_eq!((stats.fetches, stats.cancelled, stats.fetched), (1, 1, 0));
    assert!(stats.bytes > 0, "{stats:?}");
}

#[test]
fn the_loader_counts_its_fetches_and_failures() {
    let _shared = shared();
    let origin = Origin::start();
    let canary = Canary::start();
    let imagor = Imagor::new(Options {
        http_loader_max_allowed_size: 1000,
        http_loader_allowed_sources: vec![origin.host(), "127.0.0.2:*".into()],
        ..local()
    })
    .unwrap();
    let serve = |url: String| imagor.serve(&format!("unsafe/filters:raw()/{url}"));
    assert!(serve(origin.url("/ok")).is_ok());
    let blocked = Imagor::new(Options {
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    let e = blocked
        .serve(&format!("unsafe/http://127.0.0.1:{}/x.jpg", canary.port))
        .unwrap_err();
    assert_eq!(e.status(), 403);
    assert_eq!(blocked.stats().http.blocked, 1);
    assert_eq!(
        serve("http://example.com/x.jpg".into())
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        serve(origin.url("/big/5000")).unwrap_err(),
        Error::MaxSizeExceeded
    );
    let nothing = serve(origin.url("/nothing")).unwrap_err();
    assert_eq!(
        (nothing.status(), nothing.message()),
        (404, "Not Found".to_owned())
    );
    assert_eq!(serve(origin.url("/status/500")).unwrap_err().status(), 500);
    let s = imagor.stats().http;
    assert_eq!(
        (s.fetched, s.not_allowed, s.too_large, s.not_found, s.failed),
        (1, 1, 1, 1, 1),
        "{s:?}"
    );
    // Refused by the allowed sources before any request: not a fetch.
    assert_eq!(s.fetches, 4, "{s:?}");
    assert!(s.bytes >= 2, "{s:?}");
    assert_eq!(canary.hits(), 0);
}

#[test]
fn options_that_do_not_parse_fail_at_startup() {
    let _shared = shared();
    for (o, field) in [
        (
            Options {
                http_loader_allowed_source_regexp: "(".into(),
                ..Options::default()
            },
            "http_loader_allowed_source_regexp",
        ),
        (
            Options {
                http_loader_base_url: "not a url".into(),
                ..Options::default()
            },
            "http_loader_base_url",
        ),
        (
            Options {
                http_loader_block_networks: vec!["10.0.0.0/8,foo".into()],
                ..Options::default()
            },
            "http_loader_block_networks",
        ),
        (
            Options {
                http_loader_proxy_urls: vec!["::".into()],
                ..Options::default()
            },
            "http_loader_proxy_urls",
        ),
    ] {
        let e = Imagor::new(o.clone()).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains(field), "{e}");
        assert!(o.validate().is_err());
    }
    // Disabled, the HTTP options are not looked at, and URLs are not loaded.
    let off = Imagor::new(Options {
        http_loader_disable: true,
        http_loader_allowed_source_regexp: "(".into(),
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    assert_eq!(
        off.serve("unsafe/http://127.0.0.1:9/x.jpg").unwrap_err(),
        Error::not_found("http://127.0.0.1:9/x.jpg")
    );
    // JSON (the C ABI's form) takes the same fields.
    let o = Options::from_json(
        r#"{"http_loader_allowed_sources":["*.example.com"],"http_loader_block_loopback_networks":false,"load_timeout":"5s"}"#,
    )
    .unwrap();
    assert!(!o.http_loader_block_loopback_networks);
    assert_eq!(o.load_timeout, Duration::from_secs(5));
}

#[test]
fn loads_work_from_any_thread_and_inside_other_runtimes() {
    let _shared = shared();
    let origin = Origin::start();
    let l = loader(&local());
    let url = origin.url("/image/gopher.png");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (l, url) = (l.clone(), url.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    assert!(get(&l, &url).is_ok());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // From inside a foreign tokio runtime's task (the loader's runtime is
    // its own).
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let blob = rt.block_on(async { l.get(LoadContext::default(), &url).await });
    assert!(blob.is_ok());
}

/// A source URL that the storages' cleaning (Go's `path.Clean`) maps onto
/// another image's key is never saved there: `http://EVIL/x/../../VICTIM/a`
/// is fetched from EVIL, and `http://VICTIM/up//../a` as `/up/a`, but both
/// clean to the key of `http://VICTIM/a`. Saved, the attacker's bytes
/// were what every later request for the victim's image got.
#[test]
fn a_source_is_never_stored_under_another_images_key() {
    use std::io::{Read, Write};
    let _shared = shared();
    let victim = Origin::start();
    // An origin that answers every path with demo1.jpg (200x200).
    let evil = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let evil_addr = evil.local_addr().unwrap();
    let jpeg = testdata("demo1.jpg");
    std::thread::spawn(move || {
        for mut s in evil.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                jpeg.len()
            );
            let _ = s.write_all(&jpeg);
        }
    });
    let store = std::env::temp_dir().join(format!("imagor-http-poison-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let imagor = Imagor::new(Options {
        file_storage_base_dir: store.to_string_lossy().into_owned(),
        ..local()
    })
    .unwrap();
    let width = |image: &str| -> i64 {
        let out = imagor.serve(&format!("unsafe/meta/{image}")).unwrap();
        let meta: serde_json::Value = serde_json::from_slice(&out.data).unwrap();
        meta["width"].as_i64().unwrap()
    };
    let gopher = testdata("gopher.png");
    let gopher_width = imagor.meta(&gopher, "").unwrap().width as i64;
    let host = victim.host();
    let climbing = format!("http://{evil_addr}/x/../../{host}/image/gopher.png");
    assert_eq!(width(&climbing), 200, "the attacker's own image");
    for _ in 0..2 {
        assert_eq!(width(&victim.url("/image/gopher.png")), gopher_width);
    }
    let _ = std::fs::remove_dir_all(&store);
}
