//! What a failed request says: imagor's status and Go's wording for the
//! usual failures (a refused address, a failed lookup, TLS, a refused
//! connection), with any password in the URL shown as `***`.

use url::Url;

use super::resolver::LookupFailed;
use super::Blocked;
use crate::error::Error;

/// `url` as errors show it: a password in it is `***`, as Go's HTTP
/// client shows it (errors reach the client's response body and logs).
pub(super) fn shown(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// Library error text with every copy of `url` in it shown as [`shown`].
pub(super) fn scrubbed(text: &str, url: &Url) -> String {
    if url.password().is_none() {
        return text.to_owned();
    }
    text.replace(url.as_str(), &shown(url))
}

/// A 403 for a refused address.
pub(super) fn blocked(b: Blocked, url: &Url) -> Error {
    let url = shown(url);
    Error::Status {
        message: format!("unauthorized request: {b} blocked: {url}"),
        status: 403,
    }
}

/// What the source chain of a failed request says beyond its text.
#[derive(Default)]
struct Causes {
    /// The address policy refused the address.
    blocked: Option<Blocked>,
    /// The resolver's answer (no such host ...).
    lookup: Option<String>,
    /// The TLS handshake failed (an untrusted certificate ...).
    tls: Option<String>,
    /// The socket itself failed (connection refused, unreachable ...).
    os: Option<String>,
}

/// The messages of an error and its sources, joined by `: `, and the
/// causes [`request_error`] tells apart.
fn chain(e: &(dyn std::error::Error + 'static)) -> (String, Causes) {
    let mut parts = vec![e.to_string()];
    let mut causes = Causes::default();
    let mut cur = e.source();
    while let Some(s) = cur {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            causes.blocked = Some(*b);
        }
        if let Some(l) = s.downcast_ref::<LookupFailed>() {
            causes.lookup = Some(l.to_string());
        }
        if let Some(t) = rustls_error(s) {
            causes.tls = Some(tls_message(t));
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.raw_os_error().is_some() {
                causes.os = Some(io.to_string());
            }
        }
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    (parts.join(": "), causes)
}

/// The messages of `e` and its sources, joined by `: `.
pub(super) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    chain(e).0
}

/// The rustls error `e` is or wraps. It travels inside io::Errors (nested:
/// the TLS stream's, then the connector's), whose `source()` skips what
/// they wrap.
pub(super) fn rustls_error<'a>(
    mut e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    loop {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        e = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// A failed TLS handshake in the words of Go's `crypto/tls` for the usual
/// certificate failures, rustls' otherwise.
pub(super) fn tls_message(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let x509 = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => Some("certificate signed by unknown authority"),
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => Some("certificate has expired or is not yet valid"),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                Some("certificate is not valid for this name")
            }
            _ => None,
        },
        _ => None,
    };
    match x509 {
        Some(m) => format!("tls: failed to verify certificate: x509: {m}"),
        None => format!("tls: {e}"),
    }
}

/// imagor's 404 for an origin that cannot be reached (`dial tcp: ...`).
pub(super) fn dial_error(detail: &str, url: &Url) -> Error {
    let url = shown(url);
    Error::Status {
        message: format!("dial tcp: {detail}: {url}"),
        status: 404,
    }
}

/// Map a reqwest error as imagor maps Go's: a refused address is 403, a
/// timeout 408, a failed name lookup 404 (`dial tcp: ...`), the rest
/// (a refused connection, a failed TLS handshake) 500.
pub(super) fn request_error(e: &reqwest::Error, url: &Url) -> Error {
    if e.is_builder() {
        if let Some(refused) = unsendable_host(url) {
            return refused;
        }
    }
    let (text, causes) = chain(e);
    let text = scrubbed(&text, url);
    if let Some(b) = causes.blocked {
        return blocked(b, url);
    }
    if let Some(lookup) = causes.lookup {
        return dial_error(&lookup, url);
    }
    if let Some(tls) = causes.tls {
        // Go's error is no `dial tcp` one: imagor answers 500.
        return Error::Internal(format!("Get \"{}\": {}", shown(url), scrubbed(&tls, url)));
    }
    if e.is_timeout() {
        return Error::timeout();
    }
    if let (true, Some(os)) = (e.is_connect(), &causes.os) {
        // Go says `dial tcp ADDR: connect: connection refused`, which has
        // no `dial tcp: ` in it: imagor answers 500 (only a failed name
        // lookup is its 404).
        let addr = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(80)
        );
        return Error::Internal(format!(
            "Get \"{}\": dial tcp {addr}: connect: {}",
            shown(url),
            go_errno(os)
        ));
    }
    if e.is_connect() {
        // A name that cannot be looked up at all (`invalid dns name`).
        let detail = text.rsplit(": ").next().unwrap_or(&text).to_owned();
        return dial_error(&detail, url);
    }
    Error::Internal(format!("Get \"{}\": {text}", shown(url)))
}

/// A host the URL standard takes but no request can carry (`a"b.png`,
/// `a{b}.png`: outside RFC 3986's host characters), which reqwest refuses
/// to build a request for: a 500 before. Go's `net/url` refuses `{`, `}`
/// and `` ` `` in a host (imagor's 400; a redirect to one is refused
/// before it is followed) and takes `"`, which no name lookup then finds
/// (imagor's 404).
fn unsendable_host(url: &Url) -> Option<Error> {
    let host = url.host_str()?;
    let sendable = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:[]%".contains(c);
    if host.chars().all(sendable) {
        return None;
    }
    if host.contains(['{', '}', '`']) {
        return Some(Error::invalid());
    }
    Some(dial_error(&format!("lookup {host}: no such host"), url))
}

/// An OS error as Go prints it: `Connection refused (os error 111)` is
/// `connection refused`.
pub(super) fn go_errno(detail: &str) -> String {
    let text = detail.split(" (os error").next().unwrap_or(detail);
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
