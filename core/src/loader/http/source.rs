//! From an image key to the URL the HTTP loader fetches, and whether that
//! URL is allowed (imagor's `parseAndValidateURL`, `isURLAllowed`,
//! `validateContentType`): base URL, default scheme, allowed sources (host
//! glob patterns and URL regexps, OR-combined), and the Accept list.

use regex::Regex;
use url::Url;

use crate::error::{Error, Result};

/// One allowed source: a host glob (`*.example.com`, matched against
/// `host[:port]` with Go's `path.Match`) or a regexp over the whole URL.
#[derive(Debug, Clone)]
pub enum AllowedSource {
    /// A host glob pattern.
    Host(String),
    /// A regexp matched against the whole URL.
    Regex(Regex),
}

impl AllowedSource {
    /// Does `url` match?
    pub fn matches(&self, url: &Url) -> bool {
        match self {
            AllowedSource::Host(pattern) => glob_match(pattern, &host_port(url)),
            AllowedSource::Regex(re) => re.is_match(url.as_str()),
        }
    }
}

/// Is `url` allowed by `sources` (an empty list allows everything)?
pub fn is_allowed(url: &Url, sources: &[AllowedSource]) -> bool {
    sources.is_empty() || sources.iter().any(|s| s.matches(url))
}

/// `host[:port]` as Go's `url.Host` holds it (IPv6 in brackets).
pub fn host_port(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Parse a csv of host globs into allowed sources.
pub fn host_patterns(list: &[String]) -> Vec<AllowedSource> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| AllowedSource::Host(s.to_owned()))
        .collect()
}

/// How an image key becomes a URL.
#[derive(Debug, Clone)]
pub struct UrlRules {
    /// Prepended to every key (`-http-loader-base-url`).
    pub base_url: Option<Url>,
    /// Scheme for keys without one; `None` refuses them.
    pub default_scheme: Option<String>,
    /// Allowed sources; empty allows all.
    pub allowed: Vec<AllowedSource>,
}

impl UrlRules {
    /// The URL to fetch for `image`: `Invalid` (400) when it is not an
    /// http(s) URL, `SourceNotAllowed` (403) when no allowed source
    /// matches.
    pub fn url_of(&self, image: &str) -> Result<Url> {
        self.url_of_key(image, None)
    }

    /// [`url_of`](Self::url_of) for a key that may stand for bytes that are
    /// not UTF-8 ([`key_text`]): the URL is made of those bytes, escaped,
    /// while the key's own text decides whether it is a literal file name.
    pub fn url_of_key(&self, image: &str, bytes: Option<&[u8]>) -> Result<Url> {
        let key = image;
        let image = &*key_text(key, bytes);
        if image.is_empty() {
            return Err(Error::invalid());
        }
        let mut text = image.to_owned();
        if let Some(base) = &self.base_url {
            text = join_base(base, image)?;
        }
        // imagor looks for escapes in what it would fetch: the joined URL,
        // or the key itself (not the escapes written for its bytes).
        let literal = contains_percent_encoding(if self.base_url.is_some() { &text } else { key });
        let url = match Url::parse(&text) {
            // An explicit scheme other than http(s): `file://`, `ftp://`...
            Ok(u)
                if text.get(..u.scheme().len() + 3) == Some(&format!("{}://", u.scheme()))
                    && !matches!(u.scheme(), "http" | "https") =>
            {
                return Err(Error::invalid())
            }
            Ok(u) if u.has_host() && !u.host_str().unwrap_or("").is_empty() => u,
            Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
                // A key without scheme: a literal file name when it holds
                // %-escapes (imagor), else the default scheme is prepended.
                if literal {
                    return Err(Error::invalid());
                }
                let Some(scheme) = &self.default_scheme else {
                    return Err(Error::invalid());
                };
                Url::parse(&format!("{scheme}://{text}")).map_err(|_| Error::invalid())?
            }
            Err(_) => return Err(invalid_host(&text)),
        };
        let mut url = url;
        url.set_fragment(None);
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(Error::invalid());
        }
        if !is_allowed(&url, &self.allowed) {
            return Err(Error::SourceNotAllowed);
        }
        Ok(url)
    }
}

/// A URL that does not parse; an IPv6 literal with a zone id
/// (`[fe80::1%25eth0]`) is refused as what it addresses.
fn invalid_host(text: &str) -> Error {
    let zoned = text
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .and_then(|(inside, _)| inside.split_once('%'))
        .and_then(|(addr, _)| addr.parse::<std::net::Ipv6Addr>().ok());
    match zoned {
        Some(ip) => Error::Status {
            message: format!(
                "unauthorized request: IPv6 zone identifiers are refused ({ip}): {text}"
            ),
            status: 403,
        },
        None => Error::invalid(),
    }
}

