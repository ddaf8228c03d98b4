//! Path parsing: imagor's `Parse`, `Apply`, `SplitArgs` and `parseFilters`.
//!
//! imagor matches two regular expressions (RE2, leftmost-first). Every group
//! in them is optional and the last one, `(.+)?`, is unanchored, so the
//! leftmost-first match is found by trying each segment in order and taking
//! the first way it can match at the current position, else skipping it.
//! That is what this hand-written scanner does, in one linear pass and
//! without recursion:
//!
//! ```text
//! /*(params/)?((unsafe/)|([A-Za-z0-9-_=]{17,})/)?(.+)?
//! /*(meta/)?(trim(:(top-left|bottom-right))?(:(\d+))?/)?
//!   (((0?\.)?\d+)x((0?\.)?\d+):(([0-1]?\.)?\d+)x(([0-1]?\.)?\d+)/)?
//!   ((adaptive-full-fit-in|adaptive-fit-in|full-fit-in|fit-in)/)?(stretch/)?
//!   ((\-?)(\d*)x(\-?)(\d*)/)?((\d+)x(\d+)(:(\d+)x(\d+))?/)?
//!   ((left|right|center)/)?((top|bottom|middle)/)?(smart/)?(.+)?
//! ```

use super::go;
use super::params::{Filter, Params, TRIM_BY_TOP_LEFT};

/// Parse an imagor path (`/unsafe/fit-in/200x200/filters:...(...)/image`).
///
/// Never fails: whatever is not recognised ends up in [`Params::image`],
/// as in imagor. Line breaks are removed first; the image is
/// query-unescaped (`%XX`, `+` as space) unless that fails, and `b64:`
/// images are base64url-decoded unless that fails.
pub fn parse(path: &str) -> Params {
    apply(Params::default(), path)
}

/// Parse `path` on top of existing params (imagor's `Apply`): matched
/// segments overwrite fields, filters are appended, `path` is replaced.
pub fn apply(mut p: Params, path: &str) -> Params {
    let cleaned = go::remove_breaks(path);
    let s: &str = &cleaned;
    let b = s.as_bytes();
    let mut i = skip_slashes(b, 0);
    if b[i..].starts_with(b"params/") {
        p.params = true;
        i += 7;
    }
    if b[i..].starts_with(b"unsafe/") {
        p.r#unsafe = true;
        p.path = s[i + 7..].to_owned();
    } else {
        let run = b[i..].iter().take_while(|&&c| is_hash_byte(c)).count();
        if run >= 17 && b.get(i + run) == Some(&b'/') {
            let hash = &s[i..i + run];
            let rest = &s[i + run + 1..];
            if hash != "adaptive-full-fit-in" {
                p.hash = hash.to_owned();
                p.path = rest.to_owned();
            } else {
                // The one keyword long enough to look like a hash.
                p.path = format!("{hash}/{rest}");
            }
        } else {
            p.path = s[i..].to_owned();
        }
    }
    let path = std::mem::take(&mut p.path);
    apply_segments(&mut p, &path);
    p.path = path;
    p
}

fn is_hash_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'='
}

fn skip_slashes(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b'/') {
        i += 1;
    }
    i
}

/// End of the run of ASCII digits starting at `i`.
fn digits_end(b: &[u8], i: usize) -> usize {
    i + b
        .get(i..)
        .map_or(0, |t| t.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// `lit` at `i`: the position after it.
fn lit(b: &[u8], i: usize, lit: &str) -> Option<usize> {
    b.get(i..)?
        .starts_with(lit.as_bytes())
        .then_some(i + lit.len())
}

/// `c` at `i`: the position after it.
fn byte(b: &[u8], i: usize, c: u8) -> Option<usize> {
    (b.get(i) == Some(&c)).then_some(i + 1)
}

/// `\d+` at `i`: the position after the digits.
fn digits1(b: &[u8], i: usize) -> Option<usize> {
    let e = digits_end(b, i);
    (e > i).then_some(e)
}

/// The first of `words`, followed by `/`, at `i`: (word, position after `/`).
fn keyword<'a>(b: &[u8], i: usize, words: &[&'a str]) -> Option<(&'a str, usize)> {
    words
        .iter()
        .find_map(|w| lit(b, i, w).and_then(|e| byte(b, e, b'/')).map(|e| (*w, e)))
}

