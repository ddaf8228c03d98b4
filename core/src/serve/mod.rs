//! Request handling: a [`Request`] in, imagor's [`Response`] out, the same
//! for the HTTP server, the Express middleware and any binding
//! ([`Imagor::handle`]).
//!
//! This is imagor's `ServeHTTP` (routing, `/params`, the landing page and
//! the upload form, the retry with the unescaped path, error bodies, the
//! headers of a successful image and conditional requests); the image
//! itself comes from [`flow`], imagor's `Do`. The server adds only the
//! transport: path prefix, CORS, query-string stripping, `/healthcheck`,
//! access log, metrics.

pub(crate) mod after_answer;
mod control;
mod flow;
pub(crate) mod headers;
mod nesting;
mod pages;
pub(crate) mod slots;
mod stores;

pub(crate) use control::Control;
pub use control::Stats;
pub use nesting::{Nesting, NestingGuard, MAX_NESTED_REQUESTS};

#[cfg(feature = "server")]
pub(crate) use pages::html_escape;

use std::time::SystemTime;

use bytes::Bytes;

use crate::blob::Blob;
use crate::call::CallScope;
use crate::error::Error;
use crate::path::{self, Params};
use crate::request::{Cancel, Request, Response};
use crate::Imagor;

pub(crate) use flow::Outcome;

impl Imagor {
    /// Answer an HTTP request as imagor's server does: `GET`/`HEAD` of an
    /// image path, `/params/...`, `/`, and `POST` uploads (with
    /// `upload_loader_enable` and `unsafe`); other methods are 405.
    pub fn handle(&self, req: &Request) -> Response {
        self.handle_cancellable(req, &Cancel::new())
    }

    /// [`Imagor::handle`] for a caller that may go away: once `cancel` is
    /// cancelled the request's work stops (unless other requests share it)
    /// and the answer is 499 without a body, as imagor's. The whole
    /// request runs within `request_timeout`.
    pub fn handle_cancellable(&self, req: &Request, cancel: &Cancel) -> Response {
        // Its work is done when it returns, also when a loader calls it
        // inside a request the server answers first.
        let _own = after_answer::Collecting::suspend();
        self.handle_since(req, cancel, std::time::Instant::now())
    }

    /// [`Imagor::handle_since`] that gives the response to `answer` as
    /// soon as it is made, then does the work that may follow an answer
    /// (the result's save to the result storages, as imagor's server
    /// answers before it saves), on this thread.
    #[cfg(feature = "server")]
    pub(crate) fn handle_answering(
        &self,
        req: &Request,
        cancel: &Cancel,
        arrived: std::time::Instant,
        answer: impl FnOnce(Response),
    ) {
        let collecting = after_answer::Collecting::start();
        let res = self.handle_since(req, cancel, arrived);
        let after = collecting.finish();
        answer(res);
        for job in after {
            job();
        }
    }

    /// [`Imagor::handle_cancellable`] for a request that arrived at
    /// `arrived` (the server's: time queued for a thread counts against
    /// `request_timeout`, as imagor's timeout handler counts it).
    pub(crate) fn handle_since(
        &self,
        req: &Request,
        cancel: &Cancel,
        arrived: std::time::Instant,
    ) -> Response {
        let mut scope = CallScope::since(
            arrived,
            self.opts.request_timeout,
            cancel,
            self.opts.max_total_memory,
        );
        scope.via = crate::loader::http::via_of(req);
        let _scope = crate::call::enter(scope);
        let head = req.method == "HEAD";
        if req.path.len() > path::MAX_PATH_BYTES {
            // What the server's HTTP layer answers such a request target.
            return empty(414);
        }
        let mut res = match req.method.as_str() {
            "GET" | "HEAD" => self.handle_get(req),
            "POST" if self.opts.unsafe_ && self.opts.upload_loader_enable => self.handle_post(req),
            _ => empty(405),
        };
        if head {
            res.body = Bytes::new();
        }
        res
    }

