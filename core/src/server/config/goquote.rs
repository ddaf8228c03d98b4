//! Go string literals: `strconv.Quote` (the `%q` of `-h` defaults and of
//! flag error messages) and `strconv.Unquote` (values in ff's `.env`
//! parser).

/// `strconv.Quote` (Go's `%q`): double quotes, `\"` and `\\`, the short
/// escapes `\a \b \f \n \r \t \v`, `\xNN` for other control bytes and
/// `\uNNNN` for non-printable characters (spaces other than U+0020 and the
/// common format characters; Go's full `IsPrint` table is approximated).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c < ' ' || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}')
        || matches!(c, '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'))
}

/// `strconv.Unquote`: a Go string literal `"…"` (with escapes), a raw
/// string `` `…` `` (carriage returns dropped) or a one-character `'…'`
/// literal, as ff's `.env` parser unquotes values. `None` if `s` is not
/// exactly one such literal. Bytes from `\x`/octal escapes that do not
/// form UTF-8 become U+FFFD.
pub fn unquote(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return None;
    }
    let quote = bytes[0];
    let inner = &s[1..];
    match quote {
        b'`' => {
            let body = inner.strip_suffix('`')?;
            if body.contains('`') {
                return None;
            }
            Some(body.replace('\r', ""))
        }
        b'"' | b'\'' => {
            let mut out: Vec<u8> = Vec::with_capacity(s.len());
            let mut rest = inner;
            let mut chars = 0;
            while !rest.starts_with(quote as char) {
                if quote == b'\'' && chars == 1 {
                    return None;
                }
                rest = unquote_char(rest, quote, &mut out)?;
                chars += 1;
            }
            if rest.len() != 1 {
                return None;
            }
            Some(String::from_utf8_lossy(&out).into_owned())
        }
        _ => None,
    }
}

/// `strconv.UnquoteChar`: decode one (possibly escaped) character of a
/// literal quoted by `quote` into `out`; the rest of the input.
fn unquote_char<'a>(s: &'a str, quote: u8, out: &mut Vec<u8>) -> Option<&'a str> {
    let mut it = s.chars();
    let c = it.next()?;
    if c == '\n' || c as u32 == u32::from(quote) {
        return None;
    }
    if c != '\\' {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        return Some(it.as_str());
    }
    let esc = it.next()?;
    let rest = it.as_str();
    let simple = match esc {
        'a' => Some(b'\x07'),
        'b' => Some(b'\x08'),
        'f' => Some(b'\x0c'),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(b'\x0b'),
        '\\' => Some(b'\\'),
        '\'' | '"' if esc as u32 == u32::from(quote) => Some(esc as u8),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Some(rest);
    }
    match esc {
        'x' | 'u' | 'U' => {
            let n = match esc {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = rest.get(..n)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(hex, 16).ok()?;
            if esc == 'x' {
                out.push(v as u8);
            } else {
                let c = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Some(&rest[n..])
        }
        '0'..='7' => {
            let digits = rest.get(..2)?;
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return None;
            }
            let v = (esc as u32 - '0' as u32) * 64 + u32::from_str_radix(digits, 8).ok()?;
            out.push(u8::try_from(v).ok()?);
            Some(&rest[2..])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_as_go() {
        assert_eq!(quote(".env"), "\".env\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("\t\n\x01\x7f"), "\"\\t\\n\\x01\\x7f\"");
        assert_eq!(quote("é\u{a0}"), "\"é\\u00a0\"");
    }

    #[test]
    fn unquote_as_go() {
        let ok = [
            ("\"abc\"", "abc"),
            ("\"\"", ""),
            ("''", ""),
            ("'a'", "a"),
            ("'\\''", "'"),
            ("\"a\\tb\\n\"", "a\tb\n"),
            ("\"\\x41\\101\\u00e9\\U0001F600\"", "AAé😀"),
            ("\"\\\"q\\\"\"", "\"q\""),
            ("`raw \\n`", "raw \\n"),
            ("`a\rb`", "ab"),
            ("\"é\"", "é"),
        ];
        for (s, want) in ok {
            assert_eq!(unquote(s).as_deref(), Some(want), "{s}");
        }
        let bad = [
            "\"",
            "'",
            "`",
            "abc",
            "\"abc",
            "'ab'",
            "\"a\"b\"",
            "\"\\'\"",
            "'\\\"'",
            "\"\\q\"",
            "\"\\x4\"",
            "\"\\400\"",
            "\"\\ud800\"",
            "`a`b`",
            "\"a\" ",
            "'",
        ];
        for s in bad {
            assert_eq!(unquote(s), None, "{s:?}");
        }
    }
}