fn apply_segments(p: &mut Params, path: &str) {
    let b = path.as_bytes();
    let mut i = skip_slashes(b, 0);
    if let Some(e) = lit(b, i, "meta/") {
        p.meta = true;
        i = e;
    }
    if let Some((e, by, tolerance)) = trim(b, i) {
        p.trim = true;
        p.trim_by = by.unwrap_or(TRIM_BY_TOP_LEFT).to_owned();
        p.trim_tolerance = go::atoi(&path[tolerance]);
        i = e;
    }
    if let Some((e, [l, t, r, bt])) = crop(b, i) {
        p.crop_left = go::parse_float(&path[l]);
        p.crop_top = go::parse_float(&path[t]);
        p.crop_right = go::parse_float(&path[r]);
        p.crop_bottom = go::parse_float(&path[bt]);
        i = e;
    }
    let fit = [
        "adaptive-full-fit-in",
        "adaptive-fit-in",
        "full-fit-in",
        "fit-in",
    ];
    if let Some((word, e)) = keyword(b, i, &fit) {
        p.fit_in = true;
        p.adaptive_fit_in = word.starts_with("adaptive-");
        p.full_fit_in = word.contains("full-");
        i = e;
    }
    if let Some(e) = lit(b, i, "stretch/") {
        p.stretch = true;
        i = e;
    }
    if let Some(e) = dimensions(b, i) {
        let mut k = i;
        p.h_flip = b.get(k) == Some(&b'-');
        k += usize::from(p.h_flip);
        let w_end = digits_end(b, k);
        p.width = go::atoi(&path[k..w_end]);
        k = w_end + 1; // 'x'
        p.v_flip = b.get(k) == Some(&b'-');
        k += usize::from(p.v_flip);
        p.height = go::atoi(&path[k..digits_end(b, k)]);
        i = e;
    }
    if let Some((e, nums)) = padding(b, i) {
        let n = |k: usize| nums[k].clone().map_or(0, |r| go::atoi(&path[r]));
        p.padding_left = n(0);
        p.padding_top = n(1);
        if nums[2].is_some() {
            p.padding_right = n(2);
            p.padding_bottom = n(3);
        } else {
            p.padding_right = p.padding_left;
            p.padding_bottom = p.padding_top;
        }
        i = e;
    }
    if let Some((word, e)) = keyword(b, i, &["left", "right", "center"]) {
        p.h_align = word.to_owned();
        i = e;
    }
    if let Some((word, e)) = keyword(b, i, &["top", "bottom", "middle"]) {
        p.v_align = word.to_owned();
        i = e;
    }
    if let Some(e) = lit(b, i, "smart/") {
        p.smart = true;
        i = e;
    }
    if i < b.len() {
        let (filters, image) = parse_filters(&path[i..]);
        p.filters.extend(filters);
        if !image.is_empty() {
            set_image(p, image);
        }
    }
}

/// Query-unescape the image, then base64url-decode a `b64:` image; either
/// step keeps its input when it fails.
fn set_image(p: &mut Params, image: String) {
    let bytes = go::query_unescape(&image).unwrap_or_else(|| image.into_bytes());
    let bytes = match bytes.strip_prefix(b"b64:").map(go::raw_url_b64_decode) {
        Some(Some(decoded)) => {
            p.base64_image = true;
            decoded
        }
        _ => bytes,
    };
    p.image_raw = std::str::from_utf8(&bytes).is_err().then(|| bytes.clone());
    p.image = go::lossy_string(bytes);
}

type Span = std::ops::Range<usize>;

/// `trim(:(top-left|bottom-right))?(:(\d+))?/`: end, keyword, digits.
fn trim(b: &[u8], i: usize) -> Option<(usize, Option<&'static str>, Span)> {
    let j = lit(b, i, "trim")?;
    let by = ["top-left", "bottom-right"]
        .into_iter()
        .find_map(|w| byte(b, j, b':').and_then(|k| lit(b, k, w)).map(|e| (w, e)));
    // Alternatives in priority order: with the keyword, then without.
    let starts = by.map(|(w, e)| (Some(w), e)).into_iter().chain([(None, j)]);
    for (word, k) in starts {
        if let Some(d) = byte(b, k, b':') {
            if let Some(e) = digits1(b, d) {
                if let Some(end) = byte(b, e, b'/') {
                    return Some((end, word, d..e));
                }
            }
        }
        if let Some(end) = byte(b, k, b'/') {
            return Some((end, word, k..k));
        }
    }
    None
}