/// imagor's `BaseURL.JoinPath(u.Path)` with the key's query kept.
fn join_base(base: &Url, image: &str) -> Result<String> {
    let (path, query) = match Url::parse(image) {
        Ok(u) if u.has_host() => (u.path().to_owned(), u.query().map(str::to_owned)),
        _ => {
            let no_fragment = image.split('#').next().unwrap_or("");
            match no_fragment.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (no_fragment.to_owned(), None),
            }
        }
    };
    let mut joined = base.clone();
    let base_path = base.path().trim_end_matches('/');
    let rest = path.trim_start_matches('/');
    let mut segments: Vec<&str> = Vec::new();
    for seg in base_path.split('/').chain(rest.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut new_path = format!("/{}", segments.join("/"));
    if path.ends_with('/') && new_path != "/" {
        new_path.push('/');
    }
    joined.set_path(&new_path);
    joined.set_query(query.as_deref());
    joined.set_fragment(None);
    Ok(joined.to_string())
}

/// The text of an image key as a URL: `key`, or, when the key stands for
/// bytes that are not UTF-8 (`bytes`, shown in `key` as U+FFFD), those
/// bytes with each invalid one written `%XX`. Go's `net/url` sends such a
/// byte that way, so `/unsafe/http://host/caf%E9.jpg` fetches `caf%E9.jpg`.
pub fn key_text<'a>(key: &'a str, bytes: Option<&[u8]>) -> std::borrow::Cow<'a, str> {
    let Some(bytes) = bytes.filter(|b| std::str::from_utf8(b).is_err()) else {
        return key.into();
    };
    crate::path::render_bytes(
        bytes,
        |out, valid| out.push_str(valid),
        |out, b| out.push_str(&format!("%{b:02X}")),
    )
    .into()
}

/// A `%XX` escape anywhere in `s` (imagor's `containsPercentEncoding`).
pub fn contains_percent_encoding(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// The media type of a `Content-Type` value, lower case, without
/// parameters (imagor's `parseContentType`).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The accepted media types of an Accept list (`image/*,image/svg+xml`).
pub fn accept_list(accept: &str) -> Vec<String> {
    accept
        .split(',')
        .map(media_type)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Does a response `Content-Type` match one of `accepts` (globs; an empty
/// list accepts anything)?
pub fn content_type_accepted(content_type: &str, accepts: &[String]) -> bool {
    if accepts.is_empty() {
        return true;
    }
    let t = media_type(content_type);
    accepts.iter().any(|a| glob_match(a, &t))
}

/// Go's `path.Match`: `*` any run of non-`/`, `?` one non-`/` character,
/// `[...]` a class (`^` negates, ranges, `\` escapes). A malformed pattern
/// matches nothing.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n).unwrap_or(false)
}

fn glob_at(p: &[char], n: &[char]) -> Option<bool> {
    let (mut pi, mut ni) = (0, 0);
    // Backtracking point for the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() && n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    let (matched, next) = class_at(p, pi, n[ni])?;
                    if matched {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    let c = *p.get(pi + 1)?;
                    if ni < n.len() && n[ni] == c {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c if c != '?' && c != '[' && ni < n.len() && n[ni] == c => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return Some(true);
        }
        // Mismatch: let the last star eat one more character (not `/`).
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => {
                // Go reports a malformed rest of the pattern as an error.
                validate_rest(&p[pi.min(p.len())..])?;
                return Some(false);
            }
        }
    }
}

/// A character class at `p[start] == '['` against `c`: (matched, index
/// after the class); `None` when malformed.
fn class_at(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|x| *x != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                p[i]
            };
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    Some((matched != negated, i))
}

