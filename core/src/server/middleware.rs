//! The layers imagor's server puts around the app, in its order (outermost
//! first): panic recovery, path prefix, access log, query-string stripping,
//! CORS, and the no-op routes `/healthcheck` and `/favicon.ico`
//! (imagor `server/handler.go`, `server/server.go`).

use crate::request::{Request, Response};

/// What the layers need to know.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// Served under this prefix (`-server-path-prefix`).
    pub path_prefix: String,
    /// CORS as rs/cors' defaults (`-server-cors`).
    pub cors: bool,
    /// Redirect away the query string (`-server-strip-query-string`).
    pub strip_query_string: bool,
}

/// The result of the layers before the app: answer now, or run the app on
/// a request whose path lost the prefix.
pub(crate) enum Route {
    /// Answer with this response.
    Answer(Response),
    /// Run the app; add these headers (CORS) to its response.
    App(Vec<(String, String)>),
}

impl Layers {
    /// Apply the layers to `req` (its `path` is changed in place when the
    /// prefix is stripped).
    pub(crate) fn route(&self, req: &mut Request) -> Route {
        // Go's `http.StripPrefix` with the prefix verbatim: `/imagor/`
        // leaves `unsafe/a.jpg` (imagor parses it the same) and does not
        // match `/imagor`.
        let prefix = self.path_prefix.as_str();
        if !prefix.is_empty() {
            let decoded = super::escaped_path::decoded_path(&req.path);
            if !decoded.starts_with(prefix) || !req.path.starts_with(prefix) {
                return Route::Answer(not_found());
            }
            req.path = req.path[prefix.len()..].to_owned();
        }
        if self.strip_query_string && !req.query.is_empty() {
            // imagor computes the target after the prefix was stripped and
            // so drops it; we keep it (a fix, documented).
            let location = format!("{prefix}{}", req.path);
            let location = if location.is_empty() {
                "/".to_owned()
            } else {
                location
            };
            return Route::Answer(temporary_redirect(&location, req.method == "GET"));
        }
        let mut extra = Vec::new();
        if self.cors {
            if req.method == "OPTIONS" && req.header("access-control-request-method").is_some() {
                return Route::Answer(preflight(req));
            }
            extra.push(("Vary".to_owned(), "Origin".to_owned()));
            if req.header("origin").is_some()
                && matches!(req.method.as_str(), "GET" | "POST" | "HEAD")
            {
                extra.push(("Access-Control-Allow-Origin".to_owned(), "*".to_owned()));
            }
        }
        let decoded = super::escaped_path::decoded_path(&req.path);
        if req.method == "GET" && (decoded == "/healthcheck" || decoded == "/favicon.ico") {
            return Route::Answer(Response {
                status: 200,
                headers: extra,
                ..Response::default()
            });
        }
        Route::App(extra)
    }
}

impl Layers {
    /// Whether imagor's access log records a request: not when Go's server
    /// refuses the path (a malformed escape), nor when `http.StripPrefix`
    /// (outside the access log) answers 404, nor for the no-op routes
    /// (spec §4.1, §4.10).
    pub(crate) fn access_logged(&self, method: &str, raw_path: &str) -> bool {
        if super::escaped_path::escaped_path(raw_path).is_none() {
            return false;
        }
        let prefix = self.path_prefix.as_str();
        let decoded = super::escaped_path::decoded_path(raw_path);
        if !decoded.starts_with(prefix) || !raw_path.starts_with(prefix) {
            return false;
        }
        let rest = super::escaped_path::decoded_path(&raw_path[prefix.len()..]);
        !(method == "GET" && (rest == "/healthcheck" || rest == "/favicon.ico"))
    }
}