/// A crop number at `i` followed by `sep`: `(P?\.)?\d+` where `P` is
/// `0` (left, top) or `[01]` (right, bottom). Returns (number, after sep).
fn crop_number(b: &[u8], i: usize, lead: &[u8], sep: u8) -> Option<(Span, usize)> {
    let with_lead = b
        .get(i)
        .filter(|c| lead.contains(*c))
        .and_then(|_| byte(b, i + 1, b'.'))
        .and_then(|k| digits1(b, k));
    let with_dot = byte(b, i, b'.').and_then(|k| digits1(b, k));
    let plain = digits1(b, i);
    [with_lead, with_dot, plain]
        .into_iter()
        .flatten()
        .find_map(|e| byte(b, e, sep).map(|after| (i..e, after)))
}

/// The crop segment `LxT:RxB/`: end and the four number spans.
fn crop(b: &[u8], i: usize) -> Option<(usize, [Span; 4])> {
    let (l, k) = crop_number(b, i, b"0", b'x')?;
    let (t, k) = crop_number(b, k, b"0", b':')?;
    let (r, k) = crop_number(b, k, b"01", b'x')?;
    let (bt, k) = crop_number(b, k, b"01", b'/')?;
    Some((k, [l, t, r, bt]))
}

/// `-?\d*x-?\d*/`: the end.
fn dimensions(b: &[u8], i: usize) -> Option<usize> {
    let k = i + usize::from(b.get(i) == Some(&b'-'));
    let k = byte(b, digits_end(b, k), b'x')?;
    let k = k + usize::from(b.get(k) == Some(&b'-'));
    byte(b, digits_end(b, k), b'/')
}

/// `\d+x\d+(:\d+x\d+)?/`: end and the number spans (right/bottom optional).
fn padding(b: &[u8], i: usize) -> Option<(usize, [Option<Span>; 4])> {
    let pair = |k: usize| -> Option<(Span, Span, usize)> {
        let e1 = digits1(b, k)?;
        let k2 = byte(b, e1, b'x')?;
        let e2 = digits1(b, k2)?;
        Some((k..e1, k2..e2, e2))
    };
    let (l, t, k) = pair(i)?;
    let second = byte(b, k, b':').and_then(pair);
    if let Some((r, bt, e)) = second {
        if let Some(end) = byte(b, e, b'/') {
            return Some((end, [Some(l), Some(t), Some(r), Some(bt)]));
        }
    }
    byte(b, k, b'/').map(|end| (end, [Some(l), Some(t), None, None]))
}