    fn handle_get(&self, req: &Request) -> Response {
        let path = req.path.clone();
        if path.is_empty() || path == "/" {
            return if self.opts.base_path_redirect.is_empty() {
                pages::landing()
            } else {
                redirect(&self.opts.base_path_redirect)
            };
        }
        let mut p = path::parse(&path);
        if p.image.is_empty() && !p.params && self.opts.upload_loader_enable && self.opts.unsafe_ {
            return pages::upload_form(&path, &p, &self.opts.upload_loader_form_field_name);
        }
        if p.params {
            if self.opts.disable_params_endpoint {
                return empty(200);
            }
            return json_response(200, p.to_json_pretty().into_bytes());
        }
        let mut outcome = self.run_request(req, p.clone(), false);
        if is_retryable(outcome.error.as_ref()) {
            if let Some(retry) = path::parse_query_unescaped(&path) {
                p = retry;
                outcome = self.run_request(req, p.clone(), false);
            }
        }
        self.respond(req, &p, outcome, false)
    }

    fn handle_post(&self, req: &Request) -> Response {
        let path = if req.path.is_empty() { "/" } else { &req.path };
        let mut p = path::parse(path);
        p.image.clear();
        p.r#unsafe = true;
        let outcome = self.run_request(req, p.clone(), true);
        self.respond(req, &p, outcome, true)
    }

    /// Turn an outcome into imagor's response.
    fn respond(&self, req: &Request, p: &Params, outcome: Outcome, post: bool) -> Response {
        if let Some(e) = &outcome.error {
            if self.opts.response_raw_on_error {
                if let Some(blob) = outcome.blob.as_ref().filter(|b| !b.is_empty()) {
                    let mut res = self.image_response(req, p, blob, &outcome);
                    res.status = status_of(e);
                    return res;
                }
            }
            return self.error_response(e);
        }
        let Some(blob) = outcome.blob.as_ref().filter(|b| !b.is_empty()) else {
            return empty(if post { 400 } else { 200 });
        };
        let mut res = self.image_response(req, p, blob, &outcome);
        if !post {
            if let Some(stat) = &blob.stat {
                if headers::conditional(&mut res.headers, req, stat) {
                    res.status = 304;
                    res.body = Bytes::new();
                    res.headers
                        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
                }
            }
        }
        res
    }

    /// imagor's `setResponseHeaders` and body for an image.
    fn image_response(&self, req: &Request, p: &Params, blob: &Blob, o: &Outcome) -> Response {
        let now = SystemTime::now();
        let content_type = blob.content_type();
        let ext = crate::format::sniff(&blob.data).extension;
        let mut h: Vec<(String, String)> = vec![
            ("Content-Type".into(), content_type),
            (
                "Content-Disposition".into(),
                headers::content_disposition(p, ext),
            ),
        ];
        let ttl_default = if self.opts.cache_header_no_cache {
            std::time::Duration::ZERO
        } else {
            self.opts.cache_header_ttl
        };
        let ttl = headers::ttl(p, ttl_default, now);
        headers::cache(&mut h, req, ttl, self.opts.cache_header_swr, o.private, now);
        if o.vary_accept {
            h.push(("Vary".into(), "Accept".into()));
        }
        if o.raw {
            h.push(("Content-Security-Policy".into(), "script-src 'none'".into()));
        }
        // The framing is this answer's, whatever the origin's response
        // said (`-http-loader-override-response-headers Content-Length` or
        // `Transfer-Encoding`): imagor's `writeBody` sets the length over
        // the blob's headers, and Go's server sends a handler's `chunked`
        // as such. Passed on, a second, different Content-Length or a
        // `Transfer-Encoding` over a sized body broke the answer (an empty
        // reply).
        for (k, v) in blob.headers.iter().filter(|(k, _)| !is_framing(k)) {
            h.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
            h.push((k.clone(), v.clone()));
        }
        h.push(("Content-Length".into(), blob.data.len().to_string()));
        Response {
            status: 200,
            headers: h,
            body: blob.data.clone(),
        }
    }

