//! One load: the request headers, the request with redirects followed by
//! hand (each hop checked), the response checks and the body read under
//! the size limit. Runs on the network runtime.

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::failure::{blocked, dial_error, error_text, request_error, scrubbed, shown};
use super::resolver::{resolve_all_allowed, ResolveError};
use super::source::{content_type_accepted, is_allowed};
use super::{Inner, MAX_REDIRECTS, USER_AGENT};
use crate::arriving::Feed;
use crate::blob::{Blob, Stat};
use crate::budget::Holding;
use crate::error::{Error, Result};
use crate::request::Request;

/// Headers never forwarded from the client: hop-by-hop ones, those the
/// client library sets itself, and (for "forward all") credentials.
const NEVER_FORWARDED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "proxy-authorization",
    "accept-encoding",
    // The image is fetched whole: a client's range or condition would make
    // the origin answer part of it (206) or nothing (304), which was then
    // taken, stored and served to every later client as the image.
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "expect",
];

/// Credentials "forward all client headers" leaves out (name them in
/// `http_loader_forward_headers` to forward them).
const NOT_FORWARDED_BY_STAR: &[&str] = &["cookie", "authorization"];

/// Headers dropped when a redirect leaves the origin.
const CROSS_ORIGIN_DROPPED: &[&str] = &["authorization", "cookie", "proxy-authorization"];

fn header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    Some((
        HeaderName::from_bytes(name.as_bytes()).ok()?,
        HeaderValue::from_str(value).ok()?,
    ))
}

/// How this loader names itself in `Via` (RFC 9110's received-by
/// pseudonym), so that a fetch that comes back to an imagor-rs server
/// counts as one more hop ([`imagor_hops`]).
pub(super) const VIA_PSEUDONYM: &str = "imagor-rs";

/// The `Via` entries of `request` as one line (every `Via` line, joined),
/// or `None` without any.
pub(crate) fn via_of(request: &Request) -> Option<std::sync::Arc<str>> {
    let lines: Vec<&str> = request
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("via"))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", ").into())
}

/// The imagor-rs loaders a request with the `Via` line `via` has passed
/// through: its entries received by [`VIA_PSEUDONYM`].
pub(crate) fn hops_in(via: &str) -> usize {
    via.split(',')
        .filter(|entry| entry.split_whitespace().nth(1) == Some(VIA_PSEUDONYM))
        .count()
}

/// The imagor-rs loaders the request this fetch serves has passed through:
/// from `request`'s own `Via`, else from that of the request being served
/// on this thread (an overlay's fetch has no request of its own).
pub(super) fn imagor_hops(request: Option<&Request>) -> usize {
    let via = match request {
        Some(req) => via_of(req),
        None => crate::call::current().via,
    };
    via.map_or(0, |v| hops_in(&v))
}

/// imagor's `newRequest` headers: its user agent and `Accept`, then the
/// forwarded client headers (`*`: all of the client's, replacing those).
/// Ours: a `Via` line with one `1.1 imagor-rs` entry per imagor-rs loader
/// the request has passed through and one for this fetch, so that a fetch
/// that loops back to this server (an image URL that redirects to a path
/// loading that URL again) is seen as such. The client's other entries
/// (its proxies' names) are not passed on.
pub(super) fn request_headers(inner: &Inner, request: Option<&Request>) -> HeaderMap {
    let mut h = forwarded_headers(inner, request);
    let hops = imagor_hops(request).min(super::MAX_HOPS) + 1;
    let via = vec![format!("1.1 {VIA_PSEUDONYM}"); hops].join(", ");
    if let Some((n, v)) = header("via", &via) {
        h.insert(n, v);
    }
    h
}

/// [`request_headers`] before its `Via` line.
fn forwarded_headers(inner: &Inner, request: Option<&Request>) -> HeaderMap {
    let mut h = HeaderMap::new();
    let set = |h: &mut HeaderMap, name: &str, value: &str| {
        if let Some((n, v)) = header(name, value) {
            h.insert(n, v);
        }
    };
    set(&mut h, "user-agent", USER_AGENT);
    set(&mut h, "accept", &inner.accept);
    let Some(req) = request else {
        return h;
    };
    for name in &inner.forward {
        if name == "*" {
            h.clear();
            for (k, v) in &req.headers {
                let k = k.to_ascii_lowercase();
                if NEVER_FORWARDED.contains(&k.as_str())
                    || NOT_FORWARDED_BY_STAR.contains(&k.as_str())
                {
                    continue;
                }
                if let Some((n, v)) = header(&k, v) {
                    h.append(n, v);
                }
            }
            break;
        }
        if NEVER_FORWARDED.contains(&name.as_str()) {
            continue;
        }
        if let Some(v) = req.header(name) {
            set(&mut h, name, v);
        }
    }
    h
}

