//! Re-statements of the few Go standard library behaviours imagor's path code
//! relies on: `strconv.Atoi`, `strconv.FormatFloat`, `url.QueryUnescape`,
//! `url.PathEscape`, `base64.RawURLEncoding.Decode` and the `breaksCleaner`
//! replacer. They are written from the documented Go semantics so that edge
//! cases (overflow, bad escapes, stray line breaks) come out as in imagor.

use std::borrow::Cow;

/// Characters imagor's `breaksCleaner` deletes before parsing or normalising.
fn is_break(c: char) -> bool {
    matches!(
        c,
        '\r' | '\n' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Remove every line break imagor's `breaksCleaner` removes.
pub(crate) fn remove_breaks(s: &str) -> Cow<'_, str> {
    if s.contains(is_break) {
        Cow::Owned(s.chars().filter(|&c| !is_break(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// [`remove_breaks`] on bytes that need not be UTF-8: the breaks' UTF-8
/// sequences go, every other byte stays (as Go's replacer works on bytes).
pub(crate) fn remove_break_bytes(b: &[u8]) -> Cow<'_, [u8]> {
    let has_break = b.utf8_chunks().any(|c| c.valid().contains(is_break));
    if !has_break {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.extend(remove_breaks(chunk.valid()).as_bytes());
        out.extend_from_slice(chunk.invalid());
    }
    Cow::Owned(out)
}

/// Go's `strconv.Atoi` on a 64-bit platform, with the error ignored.
///
/// A syntax error gives 0; an out-of-range value is clamped to
/// `i64::MAX`/`i64::MIN` (Go returns the clamped value with `ErrRange`).
pub(crate) fn atoi(s: &str) -> i64 {
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return 0;
    }
    // ParseUint(.., 10, 64): stop at the first overflow, even before a later
    // syntax error, exactly like Go's loop.
    const CUTOFF: u64 = u64::MAX / 10 + 1;
    let mut n: u64 = 0;
    let mut overflow = false;
    for &c in digits {
        if !c.is_ascii_digit() {
            return 0;
        }
        if n >= CUTOFF {
            overflow = true;
            break;
        }
        n *= 10;
        match n.checked_add(u64::from(c - b'0')) {
            Some(v) => n = v,
            None => {
                overflow = true;
                break;
            }
        }
    }
    if overflow {
        return if neg { i64::MIN } else { i64::MAX };
    }
    if neg {
        if n > i64::MAX as u64 + 1 {
            i64::MIN
        } else {
            // n <= 2^63: the wrapping negation is exact (2^63 -> i64::MIN).
            (n as i64).wrapping_neg()
        }
    } else if n > i64::MAX as u64 {
        i64::MAX
    } else {
        n as i64
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the digit-and-dot strings the path
/// grammar admits (`12`, `0.5`, `.5`, `1.5`); 0 on failure, ±Inf on overflow.
pub(crate) fn parse_float(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(0.0)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that
/// round-trips, never with an exponent.
pub(crate) fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        // Rust's Display prints the shortest round-trip digits without an
        // exponent, and integral values without a fraction: Go's 'f', -1.
        format!("{v}")
    }
}

/// How Go's `encoding/json` writes a finite float64: `'f'` format between
/// 1e-6 and 1e21, otherwise `'e'` with a two-digit minimum exponent, and
/// `e-07` shortened to `e-7`.
pub(crate) fn json_float(v: f64) -> String {
    let abs = v.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return format_float(v);
    }
    // `{:e}` gives the shortest digits too: "1.5e-7", "1e21".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    match exp.strip_prefix('-') {
        Some(digits) => format!("{mantissa}e-{digits}"),
        None => format!("{mantissa}e+{exp:0>2}"),
    }
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.QueryUnescape`: `%XX` decoded, `+` turned into a space; `None`
/// on a malformed escape. The result may be any bytes (`%FF`).
pub(crate) fn query_unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b'+') {
        return Some(b.to_vec());
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(unhex)?;
                let lo = b.get(i + 2).copied().and_then(unhex)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Append `%XX` for byte `c`.
pub(crate) fn push_pct(out: &mut String, c: u8) {
    out.push('%');
    out.push(char::from(UPPER_HEX[usize::from(c >> 4)]));
    out.push(char::from(UPPER_HEX[usize::from(c & 15)]));
}

/// Go's `url.PathEscape`: keep `A-Za-z0-9-_.~$&+:=@`, percent-encode every
/// other byte (space as `%20`).
pub(crate) fn path_escape(s: &[u8]) -> String {
    let keep = |c: u8| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_' | b'.' | b'~' | b'$' | b'&' | b'+' | b':' | b'=' | b'@'
            )
    };
    let mut out = String::with_capacity(s.len());
    for &c in s {
        if keep(c) {
            out.push(char::from(c));
        } else {
            push_pct(&mut out, c);
        }
    }
    out
}

fn b64url_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Go's `base64.RawURLEncoding.Decode` into a buffer of
/// `DecodedLen(len(src))` bytes, returned whole (as imagor does).
///
/// Go skips `\r`/`\n` inside the input and does not check trailing bits;
/// `=` and any other byte are errors, as is a final group of one character.
/// When line breaks were skipped the buffer keeps trailing zero bytes.
pub(crate) fn raw_url_b64_decode(src: &[u8]) -> Option<Vec<u8>> {
    let n = src.len();
    let mut out = Vec::with_capacity(n / 4 * 3 + n % 4 * 6 / 8);
    let mut quantum = [0u32; 4];
    let mut j = 0;
    for &c in src {
        if c == b'\r' || c == b'\n' {
            continue;
        }
        quantum[j] = b64url_value(c)?;
        j += 1;
        if j == 4 {
            let v = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3];
            out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
            j = 0;
        }
    }
    match j {
        0 => {}
        1 => return None,
        _ => {
            let v = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6;
            out.push((v >> 16) as u8);
            if j == 3 {
                out.push((v >> 8) as u8);
            }
        }
    }
    out.resize(n / 4 * 3 + n % 4 * 6 / 8, 0);
    Some(out)
}

/// Bytes to a `String` the way Go's `encoding/json` shows a string holding
/// invalid UTF-8: every byte of an invalid sequence becomes U+FFFD.
pub(crate) fn lossy_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => render_bytes(
            e.as_bytes(),
            |out, valid| out.push_str(valid),
            |out, _| out.push(char::REPLACEMENT_CHARACTER),
        ),
    }
}

/// `bytes` as text: each run of valid UTF-8 written by `valid`, each byte
/// of an invalid sequence by `invalid` (U+FFFD, `%E9`, `\ufffd`...).
pub(crate) fn render_bytes(
    bytes: &[u8],
    mut valid: impl FnMut(&mut String, &str),
    mut invalid: impl FnMut(&mut String, u8),
) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        valid(&mut out, chunk.valid());
        for &b in chunk.invalid() {
            invalid(&mut out, b);
        }
    }
    out
}

/// `bytes` as text, each byte of an invalid UTF-8 sequence written `%XX`.
pub(crate) fn render_pct(bytes: &[u8]) -> String {
    render_bytes(bytes, |out, valid| out.push_str(valid), push_pct)
}

/// Whether [`lossy_string`] of `bytes` is `text`, without building it.
pub(crate) fn lossy_eq(bytes: &[u8], text: &str) -> bool {
    const FFFD: &[u8] = "\u{FFFD}".as_bytes();
    let mut rest = text.as_bytes();
    for chunk in bytes.utf8_chunks() {
        let Some(after) = rest.strip_prefix(chunk.valid().as_bytes()) else {
            return false;
        };
        rest = after;
        for _ in chunk.invalid() {
            let Some(after) = rest.strip_prefix(FFFD) else {
                return false;
            };
            rest = after;
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_matches_go() {
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("12"), 12);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("-7"), -7);
        assert_eq!(atoi("-"), 0);
        assert_eq!(atoi("1_0"), 0);
        assert_eq!(atoi(" 1"), 0);
        assert_eq!(atoi("12a"), 0);
        assert_eq!(atoi("9223372036854775807"), i64::MAX);
        assert_eq!(atoi("9223372036854775808"), i64::MAX);
        assert_eq!(atoi("-9223372036854775808"), i64::MIN);
        assert_eq!(atoi("-9223372036854775809"), i64::MIN);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        // Go stops at the overflow before it sees the bad byte.
        assert_eq!(atoi("99999999999999999999abc"), i64::MAX);
        assert_eq!(atoi("1234567890123456789a"), 0);
    }

    #[test]
    fn floats_format_like_go() {
        assert_eq!(format_float(100.0), "100");
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(1e-10), "0.0000000001");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(parse_float(".5"), 0.5);
        assert_eq!(parse_float("0.5"), 0.5);
        assert_eq!(parse_float("007"), 7.0);
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(1.5e-10), "1.5e-10");
        assert_eq!(json_float(0.000001), "0.000001");
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1.5e300), "1.5e+300");
        assert_eq!(json_float(123456789.25), "123456789.25");
    }

    #[test]
    fn query_unescape_like_go() {
        assert_eq!(query_unescape("a+b%2B").as_deref(), Some(&b"a b+"[..]));
        assert_eq!(query_unescape("100%"), None);
        assert_eq!(query_unescape("%4"), None);
        assert_eq!(query_unescape("%zz"), None);
        assert_eq!(query_unescape("%FF").as_deref(), Some(&[0xff][..]));
    }

    #[test]
    fn base64_like_go() {
        assert_eq!(
            raw_url_b64_decode(b"Zm9vLmpwZw").as_deref(),
            Some(&b"foo.jpg"[..])
        );
        assert_eq!(raw_url_b64_decode(b"").as_deref(), Some(&b""[..]));
        assert_eq!(raw_url_b64_decode(b"Zm9vLmpwZw=="), None);
        assert_eq!(raw_url_b64_decode(b"Z"), None);
        // Non-zero trailing bits are accepted.
        assert_eq!(raw_url_b64_decode(b"Zh").as_deref(), Some(&b"f"[..]));
        // Line breaks are skipped; the buffer keeps its full length.
        assert_eq!(raw_url_b64_decode(b"Zm9v\n").as_deref(), Some(&b"foo"[..]));
        assert_eq!(
            raw_url_b64_decode(b"Zm9vYg\n").as_deref(),
            Some(&b"foob\0"[..])
        );
    }

    #[test]
    fn public_query_unescape() {
        assert_eq!(
            crate::path::query_unescape("a%2Fb+c").as_deref(),
            Some("a/b c")
        );
        assert_eq!(crate::path::query_unescape("a%"), None);
        assert_eq!(
            crate::path::query_unescape("%FFa").as_deref(),
            Some("\u{fffd}a")
        );
    }

    #[test]
    fn lossy_eq_compares_without_building() {
        for bytes in [&b"a\xe5\x93b"[..], b"caf\xe9", b"plain", b"", b"\xff\xff"] {
            let text = lossy_string(bytes.to_vec());
            assert!(lossy_eq(bytes, &text), "{bytes:?}");
            assert!(!lossy_eq(bytes, &format!("{text}x")), "{bytes:?}");
        }
        assert!(!lossy_eq(b"caf\xe9", "caf"));
        assert!(!lossy_eq(b"caf\xe9", "cafe"));
    }

    #[test]
    fn lossy_replaces_each_byte() {
        assert_eq!(
            lossy_string(vec![b'a', 0xe5, 0x93, b'b']),
            "a\u{fffd}\u{fffd}b"
        );
        assert_eq!(remove_breaks("a\r\nb\u{2028}c\u{85}"), "abc");
    }
}
