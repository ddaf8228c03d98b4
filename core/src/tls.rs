//! TLS for every HTTP client of the core (the HTTP loader, S3, GCS): rustls
//! with the ring provider, server certificates checked against the
//! system's trusted roots as Go's imagor does (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` name others), and Mozilla's roots, built in, on a
//! machine that has none (a container without `ca-certificates`), where
//! Go would refuse every HTTPS source.

/// rustls needs a process-wide crypto provider; ring is the one the tree
/// builds. Called before any client is built; installing fails harmlessly
/// when the host installed one.
pub(crate) fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Does the system have trusted roots a client can use? For clients built
/// elsewhere (object_store's); checked at each such build (rare, and the
/// environment may change).
pub(crate) fn system_roots_usable() -> bool {
    install_crypto();
    reqwest::Client::builder().build().is_ok()
}

/// Mozilla's trusted roots, as DER certificates.
pub(crate) fn bundled_roots() -> impl Iterator<Item = &'static [u8]> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| c.as_ref())
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_roots_parse() {
        let n = super::bundled_roots()
            .filter(|der| reqwest::Certificate::from_der(der).is_ok())
            .count();
        assert!(n > 100, "{n} roots");
    }
}