/// Split filter arguments on commas outside parentheses (imagor's
/// `SplitArgs`): `"path(a,b),x,y"` gives `["path(a,b)", "x", "y"]`.
///
/// An empty string gives no arguments; a trailing empty argument is
/// dropped (`"a,"` gives `["a"]`), inner empty ones are kept.
pub fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    if args.is_empty() {
        return out;
    }
    let mut depth: i64 = 0;
    let mut start = 0;
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(args[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < args.len() {
        out.push(args[start..].to_owned());
    }
    out
}

/// Parse the `filters:` segment (imagor's `parseFilters`): the filters and
/// the image path after the first `/` outside parentheses.
///
/// Input without the `filters:` prefix is all image. Text outside
/// `name(args)` is dropped, a name without parentheses gives no filter, and
/// parentheses may nest (`image(/fit-in/filters:fill(red)/a.png)`).
pub fn parse_filters(input: &str) -> (Vec<Filter>, String) {
    let Some(s) = input.strip_prefix("filters:") else {
        return (Vec::new(), input.to_owned());
    };
    let mut filters = Vec::new();
    let mut buf = String::new();
    let mut depth: i64 = 0;
    let mut name = String::new();
    let mut args = String::new();
    let mut image = "";
    for (i, c) in s.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    name = std::mem::take(&mut buf);
                } else {
                    buf.push(c);
                }
                depth += 1;
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    args = std::mem::take(&mut buf);
                } else {
                    buf.push(c);
                }
            }
            '/' if depth == 0 => image = &s[i + 1..],
            ':' if depth == 0 => {
                filters.push(Filter {
                    name: std::mem::take(&mut name),
                    args: std::mem::take(&mut args),
                });
                buf.clear();
            }
            _ => buf.push(c),
        }
        if !image.is_empty() {
            break;
        }
    }
    if !name.is_empty() {
        filters.push(Filter { name, args });
    }
    (filters, image.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_grammar() {
        let p = parse("/params/unsafe/meta/trim:bottom-right:5/0.1x0.2:0.3x0.4/adaptive-full-fit-in/stretch/-10x-20/1x2:3x4/right/bottom/smart/filters:a(1):b()/img.png");
        assert!(p.params && p.r#unsafe && p.meta && p.trim && p.stretch && p.smart);
        assert_eq!((p.trim_by.as_str(), p.trim_tolerance), ("bottom-right", 5));
        assert_eq!(
            [p.crop_left, p.crop_top, p.crop_right, p.crop_bottom],
            [0.1, 0.2, 0.3, 0.4]
        );
        assert!(p.fit_in && p.adaptive_fit_in && p.full_fit_in);
        assert_eq!(
            (p.width, p.height, p.h_flip, p.v_flip),
            (10, 20, true, true)
        );
        assert_eq!(
            [
                p.padding_left,
                p.padding_top,
                p.padding_right,
                p.padding_bottom
            ],
            [1, 2, 3, 4]
        );
        assert_eq!(
            (p.h_align.as_str(), p.v_align.as_str()),
            ("right", "bottom")
        );
        assert_eq!(p.filters, vec![Filter::new("a", "1"), Filter::new("b", "")]);
        assert_eq!(p.image, "img.png");
    }

    #[test]
    fn trim_alternatives() {
        assert_eq!(parse("trim:7/x").trim_tolerance, 7);
        assert_eq!(parse("trim:top-left/x").trim_by, "top-left");
        let p = parse("trim:top-left:x/y");
        assert!(!p.trim);
        assert_eq!(p.image, "trim:top-left:x/y");
        assert!(!parse("trim:/x").trim);
    }

    #[test]
    fn crop_numbers() {
        let p = parse("0.5x.5:1.5x1/img");
        assert_eq!(
            [p.crop_left, p.crop_top, p.crop_right, p.crop_bottom],
            [0.5, 0.5, 1.5, 1.0]
        );
        assert_eq!(parse("0.x1:1x1/img").crop_left, 0.0);
        assert_eq!(parse("2.5x1:1x1/img").image, "2.5x1:1x1/img");
    }

    #[test]
    fn padding_falls_back_to_two_values() {
        let p = parse("1x1/2x3:4x/img");
        assert_eq!((p.padding_left, p.padding_right), (0, 0));
        assert_eq!(p.image, "2x3:4x/img");
        let p = parse("1x1/2x3/img");
        assert_eq!((p.padding_right, p.padding_bottom), (2, 3));
    }

    #[test]
    fn hash_needs_17_chars_and_slash() {
        assert_eq!(parse("abcdefghijklmnopq/x").hash, "abcdefghijklmnopq");
        assert_eq!(parse("abcdefghijklmnopq").image, "abcdefghijklmnopq");
        assert_eq!(parse("abcdefghijklmnop/x").hash, "");
        let p = parse("adaptive-full-fit-in/1x1/x");
        assert_eq!((p.hash.as_str(), p.width), ("", 1));
    }

    #[test]
    fn apply_keeps_and_appends() {
        let base = parse("fit-in/10x10/filters:a()/x.png");
        let p = apply(base, "filters:b()/y.png");
        assert!(p.fit_in);
        assert_eq!(p.filters.len(), 2);
        assert_eq!(
            (p.path.as_str(), p.image.as_str()),
            ("filters:b()/y.png", "y.png")
        );
    }

    #[test]
    fn filters_edge_cases() {
        let (f, img) = parse_filters("filters::a()/x");
        assert_eq!(f, vec![Filter::default(), Filter::new("a", "")]);
        assert_eq!(img, "x");
        let (f, img) = parse_filters("filters:a)b(c)/d");
        assert_eq!(f, vec![]);
        assert_eq!(img, "");
        let (f, _) = parse_filters("filters:a(b)c(d)/e");
        assert_eq!(f, vec![Filter::new("c", "d")]);
        assert_eq!(split_args("a,"), vec!["a"]);
        assert_eq!(split_args(","), vec![""]);
    }

    #[test]
    fn b64_with_escaped_line_break_keeps_go_buffer() {
        let p = parse("unsafe/b64:Zm9vYg%0A");
        assert!(p.base64_image);
        assert_eq!(p.image, "foob\0");
        let p = parse("unsafe/%FF.jpg");
        assert_eq!(p.image, "\u{fffd}.jpg");
    }
}
