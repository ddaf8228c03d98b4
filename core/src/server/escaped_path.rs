//! Go's `url.URL.EscapedPath`: the path imagor signs and parses.
//!
//! The path is kept exactly as the client sent it when every byte is one Go
//! considers validly encoded; otherwise Go decodes it and escapes the whole
//! path again with its own rules. Signatures are computed over this
//! string, so a drop-in server must reproduce it.

/// Bytes Go keeps in a raw path (`validEncoded`): letters, digits,
/// `-_.~`, `!$&'()*+,;=:@`, `[]`, `/` and `%` (of a valid escape).
fn valid_encoded(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            c if c.is_ascii_alphanumeric() => {}
            b'-' | b'_' | b'.' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
            | b',' | b';' | b'=' | b':' | b'@' | b'[' | b']' | b'/' | b'%' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// Percent-decode `raw` (`None` on a malformed escape).
fn unescape(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            // Two hex digits exactly: from_str_radix alone also takes a
            // sign (`%+F`), which Go refuses.
            let hex = b.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Go's `escape(s, encodePath)`: keep letters, digits, `-_.~$&+,/:;=@`,
/// escape everything else as `%XX` (upper-case hex).
fn escape_path(decoded: &[u8]) -> String {
    let mut out = String::with_capacity(decoded.len());
    for &c in decoded {
        let keep = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// The path imagor sees for a raw request path; `None` when a `%` escape
/// is malformed (Go's server answers 400 before any handler).
pub(crate) fn escaped_path(raw: &str) -> Option<String> {
    let decoded = unescape(raw)?;
    if valid_encoded(raw) {
        return Some(raw.to_owned());
    }
    Some(escape_path(&decoded))
}

/// The decoded path (Go's `URL.Path`), for routing decisions that imagor
/// makes on it (prefix, `/healthcheck`).
pub(crate) fn decoded_path(raw: &str) -> String {
    unescape(raw)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|| raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_paths_stay_when_valid() {
        for p in [
            "/unsafe/filters:fill(red)/gopher.png",
            "/unsafe/filters%3Afill%28red%29/gopher.png",
            "/abc/a%20b.jpg",
            "/x/[a]/!$&'()*+,;=:@",
        ] {
            assert_eq!(escaped_path(p).as_deref(), Some(p));
        }
    }

    #[test]
    fn invalid_bytes_reescape_the_whole_path() {
        // `"` is not validly encoded: Go decodes and re-escapes everything,
        // so `%2F` comes back as `/` and `(` as `%28`.
        assert_eq!(
            escaped_path("/a\"b/c%2Fd(e)").as_deref(),
            Some("/a%22b/c/d%28e%29")
        );
        assert_eq!(escaped_path("/é").as_deref(), Some("/%C3%A9"));
        assert_eq!(escaped_path("/bad%zz"), None);
        // A sign is not a hex digit (Go refuses `%+F` as it does `%zz`).
        assert_eq!(escaped_path("/bad%+F"), None);
        assert_eq!(escaped_path("/bad%-1"), None);
        assert_eq!(decoded_path("/a%20b"), "/a b");
    }
}