/// GET `url` and read the image, its bytes reserved in `holding` as they
/// come.
pub(super) async fn get(
    inner: &Inner,
    url: Url,
    headers: HeaderMap,
    holding: Holding,
) -> Result<Blob> {
    let (resp, final_url, mut blob) = respond(inner, url, headers).await?;
    let data = read_body(resp, inner, &final_url, &holding).await?;
    blob.data = holding.into_bytes(data)?;
    Ok(blob)
}

/// GET `url` and hand the image over as it arrives: the response checks
/// are done and the head returned (content type and passed-on headers,
/// no bytes); the bytes then go into `body` (through `arrive`) until
/// the end, a failure, or nobody reading ([`Error::Cancelled`]).
/// `settle` hears how the body ended just before its readers do.
pub(super) async fn open(
    inner: &Inner,
    url: Url,
    headers: HeaderMap,
    arrive: impl FnOnce(Blob, usize) -> Option<Feed>,
    settle: &impl Fn(&Result<()>),
) -> Result<()> {
    let (resp, final_url, head) = respond(inner, url, headers).await?;
    if let Some(n) = resp.content_length() {
        refuse_size(inner, n)?;
    }
    let Some(body) = arrive(head, capacity_hint(&resp, inner.max_size)) else {
        return Err(Error::Cancelled);
    };
    pump(resp, inner, &final_url, &body, settle).await
}

/// Send the request and check the response: status, content type (against
/// `Accept`), the headers to pass on. The blob has no bytes yet.
async fn respond(inner: &Inner, url: Url, headers: HeaderMap) -> Result<(Response, Url, Blob)> {
    let (resp, final_url) = send(inner, Method::GET, url, headers).await?;
    check_status(resp.status())?;
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // A missing Content-Type is let through (the bytes are sniffed);
    // imagor refuses it unless an Accept pattern matches "".
    if !content_type.is_empty() && !content_type_accepted(&content_type, &inner.accepts) {
        return Err(Error::unsupported());
    }
    let mut passed_on = Vec::new();
    for name in &inner.override_response {
        if let Some(v) = resp
            .headers()
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
        {
            if !v.is_empty() {
                passed_on.push((canonical(name), v.to_owned()));
            }
        }
    }
    let mut blob = Blob::default();
    if !content_type.is_empty() {
        blob.content_type = Some(content_type);
    }
    blob.headers = passed_on;
    Ok((resp, final_url, blob))
}

/// HEAD `url` for imagor's modified-time check: `NotFound` unless the
/// origin gives a `Last-Modified`.
pub(super) async fn stat(inner: Arc<Inner>, url: Url, headers: HeaderMap) -> Result<Stat> {
    let (resp, _) = send(&inner, Method::HEAD, url, headers).await?;
    check_status(resp.status())?;
    let h = resp.headers();
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let modified = text("last-modified")
        .and_then(|t| crate::serve::headers::parse_http_date(&t))
        .filter(|s| *s > 0)
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64))
        .ok_or(Error::NOT_FOUND)?;
    Ok(Stat {
        size: text("content-length")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        modified: Some(modified),
        etag: text("etag"),
    })
}

/// imagor: an origin status of 400 and up is the error, with Go's status
/// text (`NewErrorFromStatusCode`: a 404 is `Not Found`, not imagor's own
/// `not found`); anything below is a success.
fn check_status(status: StatusCode) -> Result<()> {
    // Only part of the image: never an image, whoever asked for the range.
    if status == StatusCode::PARTIAL_CONTENT {
        return Err(Error::from_status("Bad Gateway", 502));
    }
    if status.as_u16() >= 400 {
        let text = status.canonical_reason().unwrap_or("");
        return Err(Error::from_status(text, status.as_u16()));
    }
    Ok(())
}