/// Go's `http.NotFound`.
fn not_found() -> Response {
    let body = "404 page not found\n";
    Response {
        status: 404,
        headers: vec![
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
            ("X-Content-Type-Options".into(), "nosniff".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body: body.into(),
    }
}

/// Go's `http.Redirect(w, r, url, 307)`.
fn temporary_redirect(location: &str, with_body: bool) -> Response {
    let body = if with_body {
        format!(
            "<a href=\"{}\">Temporary Redirect</a>.\n\n",
            crate::serve::html_escape(location)
        )
    } else {
        String::new()
    };
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

/// rs/cors' preflight with its default options: any origin, methods GET,
/// POST and HEAD, request headers `accept`, `content-type` and
/// `x-requested-with`; always 204.
fn preflight(req: &Request) -> Response {
    let mut headers = vec![(
        "Vary".to_owned(),
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".to_owned(),
    )];
    let method = req
        .header("access-control-request-method")
        .unwrap_or("")
        .to_ascii_uppercase();
    let mut requested: Vec<String> = req
        .header("access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    requested.sort();
    requested.dedup();
    let allowed_headers = requested
        .iter()
        .all(|h| matches!(h.as_str(), "accept" | "content-type" | "x-requested-with"));
    let allowed_method = matches!(method.as_str(), "GET" | "POST" | "HEAD" | "OPTIONS");
    if req.header("origin").is_some() && allowed_method && allowed_headers {
        headers.push(("Access-Control-Allow-Origin".into(), "*".into()));
        headers.push(("Access-Control-Allow-Methods".into(), method));
        if !requested.is_empty() {
            headers.push(("Access-Control-Allow-Headers".into(), requested.join(", ")));
        }
    }
    Response {
        status: 204,
        headers,
        ..Response::default()
    }
}

/// imagor's panic handler: 500 with the panic text as the message.
pub(crate) fn panic_response(message: &str) -> Response {
    let body =
        crate::serve::go_json(&serde_json::json!({"message": message, "status": 500}).to_string());
    Response {
        status: 500,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body: body.into(),
    }
}

/// The client address for the access log (imagor's `RealIP`): the first
/// public address of `X-Forwarded-For`, else `X-Real-Ip`, else the peer.
pub(crate) fn real_ip(req: &Request, peer: &str) -> String {
    let forwarded = req.header("x-forwarded-for");
    let real = req.header("x-real-ip");
    if forwarded.is_none() && real.is_none() {
        return peer
            .rsplit_once(':')
            .map_or(peer, |(host, _)| host)
            .trim_matches(['[', ']'])
            .to_owned();
    }
    for part in forwarded.unwrap_or("").split(',') {
        if let Ok(ip) = part.trim().parse::<std::net::IpAddr>() {
            if !is_private(&ip) {
                return ip.to_string();
            }
        }
    }
    real.unwrap_or("").to_owned()
}

fn is_private(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || o[0] == 10
                || (o[0] == 172 && (16..32).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 169 && o[1] == 254)
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, query: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            ..Request::default()
        }
    }

    #[test]
    fn prefix_query_cors_and_noop_routes() {
        let l = Layers {
            path_prefix: "/imagor".into(),
            cors: true,
            strip_query_string: true,
        };
        let mut r = get("/", "");
        assert!(matches!(l.route(&mut r), Route::Answer(res) if res.status == 404));
        let mut r = get("/imagor/unsafe/a.jpg", "x=1");
        match l.route(&mut r) {
            Route::Answer(res) => {
                assert_eq!(res.status, 307);
                assert_eq!(res.header("location"), Some("/imagor/unsafe/a.jpg"));
            }
            Route::App(_) => panic!("no redirect"),
        }
        let mut r = get("/imagor/healthcheck", "");
        assert!(
            matches!(l.route(&mut r), Route::Answer(res) if res.status == 200 && res.header("vary") == Some("Origin"))
        );
        let mut r = get("/imagor/unsafe/a.jpg", "");
        assert!(matches!(l.route(&mut r), Route::App(h) if h.len() == 1));
        assert_eq!(r.path, "/unsafe/a.jpg");
    }

    #[test]
    fn prefix_is_stripped_verbatim_as_go_does() {
        let l = Layers {
            path_prefix: "/imagor/".into(),
            strip_query_string: true,
            ..Layers::default()
        };
        let mut r = get("/imagor", "");
        assert!(matches!(l.route(&mut r), Route::Answer(res) if res.status == 404));
        let mut r = get("/imagor/unsafe/a.jpg", "");
        assert!(matches!(l.route(&mut r), Route::App(_)));
        assert_eq!(r.path, "unsafe/a.jpg");
        let mut r = get("/imagor/", "");
        assert!(matches!(l.route(&mut r), Route::App(_)));
        assert_eq!(r.path, "");
        // `/healthcheck` is not `healthcheck`: imagor's no-op route does
        // not match under a prefix with a trailing slash.
        let mut r = get("/imagor/healthcheck", "");
        assert!(matches!(l.route(&mut r), Route::App(_)));
        let mut r = get("/imagor/unsafe/a.jpg", "x=1");
        match l.route(&mut r) {
            Route::Answer(res) => assert_eq!(res.header("location"), Some("/imagor/unsafe/a.jpg")),
            Route::App(_) => panic!("no redirect"),
        }
    }

    #[test]
    fn access_log_skips_prefix_misses_noops_and_bad_escapes() {
        let l = Layers {
            path_prefix: "/img".into(),
            ..Layers::default()
        };
        assert!(l.access_logged("GET", "/img/unsafe/a.jpg"));
        assert!(l.access_logged("HEAD", "/img/healthcheck"));
        assert!(!l.access_logged("GET", "/img/healthcheck"));
        assert!(!l.access_logged("GET", "/img/favicon.ico"));
        assert!(!l.access_logged("GET", "/other/unsafe/a.jpg"));
        assert!(!l.access_logged("GET", "/img/bad%zz"));
        assert!(Layers::default().access_logged("GET", "/"));
    }

    #[test]
    fn real_ip_skips_private_forwarders() {
        let mut r = get("/", "");
        assert_eq!(real_ip(&r, "1.2.3.4:5678"), "1.2.3.4");
        r.headers
            .push(("x-forwarded-for".into(), "10.0.0.1, 8.8.8.8".into()));
        assert_eq!(real_ip(&r, "127.0.0.1:1"), "8.8.8.8");
    }
}