    /// imagor's error response: `{"message":...,"status":N}` with its
    /// status (a timeout's message is imagor's bare `timeout`), or only
    /// the status with `disable_error_body`.
    pub fn error_response(&self, e: &Error) -> Response {
        let status = status_of(e);
        if self.opts.disable_error_body || matches!(e, Error::Cancelled) {
            return empty(status);
        }
        // imagor has one timeout error, `{"message":"timeout","status":408}`;
        // which limit passed stays in the error a library caller gets.
        let json = match e {
            Error::Timeout(_) => Error::timeout().to_json(),
            e => e.to_json(),
        };
        let mut res = json_response(status, go_json(&json).into_bytes());
        res.status = status;
        res
    }
}

/// Headers that frame a message on its connection (RFC 9112 §6): the
/// server sets them for the body it sends.
fn is_framing(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

/// imagor retries only its plain `ErrInvalid` and `ErrSignatureMismatch`.
fn is_retryable(e: Option<&Error>) -> bool {
    match e {
        Some(Error::SignatureMismatch) => true,
        Some(Error::Invalid(m)) => m == "invalid",
        _ => false,
    }
}

/// The status sent for an error: imagor's, kept within what HTTP can carry
/// as a final status (an `imagor: 167 ...` error is sent as 500).
fn status_of(e: &Error) -> u16 {
    match e.status() {
        s @ 200..=599 => s,
        _ => 500,
    }
}

fn empty(status: u16) -> Response {
    Response {
        status,
        ..Response::default()
    }
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    Response {
        status,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body: body.into(),
    }
}

/// A 307 to `location`, with Go's small HTML body.
fn redirect(location: &str) -> Response {
    let body = format!(
        "<a href=\"{}\">Temporary Redirect</a>.\n\n",
        pages::html_escape(location)
    );
    Response {
        status: 307,
        headers: vec![
            ("Location".into(), location.to_owned()),
            ("Content-Type".into(), "text/html; charset=utf-8".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body: body.into(),
    }
}

/// Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 in
/// strings; serde_json does not.
pub(crate) fn go_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::request::{Cancel, Request};
    use crate::{Imagor, Options};

    /// An origin's `Content-Length` or `Transfer-Encoding` passed on to
    /// the answer (the HTTP loader's override headers) never frames it:
    /// one `Content-Length`, the body's (hyper panicked on two different
    /// ones in debug builds; a passed-on `chunked` over a sized body was
    /// an empty reply).
    #[test]
    fn an_origins_content_length_never_frames_the_answer() {
        let imagor = Imagor::new(Options {
            http_loader_disable: true,
            ..Options::default()
        })
        .expect("imagor");
        let mut blob = crate::blob::Blob::new(vec![0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
        blob.headers = vec![
            ("Content-Length".into(), "85843".into()),
            ("Transfer-Encoding".into(), "chunked".into()),
            ("Cache-Control".into(), "max-age=60".into()),
        ];
        let p = crate::path::parse("/unsafe/50x50/a.jpg");
        let res = imagor.image_response(
            &Request::get("/unsafe/50x50/a.jpg"),
            &p,
            &blob,
            &super::Outcome::default(),
        );
        let lengths: Vec<&str> = res
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(lengths, vec!["7"], "{:?}", res.headers);
        assert!(
            !res.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding")),
            "{:?}",
            res.headers
        );
        assert!(res
            .headers
            .contains(&("Cache-Control".to_owned(), "max-age=60".to_owned())));
    }

    /// A request that waited for a thread past its request timeout is a
    /// 408 at once: its time counts from its arrival, as in imagor.
    #[test]
    fn the_request_timeout_counts_from_arrival() {
        let imagor = Imagor::new(Options {
            unsafe_: true,
            http_loader_disable: true,
            file_loader_base_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata").into(),
            request_timeout: Duration::from_secs(30),
            ..Options::default()
        })
        .expect("imagor");
        let req = Request::get("/unsafe/10x10/gopher-front.png");
        let fresh = imagor.handle_since(&req, &Cancel::new(), Instant::now());
        assert_eq!(fresh.status, 200);
        let Some(long_ago) = Instant::now().checked_sub(Duration::from_secs(31)) else {
            return; // a machine up for less than 31 s
        };
        let started = Instant::now();
        let late = imagor.handle_since(&req, &Cancel::new(), long_ago);
        assert_eq!(late.status, 408, "{}", String::from_utf8_lossy(&late.body));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