/// `Cache-Control` for `cache-control` (Go's canonical header form).
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Check a hop's target before any connection: the scheme, an IP literal
/// against the policy, and for a proxied request the target's addresses
/// (the proxy resolves the name itself).
async fn check_target(inner: &Inner, url: &Url) -> Result<()> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(Error::invalid()),
    };
    if let Some(ip) = ip {
        return inner.policy.check(ip).map_err(|b| blocked(b, url));
    }
    if inner.proxied(url) {
        let host = url.host_str().unwrap_or("");
        match resolve_all_allowed(inner.resolver.as_ref(), &inner.policy, host).await {
            Ok(()) => {}
            Err(ResolveError::Blocked(b)) => return Err(blocked(b, url)),
            Err(ResolveError::Io(e)) => return Err(dial_error(&e.to_string(), url)),
        }
    }
    Ok(())
}

/// Send `method url`, following up to [`MAX_REDIRECTS`] redirects by hand:
/// each hop is checked against the allowed sources and the address policy
/// before it is requested. Returns the final response and its URL.
async fn send(
    inner: &Inner,
    mut method: Method,
    mut url: Url,
    mut headers: HeaderMap,
) -> Result<(Response, Url)> {
    let clients = inner.client()?;
    for hop in 0..=MAX_REDIRECTS {
        check_target(inner, &url).await?;
        let resp = clients
            .for_url(inner, &url)
            .request(method.clone(), url.clone())
            .headers(headers.clone())
            .send()
            .await
            .map_err(|e| request_error(&e, &url))?;
        let status = resp.status();
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            return Ok((resp, url));
        }
        let Some(location) = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok((resp, url));
        };
        if hop == MAX_REDIRECTS {
            break;
        }
        let unparsable = || Error::Status {
            message: format!(
                "failed to parse Location header {location:?}: {}",
                shown(&url)
            ),
            status: 500,
        };
        let mut next = url.join(location).map_err(|_| unparsable())?;
        // A host Go's `net/url` refuses (`{`, `}`, `` ` ``) is a Location
        // it cannot parse: its 500, not the 400 of a request's own key.
        if next.host_str().is_some_and(|h| h.contains(['{', '}', '`'])) {
            return Err(unparsable());
        }
        next.set_fragment(None);
        // Go's client answers a redirect elsewhere than http(s) with this
        // error (500); imagor's `invalid` would make the server retry the
        // request unescaped, and a signed one then fail its signature.
        if !matches!(next.scheme(), "http" | "https") {
            return Err(Error::Internal(format!(
                "Get \"{}\": unsupported protocol scheme \"{}\"",
                shown(&next),
                next.scheme()
            )));
        }
        if !is_allowed(&next, &inner.rules.allowed) {
            return Err(Error::SourceNotAllowed);
        }
        if next.origin() != url.origin() {
            for name in CROSS_ORIGIN_DROPPED {
                headers.remove(*name);
            }
        }
        if status == StatusCode::SEE_OTHER && method != Method::HEAD {
            method = Method::GET;
        }
        url = next;
    }
    Err(Error::Status {
        message: format!("stopped after {MAX_REDIRECTS} redirects: {}", shown(&url)),
        status: 500,
    })
}

/// Bytes to reserve for a body: its `Content-Length`, within the limit.
fn capacity_hint(resp: &Response, max: u64) -> usize {
    resp.content_length()
        .unwrap_or(0)
        .min(if max > 0 { max } else { 64 << 20 }) as usize
}

/// The next chunk of the (decoded) body; `None` at its end.
async fn next_chunk(resp: &mut Response, url: &Url) -> Result<Option<bytes::Bytes>> {
    resp.chunk().await.map_err(|e| {
        if e.is_timeout() {
            Error::timeout()
        } else {
            Error::Internal(format!(
                "Get \"{}\": {}",
                shown(url),
                scrubbed(&error_text(&e), url)
            ))
        }
    })
}

/// Read the (decoded) body, refusing it as soon as it passes the size
/// limit (0: none): at most that many bytes are ever kept. The bytes are
/// reserved in `holding` as they arrive, before they are allocated; a
/// `Content-Length` is checked up front but reserves nothing, so an origin
/// that announces much and sends little holds no room.
async fn read_body(
    mut resp: Response,
    inner: &Inner,
    url: &Url,
    holding: &Holding,
) -> Result<Vec<u8>> {
    if let Some(n) = resp.content_length() {
        refuse_size(inner, n)?;
        holding.expect(n)?;
    }
    let mut data = Vec::new();
    while let Some(chunk) = next_chunk(&mut resp, url).await? {
        inner.stats.bytes(chunk.len());
        refuse_size(inner, (data.len() + chunk.len()) as u64)?;
        holding.extend(&mut data, &chunk)?;
    }
    Ok(data)
}

