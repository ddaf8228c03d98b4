//! Storage-key normalisation: imagor's `Normalize` and `SafeChars`.

use super::go;

/// The set of bytes [`normalize`] leaves unescaped (imagor's `SafeChars`).
///
/// Letters, digits, `/`, `-`, `_`, `.` and `~` are always safe; extra bytes
/// come from a storage's `safe-chars` option. The special value `"--"`
/// turns escaping off entirely.
#[derive(Clone, PartialEq, Eq)]
pub struct SafeChars {
    noop: bool,
    extra: [bool; 256],
}

impl SafeChars {
    /// The default set plus the characters of `extra`, or no escaping at all
    /// for `"--"`.
    ///
    /// As in imagor each character marks one byte, its code point truncated
    /// to 8 bits: `"é"` (U+00E9) marks byte 0xE9, not its UTF-8 bytes.
    pub fn new(extra: &str) -> Self {
        if extra == "--" {
            return Self::noop();
        }
        let mut table = [false; 256];
        for c in extra.chars() {
            // Go's byte(rune) conversion keeps the low 8 bits.
            table[usize::from(u32::from(c) as u8)] = true;
        }
        SafeChars {
            noop: false,
            extra: table,
        }
    }

    /// A set that escapes nothing (imagor's `NewNoopSafeChars`).
    pub fn noop() -> Self {
        SafeChars {
            noop: true,
            extra: [false; 256],
        }
    }

    /// Whether byte `c` is percent-escaped (a space becomes `+` instead).
    pub fn should_escape(&self, c: u8) -> bool {
        if self.noop || c.is_ascii_alphanumeric() || matches!(c, b'/' | b'-' | b'_' | b'.' | b'~') {
            return false;
        }
        !self.extra[usize::from(c)]
    }
}

impl Default for SafeChars {
    /// The default set (`SafeChars::new("")`).
    fn default() -> Self {
        SafeChars::new("")
    }
}

impl std::fmt::Debug for SafeChars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra: Vec<u8> = (0..=255u8)
            .filter(|&c| self.extra[usize::from(c)])
            .collect();
        f.debug_struct("SafeChars")
            .field("noop", &self.noop)
            .field("extra", &String::from_utf8_lossy(&extra))
            .finish()
    }
}

/// Make an image path or request path usable as a storage key (imagor's
/// `Normalize`): clean it lexically like Go's `path.Clean` (so `""` becomes
/// `"."`), remove line breaks, trim `/` at both ends, then escape every
/// byte `safe_chars` does not allow as `%XX` (spaces as `+`).
///
/// If custom safe characters let a lone non-ASCII byte through, it is
/// escaped even so where it is not part of valid UTF-8 (Go would keep the
/// byte): see [`normalize_bytes`].
pub fn normalize(image: &str, safe_chars: &SafeChars) -> String {
    normalize_bytes(image.as_bytes(), safe_chars)
}

/// Whether a storage, which names an entry after [`normalize`] of its key,
/// keeps `key` apart from every other key: normalising leaves it as it is,
/// but for each `scheme://` (a source or `watermark()` URL), which becomes
/// `scheme:/`. A key with a bare `:/` is refused, so that `x:/y` never
/// takes the entry of `x://y`. A key that normalising changes names
/// another key's entry: `http://evil/x/../../victim/a.png` (fetched from
/// `evil`) cleans to the victim image's key, `meta//../a.png` (which loads
/// `a.png`: the image's `/..` stops at the root) to the plain image's.
pub(crate) fn cleans_to_itself(key: &str) -> bool {
    let bare_colon_slash = key
        .match_indices(":/")
        .any(|(i, _)| key.as_bytes().get(i + 2) != Some(&b'/'));
    !bare_colon_slash && normalize(key, &SafeChars::noop()) == key.replace("://", ":/")
}

/// [`normalize`] of an image key's bytes, which need not be UTF-8 (a URL
/// that decoded to `caf\xE9.jpg`): each byte is escaped on its own, as
/// imagor does, so `caf\xE9.jpg` becomes `caf%E9.jpg` and two keys that
/// differ only in such bytes never share a name. A byte that custom safe
/// characters (or `--`) let through but that is not part of valid UTF-8
/// is escaped even so (imagor keeps it raw): a name here is text, and
/// showing it as U+FFFD would make `caf\xE9` and `caf\xE8` one name.
pub fn normalize_bytes(image: &[u8], safe_chars: &SafeChars) -> String {
    let cleaned = clean_bytes(image);
    let cleaned = go::remove_break_bytes(&cleaned);
    let start = cleaned
        .iter()
        .position(|&c| c != b'/')
        .unwrap_or(cleaned.len());
    let end = cleaned
        .iter()
        .rposition(|&c| c != b'/')
        .map_or(start, |i| i + 1);
    let trimmed = &cleaned[start..end];
    let mut out: Vec<u8> = Vec::with_capacity(trimmed.len() + 16);
    for &c in trimmed {
        if !safe_chars.should_escape(c) {
            out.push(c);
        } else if c == b' ' {
            out.push(b'+');
        } else {
            let mut esc = String::with_capacity(3);
            go::push_pct(&mut esc, c);
            out.extend_from_slice(esc.as_bytes());
        }
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => {
            let mut text = String::new();
            for chunk in e.as_bytes().utf8_chunks() {
                text.push_str(chunk.valid());
                for &c in chunk.invalid() {
                    go::push_pct(&mut text, c);
                }
            }
            text
        }
    }
}

