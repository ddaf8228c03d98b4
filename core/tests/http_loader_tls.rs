//! The HTTP loader over TLS, against an HTTPS origin on 127.0.0.1 whose
//! certificate a test CA signed (`core/tests/data/tls`): refused while
//! nothing trusts that CA, fetched with
//! `http_loader_insecure_skip_verify_transport`, and fetched once
//! `SSL_CERT_FILE` names the CA, since the system's roots are the trust
//! store (as in Go's imagor).
//!
//! One test, because it sets `SSL_CERT_FILE` for the whole process: this
//! file is a test binary of its own. Run: `cargo test -p imagor --test
//! http_loader_tls`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use imagor::loader::http::{HttpLoader, Resolver};
use imagor::loader::{BoxFuture, LoadContext, Loader};
use imagor::{Blob, Error, Options};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

fn gopher() -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/gopher.png"))
        .expect("testdata/gopher.png")
}

/// An HTTPS origin answering every request with `body` as a PNG, with the
/// test CA's `localhost` / `127.0.0.1` certificate. Returns its port.
fn https_origin(body: Vec<u8>) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(data("localhost.pem"))
        .expect("localhost.pem")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(data("localhost.key")).expect("localhost.key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, body) = (config.clone(), body.clone());
            std::thread::spawn(move || serve(config, stream, &body));
        }
    });
    port
}

/// One connection: read the request head, answer, close. A client that
/// refuses the certificate ends the handshake, and so this, with an error.
fn serve(config: Arc<rustls::ServerConfig>, stream: TcpStream, body: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    let _ = tls.write_all(&response);
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// `localhost` is 127.0.0.1 (the certificate's DNS name). Each instance
/// (while alive) is another resolver, and so gets another HTTP client.
struct Localhost;

impl Resolver for Localhost {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        let found = if host == "localhost" {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        } else {
            Vec::new()
        };
        Box::pin(async move { Ok(found) })
    }
}

/// Options whose HTTP loader may reach the local origin.
fn local(insecure: bool) -> Options {
    Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        http_loader_insecure_skip_verify_transport: insecure,
        ..Options::default()
    }
}

fn get(loader: &HttpLoader, url: &str) -> Result<Blob, Error> {
    pollster::block_on(loader.get(LoadContext::default(), url))
}

#[test]
fn https_sources_are_checked_against_the_system_roots() {
    let body = gopher();
    let port = https_origin(body.clone());
    let by_ip = format!("https://127.0.0.1:{port}/gopher.png");
    let by_name = format!("https://localhost:{port}/gopher.png");

    // Go's words, and imagor's 500 for them.
    let unknown_authority = format!(
        "Get \"{by_ip}\": tls: failed to verify certificate: x509: certificate signed by unknown \
         authority"
    );

    // The system's roots (or, on a machine without any, Mozilla's) do not
    // include the test CA.
    std::env::remove_var("SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_DIR");
    let strict = HttpLoader::new(&local(false)).expect("loader");
    let refused = get(&strict, &by_ip).expect_err("an untrusted certificate is refused");
    assert_eq!(refused.to_string(), unknown_authority);
    assert_eq!(refused.status(), 500);

    // No system roots at all: Mozilla's, built in. The loader still builds
    // (a client on the platform verifier alone would not) and refuses the
    // test CA alike. Another resolver, so another client.
    std::env::set_var("SSL_CERT_FILE", "/nonexistent/roots.pem");
    std::env::set_var("SSL_CERT_DIR", "/nonexistent");
    let bundled = HttpLoader::new(&local(false))
        .expect("loader")
        .with_resolver(Arc::new(Localhost))
        .expect("a loader without system roots");
    let refused = get(&bundled, &by_ip).expect_err("an untrusted certificate is refused");
    assert_eq!(refused.to_string(), unknown_authority);
    std::env::remove_var("SSL_CERT_DIR");

    // imagor's -http-loader-insecure-skip-verify-transport.
    let insecure = HttpLoader::new(&local(true)).expect("loader");
    let blob = get(&insecure, &by_ip).expect("insecure transport accepts it");
    assert_eq!(blob.data.as_ref(), &body[..]);

    // A root store naming the test CA (a new client: another resolver).
    std::env::set_var("SSL_CERT_FILE", data("ca.pem"));
    let trusting = HttpLoader::new(&local(false))
        .expect("loader")
        .with_resolver(Arc::new(Localhost))
        .expect("loader with resolver");
    let blob = get(&trusting, &by_name).expect("the trusted CA's certificate is accepted");
    assert_eq!(blob.data.as_ref(), &body[..]);
    let blob = get(&trusting, &by_ip).expect("and its IP address SAN");
    assert_eq!(blob.data.as_ref(), &body[..]);
}
