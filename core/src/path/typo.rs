//! Mistyped operations in a path given to `process()` / `meta()` with bytes.
//!
//! imagor's grammar reads everything from the first segment it does not
//! recognise as the image, and `process()` ignores the image (the caller
//! already has the bytes). So `fit_in/300x200/` silently becomes "no
//! operations, image `fit_in/300x200/`" and the original comes back. An image
//! segment there is usually a legitimate file name (`photo.jpg`, kept so the
//! same path serves and processes), but one that holds something shaped like
//! an operation is almost always a typo: [`mistyped`] finds it, so that
//! `strict_filters` can refuse it and the bindings can warn.

/// Operation keywords of the grammar, compared without case, `-` or `_`.
const KEYWORDS: &[(&str, &str)] = &[
    ("fitin", "fit-in"),
    ("fullfitin", "full-fit-in"),
    ("adaptivefitin", "adaptive-fit-in"),
    ("adaptivefullfitin", "adaptive-full-fit-in"),
    ("stretch", "stretch"),
    ("smart", "smart"),
    ("trim", "trim"),
    ("meta", "meta"),
    ("unsafe", "unsafe"),
];

/// What the grammar would have accepted for `seg`, when `seg` looks like a
/// misspelt operation.
fn suggestion(seg: &str) -> Option<String> {
    let folded: String = seg
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    if let Some((_, right)) = KEYWORDS.iter().find(|(k, _)| *k == folded) {
        return Some((*right).to_string());
    }
    // A size: 300X200, 300*200, 300x200 after an earlier typo.
    let size = seg.replace(['X', '*'], "x");
    if let Some((w, h)) = size.split_once('x') {
        let num = |s: &str| {
            let s = s.strip_prefix('-').unwrap_or(s);
            s.chars().all(|c| c.is_ascii_digit()) && s.len() <= 6
        };
        if num(w) && num(h) && (w.len() + h.len()) > 0 && size.matches('x').count() == 1 {
            return Some(size);
        }
    }
    // Filters: `filter:blur(2)`, `Filters:...`, or a bare `blur(2)`.
    let lower = seg.to_ascii_lowercase();
    let word = lower
        .strip_prefix("filters")
        .or(lower.strip_prefix("filter"));
    if word.is_some_and(|rest| rest.starts_with([':', '('])) && !lower.starts_with("filters:") {
        let rest = seg.find([':', '(']).map_or("", |i| &seg[i + 1..]);
        return Some(format!("filters:{rest}"));
    }
    if lower.starts_with("filters:") && seg != lower {
        return Some(format!("filters:{}", &seg["filters:".len()..]));
    }
    let bare = seg.find('(').is_some_and(|i| {
        i > 0
            && seg.ends_with(')')
            && seg[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if bare {
        return Some(format!("filters:{seg}"));
    }
    None
}

/// When the image part of `path` (as `process()` reads it, which ignores
/// it) holds a segment shaped like an operation, a message naming it and
/// what the grammar expects; `None` for a plain image key or no image.
///
/// ```
/// use imagor::path::mistyped;
/// assert!(mistyped("fit_in/300x200/").unwrap().contains("`fit_in` (did you mean `fit-in`?)"));
/// assert!(mistyped("300X200/").unwrap().contains("`300x200`"));
/// assert_eq!(mistyped("fit-in/300x200/filters:format(webp)/photos/a.jpg"), None);
/// assert_eq!(mistyped("fit-in/300x200/"), None);
/// ```
pub fn mistyped(path: &str) -> Option<String> {
    if path.len() > super::MAX_PATH_BYTES {
        return None; // Refused as too long anyway.
    }
    // `process()` reads a path without a trailing image as operations only.
    let params = super::parse(&format!("{}/_", path.trim_end_matches('/')));
    let image = params
        .image
        .strip_suffix("/_")
        .or(params.image.strip_suffix('_'))?;
    if image.is_empty() || params.base64_image || image.starts_with("color:") {
        return None;
    }
    let segments: Vec<&str> = image.split('/').collect();
    // The last segment is a file name unless the path ended with `/`.
    let ops = if path.ends_with('/') {
        &segments[..]
    } else {
        &segments[..segments.len() - 1]
    };
    let (seg, fix) = ops.iter().find_map(|s| suggestion(s).map(|f| (*s, f)))?;
    let hint = if fix == seg {
        String::new()
    } else {
        format!(" (did you mean `{}`?)", quoted(&fix))
    };
    Some(format!(
        "the path has `{}`{hint} where an operation was expected, so `{}` was read as \
         the image, which is ignored when processing bytes",
        quoted(seg),
        quoted(image)
    ))
}

/// Path text as a warning quotes it: control characters escaped (a path
/// may carry terminal escapes into a log) and at most [`QUOTED_CHARS`]
/// characters, so the warnings a stream of hostile paths raises stay small.
fn quoted(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == QUOTED_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest text a warning quotes from the path.
const QUOTED_CHARS: usize = 80;

#[cfg(test)]
mod tests {
    use super::mistyped;

    #[test]
    fn quoted_text_is_short_and_escaped() {
        let long = format!("fit_in/300x200/{}\u{1b}[31m/", "a".repeat(5000));
        let msg = mistyped(&long).expect("a typo");
        assert!(msg.len() < 400, "{msg}");
        assert!(!msg.contains('\u{1b}'), "{msg}");
        let escaped = mistyped("fit_in/300x200/\u{1b}[31mred.png/").expect("a typo");
        assert!(escaped.contains("\\u{1b}[31m"), "{escaped}");
    }

    #[test]
    fn typos_are_found() {
        for (path, needle) in [
            ("fit_in/300x200/", "did you mean `fit-in`"),
            ("fitin/300x200/", "did you mean `fit-in`"),
            ("FIT-IN/300x200/", "did you mean `fit-in`"),
            ("300X200/", "did you mean `300x200`"),
            ("300*200/filters:format(webp)", "did you mean `300x200`"),
            (
                "fit-in/300x200/filter:format(webp)/",
                "did you mean `filters:format(webp)`",
            ),
            ("300x200/Filters:blur(2)/", "did you mean `filters:blur(2)`"),
            ("300x200/blur(2)/", "did you mean `filters:blur(2)`"),
            ("unsafe/fit_in/300x200/photo.jpg", "`fit_in`"),
            ("smartt/300x200/", "`300x200` where"),
        ] {
            let msg = mistyped(path).unwrap_or_else(|| panic!("{path}: no typo found"));
            assert!(msg.contains(needle), "{path}: {msg}");
        }
    }

    #[test]
    fn images_are_not_typos() {
        for path in [
            "",
            "fit-in/300x200/",
            "fit-in/300x200",
            "300x200/photo.jpg",
            "unsafe/fit-in/300x200/filters:format(webp)/photos/2024/a.jpg",
            "filters:format(webp)",
            "10x10/color:red",
            "meta/fit-in/10x10/",
            "300x200/b64:Zml0X2luLzMwMHgyMDA=",
            "300x200/photos/a(1).jpg",
            "10x10/filter><rect width=\"2\"/>/x",
            "10x10/filtered/x.jpg",
        ] {
            assert_eq!(mistyped(path), None, "{path}");
        }
    }
}