/// Go's `path.Clean`: the shortest equivalent path by purely lexical
/// processing (`//` and `.` removed, `x/..` folded, `/..` at the root
/// dropped); `"."` for an empty result.
pub fn clean(path: &str) -> String {
    // Only whole ASCII segments are removed, so UTF-8 stays UTF-8.
    go::lossy_string(clean_bytes(path.as_bytes()))
}

/// [`clean`] on bytes that need not be UTF-8.
fn clean_bytes(b: &[u8]) -> Vec<u8> {
    if b.is_empty() {
        return b".".to_vec();
    }
    let rooted = b[0] == b'/';
    let n = b.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    let at = |i: usize| b.get(i).copied();
    while r < n {
        if b[r] == b'/' || (b[r] == b'.' && (r + 1 == n || b[r + 1] == b'/')) {
            // An empty or `.` element.
            r += 1;
        } else if b[r] == b'.' && at(r + 1) == Some(b'.') && (r + 2 == n || b[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && b[r] != b'/' {
                out.push(b[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return b".".to_vec();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys that normalising would give another key's entry (results:
    /// request paths; sources: image keys) are told apart; `scheme://`
    /// URLs are kept.
    #[test]
    fn keys_that_clean_to_another_key_are_told_apart() {
        for kept in [
            "a.png",
            "fit-in/10x10/a.png",
            "fit-in/10x10/http://h/a.png",
            "filters:watermark(https://h/w.png,0,0,0)/http://h/a.png",
            "filters:text(a%20b,1,1)/a+b.png",
            "d/a b.png",
            "https://h:1/x/y.png?q",
        ] {
            assert!(cleans_to_itself(kept), "{kept}");
        }
        for merged in [
            "meta//../a.png",
            "fit-in/10x10/filters:grayscale()//../a.png",
            "fit-in//10x10/a.png",
            "a/./b.png",
            "a.png/",
            "/a.png",
            "http:/h/a.png",
            "filters:text(a:/b,1,1)/a.png",
            "http:///h/a.png",
            "http://evil/x/../../victim/a.png",
            "a\u{b}.png",
        ] {
            assert!(!cleans_to_itself(merged), "{merged}");
        }
    }

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("a/b/../../..", ".."),
            ("/../a", "/a"),
            ("a//b/./c/", "a/b/c"),
            ("../../x", "../../x"),
            ("/a/b/..", "/a"),
            ("abc/..", "."),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn escaping() {
        let d = SafeChars::default();
        assert_eq!(normalize("/a b/c:d/", &d), "a+b/c%3Ad");
        assert_eq!(normalize("a-+", &SafeChars::new("-")), "a-%2B");
        assert_eq!(normalize("a-+", &SafeChars::noop()), "a-+");
        assert_eq!(normalize("a b", &SafeChars::new(" ")), "a b");
        assert_eq!(normalize("哈", &d), "%E5%93%88");
        // Breaks are removed after cleaning: "\n.." is a name, then "..".
        assert_eq!(normalize("a/\n../b", &d), "a/../b");
    }

    /// Bytes that are not UTF-8 are escaped one by one, as imagor escapes
    /// the bytes of a Go string; U+FFFD is its own three bytes.
    #[test]
    fn bytes_that_are_not_utf8_keep_their_own_names() {
        let d = SafeChars::default();
        assert_eq!(normalize_bytes(b"/caf\xe9.png", &d), "caf%E9.png");
        assert_eq!(normalize_bytes(b"caf\xe8.png", &d), "caf%E8.png");
        assert_eq!(normalize("caf\u{FFFD}.png", &d), "caf%EF%BF%BD.png");
        // Cleaning and break removal leave the odd bytes in place.
        assert_eq!(normalize_bytes(b"a/./\xff/../\xfe\n/b", &d), "a/%FE/b");
        assert_eq!(normalize_bytes(b"\xe9\r\xe9", &d), "%E9%E9");
        // Safe characters that let the byte through: it is escaped even so
        // (it would be U+FFFD, one name for 0xE9 and 0xE8), UTF-8 is kept.
        for safe in [SafeChars::noop(), SafeChars::new("\u{e9}\u{e8}")] {
            assert_eq!(normalize_bytes(b"caf\xe9", &safe), "caf%E9");
            assert_eq!(normalize_bytes(b"caf\xe8", &safe), "caf%E8");
        }
        assert_eq!(
            normalize_bytes("café".as_bytes(), &SafeChars::noop()),
            "café"
        );
    }
}