fn validate_rest(p: &[char]) -> Option<()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                p.get(i + 1)?;
                i += 2;
            }
            '[' => {
                let (_, next) = class_at(p, i, '\0')?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_stand_for_other_bytes_are_written_with_escapes() {
        let key = "http://h/caf\u{FFFD}.jpg";
        assert_eq!(
            key_text(key, Some(b"http://h/caf\xe9.jpg")),
            "http://h/caf%E9.jpg"
        );
        assert_eq!(key_text(key, None), key);
        // UTF-8 bytes are the key itself.
        assert_eq!(key_text("a", Some(b"a")), "a");
        let url = rules(&[])
            .url_of_key(key, Some(b"http://h/caf\xe9.jpg"))
            .unwrap();
        assert_eq!(url.path(), "/caf%E9.jpg");
        // Without a scheme: the default one, as for any key without escapes.
        let url = rules(&[])
            .url_of_key("h/caf\u{FFFD}.jpg", Some(b"h/caf\xe9.jpg"))
            .unwrap();
        assert_eq!(url.as_str(), "https://h/caf%E9.jpg");
        // A key written with escapes is still a literal file name.
        assert_eq!(
            rules(&[]).url_of_key("h/caf%E9.jpg", None),
            Err(Error::invalid())
        );
    }

    fn rules(allowed: &[&str]) -> UrlRules {
        UrlRules {
            base_url: None,
            default_scheme: Some("https".into()),
            allowed: host_patterns(&allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn globs_match_as_go_path_match() {
        assert!(glob_match("*.abc", "foo.abc"));
        assert!(!glob_match("*.abc", "foo.abcd"));
        assert!(glob_match("foo.bar", "foo.bar"));
        assert!(!glob_match("foo.bar", "foo.barr"));
        assert!(glob_match("127.0.0.1:*", "127.0.0.1:8080"));
        assert!(glob_match("image/*", "image/jpeg"));
        assert!(!glob_match("image/*", "text/html"));
        assert!(glob_match("*/*", "text/html"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(!glob_match("[a-", "a"));
        assert!(glob_match("*", "anything.example.com"));
    }

    #[test]
    fn keys_become_urls_as_in_imagor() {
        let r = rules(&[]);
        assert_eq!(
            r.url_of("foo.bar/baz").unwrap().as_str(),
            "https://foo.bar/baz"
        );
        assert_eq!(
            r.url_of("http://foo.bar/baz#frag").unwrap().as_str(),
            "http://foo.bar/baz"
        );
        assert_eq!(r.url_of(""), Err(Error::invalid()));
        assert_eq!(
            r.url_of("https%3A%2F%2Fexample.com.avif"),
            Err(Error::invalid())
        );
        assert_eq!(r.url_of("file:///etc/passwd"), Err(Error::invalid()));
        let nil = UrlRules {
            default_scheme: None,
            ..rules(&[])
        };
        assert_eq!(nil.url_of("foo.bar/baz"), Err(Error::invalid()));
        assert_eq!(nil.url_of("abc*abc"), Err(Error::invalid()));
        assert!(nil.url_of("https://foo.bar/baz").is_ok());
    }

    #[test]
    fn allowed_sources_globs_and_regexps() {
        let r = rules(&["foo.bar", "*.abc", "def.def,ghi.ghi"]);
        assert!(r.url_of("https://foo.bar/baz").is_ok());
        assert!(r.url_of("https://def.def/boo").is_ok());
        assert!(r.url_of("https://foo.abc/bar").is_ok());
        for bad in [
            "https://foo.boo/x",
            "https://foo.barr/baz",
            "https://boo.bar/baz",
        ] {
            assert_eq!(r.url_of(bad), Err(Error::SourceNotAllowed), "{bad}");
        }
        let re = UrlRules {
            allowed: vec![AllowedSource::Regex(
                Regex::new(r"^https://(foo|bar)\.com/dogs/.*\.jpg$").unwrap(),
            )],
            ..rules(&[])
        };
        assert!(re.url_of("https://foo.com/dogs/dog.jpg").is_ok());
        for bad in [
            "https://foo.com/dogs/../cats/cat.jpg",
            "https://foo.com/dogs/dog.jpg?size=small",
            "https://goo2.org/https://foo.com/dogs/dog.jpg",
        ] {
            assert_eq!(re.url_of(bad), Err(Error::SourceNotAllowed), "{bad}");
        }
    }

    #[test]
    fn base_url_prepends_the_key() {
        let r = UrlRules {
            base_url: Some(Url::parse("https://foo.com/bar.org").unwrap()),
            ..rules(&[])
        };
        assert_eq!(
            r.url_of("some/path/ping.jpg").unwrap().as_str(),
            "https://foo.com/bar.org/some/path/ping.jpg"
        );
        assert_eq!(
            r.url_of("some/path/ping.jpg?abc=123").unwrap().as_str(),
            "https://foo.com/bar.org/some/path/ping.jpg?abc=123"
        );
        assert_eq!(
            r.url_of("https://foo.com/bar.org/x.jpg").unwrap().as_str(),
            "https://foo.com/bar.org/bar.org/x.jpg"
        );
    }

    #[test]
    fn tricky_hosts_parse_to_what_they_address() {
        let r = rules(&[]);
        for (key, host) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://allowed@127.0.0.1/", "127.0.0.1"),
            ("http://127.0.0.1#@allowed/", "127.0.0.1"),
            ("http://127.0.0.1:80\\@allowed/", "127.0.0.1"),
            (
                "http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/",
                "127.0.0.1",
            ),
        ] {
            assert_eq!(r.url_of(key).unwrap().host_str(), Some(host), "{key}");
        }
        assert_eq!(
            r.url_of("http://[fe80::1%25eth0]/").unwrap_err().status(),
            403
        );
    }

    #[test]
    fn content_types_are_matched_against_accept() {
        let accepts = accept_list("image/*, application/pdf;q=0.5");
        assert_eq!(accepts, ["image/*", "application/pdf"]);
        assert!(content_type_accepted("image/JPEG; charset=x", &accepts));
        assert!(!content_type_accepted("text/html", &accepts));
        assert!(content_type_accepted("", &accept_list("*/*")) == glob_match("*/*", ""));
    }
}