/// Refuse a body of `len` bytes (so far, or as announced): past the
/// loader's size limit with imagor's error; without one, past the call's
/// `max_memory`, since the whole body is held in memory.
fn refuse_size(inner: &Inner, len: u64) -> Result<()> {
    if inner.max_size > 0 {
        if len > inner.max_size {
            return Err(Error::MaxSizeExceeded);
        }
    } else if inner.max_memory > 0 && len > inner.max_memory {
        return Err(Error::limit(
            "max_memory",
            format!(
                "the image body from the HTTP loader is larger than max_memory ({})",
                crate::budget::format_bytes(inner.max_memory)
            ),
        ));
    }
    Ok(())
}

/// Move the body into `body` as it arrives, under the same size limit;
/// the body ends with the outcome, which is also returned. Stops early
/// ([`Error::Cancelled`]) once nobody reads the body any more.
async fn pump(
    mut resp: Response,
    inner: &Inner,
    url: &Url,
    body: &Feed,
    settle: &impl Fn(&Result<()>),
) -> Result<()> {
    let _ends = EndsOnDrop(body.clone());
    let end = loop {
        let chunk = match next_chunk(&mut resp, url).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        inner.stats.bytes(chunk.len());
        if let Err(e) = refuse_size(inner, (body.len() + chunk.len()) as u64) {
            break Err(e);
        }
        match body.push(&chunk) {
            Ok(true) => {}
            // A reader ended it (its deadline passed, its caller left), or
            // nobody reads it any more.
            Ok(false) => return Err(Error::Cancelled),
            // No room left in the memory all calls share.
            Err(e) => break Err(e),
        }
    };
    settle(&end);
    body.finish(end.clone());
    end
}

/// Ends a body whose feeding task stops without ending it (the task
/// panicked, or the runtime went away): its readers fail at once instead
/// of waiting for their deadline. A body already ended keeps its end.
struct EndsOnDrop(Feed);

impl Drop for EndsOnDrop {
    fn drop(&mut self) {
        self.0.finish(Err(Error::Internal(
            "internal error: the network task feeding the body ended".to_owned(),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_conditions_are_never_forwarded() {
        let opts = crate::Options {
            http_loader_forward_client_headers: true,
            ..Default::default()
        };
        let loader = super::super::HttpLoader::new(&opts).expect("loader");
        let mut req = Request::get("/unsafe/http://example.com/a.png");
        for (k, v) in [
            ("Range", "bytes=0-3000"),
            ("If-Range", "\"x\""),
            ("If-None-Match", "\"x\""),
            ("If-Modified-Since", "Sun, 06 Dec 2026 05:00:00 GMT"),
            ("Expect", "100-continue"),
            ("X-Kept", "1"),
        ] {
            req.headers.push((k.to_owned(), v.to_owned()));
        }
        let h = request_headers(&loader.inner, Some(&req));
        for name in [
            "range",
            "if-range",
            "if-none-match",
            "if-modified-since",
            "expect",
        ] {
            assert!(h.get(name).is_none(), "{name} forwarded");
        }
        assert_eq!(h.get("x-kept").map(|v| v.as_bytes()), Some(&b"1"[..]));
        // Named explicitly, still not forwarded.
        let opts = crate::Options {
            http_loader_forward_headers: vec!["Range".into(), "X-Kept".into()],
            ..Default::default()
        };
        let loader = super::super::HttpLoader::new(&opts).expect("loader");
        let h = request_headers(&loader.inner, Some(&req));
        assert!(h.get("range").is_none());
        // And a partial answer is never taken for the image.
        assert!(check_status(StatusCode::PARTIAL_CONTENT).is_err());
        assert!(check_status(StatusCode::OK).is_ok());
    }

    #[test]
    fn header_names_are_canonical() {
        assert_eq!(canonical("cache-control"), "Cache-Control");
        assert_eq!(canonical("X-FOO-bar"), "X-Foo-Bar");
        assert_eq!(canonical("etag"), "Etag");
    }
}
