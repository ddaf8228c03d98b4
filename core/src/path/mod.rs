//! imagor's URL grammar: parse a request path into [`Params`] and generate
//! it back, byte for byte as imagor 1.9.5 (`imagorpath`) does.
//!
//! ```text
//! /HASH|unsafe/[meta/][trim[:top-left|:bottom-right][:TOLERANCE]/][AxB:CxD/]
//!   [fit-in|full-fit-in|adaptive-fit-in|adaptive-full-fit-in/][stretch/]
//!   [-][W]x[-][H]/[PLxPT[:PRxPB]/][left|right|center/][top|bottom|middle/]
//!   [smart/][filters:NAME(ARGS)[:NAME(ARGS)...]/]IMAGE
//! ```
//!
//! ```
//! use imagor::path::{generate_path, parse, Filter};
//!
//! let p = parse("/unsafe/fit-in/-200x150/filters:fill(white):format(webp)/a%20b.jpg");
//! assert!(p.r#unsafe && p.fit_in && p.h_flip);
//! assert_eq!((p.width, p.height), (200, 150));
//! assert_eq!(p.filters[1], Filter::new("format", "webp"));
//! assert_eq!(p.image, "a b.jpg");
//! assert_eq!(generate_path(&p), "fit-in/-200x150/filters:fill(white):format(webp)/a b.jpg");
//! ```
//!
//! Parsing never fails and never panics: unrecognised segments become part
//! of the image, as in imagor. It runs in linear time without recursion.

mod generate;
pub(crate) mod go;
mod normalize;
mod params;
mod parse;
mod typo;

pub use generate::{generate, generate_path, generate_unsafe};
pub(crate) use go::render_bytes;
pub(crate) use normalize::cleans_to_itself;
pub use normalize::{clean, normalize, normalize_bytes, SafeChars};
pub use params::{
    has_cache_bypass, has_crop, has_filter, Filter, Params, H_ALIGN_LEFT, H_ALIGN_RIGHT,
    TRIM_BY_BOTTOM_RIGHT, TRIM_BY_TOP_LEFT, V_ALIGN_BOTTOM, V_ALIGN_TOP,
};
pub use parse::{apply, parse, parse_filters, split_args};
pub use typo::mistyped;

use crate::error::{Error, Result};

/// The longest path a call takes, in bytes: the longest request target the
/// server reads (longer ones are hyper's 414), so a path works the same in
/// process and over HTTP. Parsing, the typo check and the filters' argument
/// parsing run before a call's budget starts, and a 64 MB path took a
/// minute of them.
pub const MAX_PATH_BYTES: usize = 65_534;

/// A 400 for a path longer than [`MAX_PATH_BYTES`].
pub fn check_length(path: &str) -> Result<()> {
    if path.len() > MAX_PATH_BYTES {
        return Err(Error::Invalid(format!(
            "the path is {} bytes long, longer than {MAX_PATH_BYTES}",
            path.len()
        )));
    }
    Ok(())
}

/// [`parse`] of a path no longer than [`MAX_PATH_BYTES`].
pub fn try_parse(path: &str) -> Result<Params> {
    check_length(path)?;
    Ok(parse(path))
}

/// Go's `url.QueryUnescape`: `%XX` decoded and `+` read as a space; `None`
/// when an escape is malformed (`100%`, `%zz`). imagor's server retries a
/// failed request with the query-unescaped path. Decoded bytes that are not
/// UTF-8 become U+FFFD, one per byte, as Go's JSON output shows them.
pub fn query_unescape(s: &str) -> Option<String> {
    go::query_unescape(s).map(go::lossy_string)
}

/// imagor's retry of a refused request: `path` query-unescaped and parsed
/// again (`None` when an escape is malformed). Go parses the decoded bytes
/// as they are and signs them. Bytes that are not UTF-8 (`caf%E9.png`
/// decoded) are written back as `%XX` for parsing here, so the image reads
/// them as its bytes again, and [`Params::path_raw`] keeps the bytes of the
/// signed path: a client that signed them is accepted, as by imagor.
pub fn parse_query_unescaped(path: &str) -> Option<Params> {
    let bytes = go::query_unescape(path)?;
    if let Ok(text) = std::str::from_utf8(&bytes) {
        return Some(parse(text));
    }
    let text = go::render_pct(&bytes);
    let mut p = parse(&text);
    // What precedes the signed path (slashes, `params/`, the hash or
    // `unsafe/`) is ASCII, the same in the text and in the bytes once
    // both lost their line breaks.
    let prefix = go::remove_breaks(&text).len() - p.path.len();
    p.path_raw = go::remove_break_bytes(&bytes)
        .get(prefix..)
        .map(<[u8]>::to_vec);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retry keeps the bytes of the signed path, after the hash and
    /// without line breaks, as Go's `Parse` of the decoded bytes has them.
    #[test]
    fn the_retry_signs_the_bytes_the_path_decodes_to() {
        let p = parse_query_unescaped("/params/abcdefghijklmnopq/%0Ameta/caf%E9%0A.png%2B")
            .expect("parsed");
        assert_eq!(p.hash, "abcdefghijklmnopq");
        assert_eq!(p.path, "meta/caf%E9.png+");
        assert_eq!(p.path_bytes(), b"meta/caf\xe9.png+");
        assert_eq!(p.image_bytes(), b"caf\xe9.png ");
        let p = parse_query_unescaped("/unsafe/caf%C3%A9.png").expect("parsed");
        assert_eq!((p.path.as_str(), p.path_raw), ("caf\u{e9}.png", None));
        assert!(parse_query_unescaped("/unsafe/100%").is_none());
        // Edited params no longer use the bytes.
        let mut p = parse_query_unescaped("/unsafe/caf%E9.png").expect("parsed");
        p.path = "other.png".into();
        assert_eq!(p.path_bytes(), b"other.png");
    }
}
