//! Storage and result-storage key styles (imagor's `imagorpath/hasher.go`),
//! chosen by `-imagor-storage-path-style` and
//! `-imagor-result-storage-path-style`.
//!
//! | style | source key | result key |
//! |---|---|---|
//! | `original` | the image | the request path ([`Params::path`]) |
//! | `digest` | `ab/cd/ef01…` (SHA1 of the image) | `ab/cd/ef01…` (SHA1 of the path) |
//! | `suffix` | – | `dir/name.<20 hex>.ext` |
//! | `size` | – | `dir/name.<20 hex>_WxH.ext` |
//!
//! The result keys hash [`Params::path`], or the path generated from the
//! params when it is empty.
//!
//! ```
//! use imagor::hasher::{digest_storage_hasher, suffix_result_storage_hasher};
//! use imagor::path::parse;
//!
//! assert_eq!(
//!     digest_storage_hasher("foo/bar.jpg").len(),
//!     42 // "xx/yy/" + 36 hex digits
//! );
//! let key = suffix_result_storage_hasher(&parse("fit-in/16x17/foobar"));
//! assert_eq!(key, "foobar.d5c2804e5d81c475bee5");
//! ```

use std::fmt::Write as _;
use std::str::FromStr;

use sha1::{Digest, Sha1};

use crate::path::{generate_path, Params};
use crate::Error;

fn sha1_hex(data: &[u8]) -> String {
    let digest = Sha1::digest(data);
    let mut hex = String::with_capacity(40);
    for b in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// `ab/cd/rest` from the SHA1 hex digest of `data`.
fn hex_digest_path(data: &[u8]) -> String {
    let hex = sha1_hex(data);
    format!("{}/{}/{}", &hex[..2], &hex[2..4], &hex[4..])
}

/// The path the result key is computed from.
fn result_path(p: &Params) -> String {
    if p.path.is_empty() {
        generate_path(p)
    } else {
        p.path.clone()
    }
}

/// Source-storage key in `digest` style (imagor's `DigestStorageHasher`):
/// `ab/cd/<36 hex>` from the SHA1 of the image's bytes (UTF-8 or not, as
/// the URL decoded them: [`Params::image_bytes`]).
pub fn digest_storage_hasher(image: impl AsRef<[u8]>) -> String {
    hex_digest_path(image.as_ref())
}

/// Result-storage key in `digest` style (imagor's
/// `DigestResultStorageHasher`): `ab/cd/<36 hex>` from the SHA1 of the path.
pub fn digest_result_storage_hasher(p: &Params) -> String {
    hex_digest_path(result_path(p).as_bytes())
}

/// Result-storage key in `suffix` style (imagor's
/// `SuffixResultStorageHasher`): the image with `.<first 20 hex of the path
/// SHA1>` before its extension. The extension becomes `.json` for `meta/`
/// requests and follows the last `format()` filter otherwise; an image
/// without extension just gets the suffix.
pub fn suffix_result_storage_hasher(p: &Params) -> String {
    suffixed(p, false)
}

/// Result-storage key in `size` style (imagor's
/// `SizeSuffixResultStorageHasher`): like
/// [`suffix_result_storage_hasher`] with `_WxH` after the digest when a
/// width or height is set.
pub fn size_suffix_result_storage_hasher(p: &Params) -> String {
    suffixed(p, true)
}

fn suffixed(p: &Params, with_size: bool) -> String {
    let hex = sha1_hex(result_path(p).as_bytes());
    let mut hash = format!(".{}", &hex[..20]);
    if with_size && (p.width != 0 || p.height != 0) {
        // Writing to a String cannot fail.
        let _ = write!(hash, "_{}x{}", p.width, p.height);
    }
    let image = p.image.as_str();
    match image.rfind('.') {
        Some(dot) if !matches!(image.rfind('/'), Some(slash) if slash > dot) => {
            let mut ext = image[dot..].to_owned();
            if p.meta {
                ext = ".json".to_owned();
            } else if let Some(f) = p.filters.iter().rev().find(|f| f.name == "format") {
                ext = format!(".{}", f.args);
            }
            format!("{}{hash}{ext}", &image[..dot])
        }
        _ => format!("{image}{hash}"),
    }
}

/// How source images are keyed in storage (`-imagor-storage-path-style`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum StoragePathStyle {
    /// The image path itself (the storage normalises it).
    #[default]
    Original,
    /// [`digest_storage_hasher`].
    Digest,
}

impl StoragePathStyle {
    /// The storage key for `image`.
    pub fn hash(self, image: &str) -> String {
        match self {
            StoragePathStyle::Original => image.to_owned(),
            StoragePathStyle::Digest => digest_storage_hasher(image),
        }
    }

    /// The storage key for an image's bytes ([`Params::image_bytes`]), or
    /// `None` where no key names them alone: bytes that are not UTF-8 in
    /// the original style (a storage key is text; imagor escapes such a
    /// byte when it names the file, `caf%E9.jpg`, which a text key shown
    /// with U+FFFD cannot say), and a key that the storages' normalisation
    /// would merge with another image's
    /// (`path::cleans_to_itself`). The digest
    /// style hashes the bytes, as imagor does.
    pub fn key(self, image: &[u8]) -> Option<String> {
        match self {
            StoragePathStyle::Original => std::str::from_utf8(image)
                .ok()
                .filter(|k| crate::path::cleans_to_itself(k))
                .map(str::to_owned),
            StoragePathStyle::Digest => Some(digest_storage_hasher(image)),
        }
    }
}

impl FromStr for StoragePathStyle {
    type Err = Error;

    /// `original` or `digest`, case-insensitive. imagor silently treats
    /// unknown values as `original`; here they are an [`Error::Invalid`].
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "original" => Ok(StoragePathStyle::Original),
            "digest" => Ok(StoragePathStyle::Digest),
            _ => Err(Error::invalid_msg(format!(
                "unknown storage path style {s:?}: expected original or digest"
            ))),
        }
    }
}

/// How processed results are keyed (`-imagor-result-storage-path-style`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ResultStoragePathStyle {
    /// The request path ([`Params::path`]) as is.
    #[default]
    Original,
    /// [`digest_result_storage_hasher`].
    Digest,
    /// [`suffix_result_storage_hasher`].
    Suffix,
    /// [`size_suffix_result_storage_hasher`].
    Size,
}

impl ResultStoragePathStyle {
    /// The result-storage key for `p`.
    pub fn hash(self, p: &Params) -> String {
        match self {
            ResultStoragePathStyle::Original => p.path.clone(),
            ResultStoragePathStyle::Digest => digest_result_storage_hasher(p),
            ResultStoragePathStyle::Suffix => suffix_result_storage_hasher(p),
            ResultStoragePathStyle::Size => size_suffix_result_storage_hasher(p),
        }
    }
}

impl FromStr for ResultStoragePathStyle {
    type Err = Error;

    /// `original`, `digest`, `suffix` or `size`, case-insensitive. imagor
    /// silently treats unknown values as `original`; here they are an
    /// [`Error::Invalid`].
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "original" => Ok(ResultStoragePathStyle::Original),
            "digest" => Ok(ResultStoragePathStyle::Digest),
            "suffix" => Ok(ResultStoragePathStyle::Suffix),
            "size" => Ok(ResultStoragePathStyle::Size),
            _ => Err(Error::invalid_msg(format!(
                "unknown result storage path style {s:?}: expected original, digest, suffix or size"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{parse, Filter};

    #[test]
    fn imagor_hasher_tests() {
        assert_eq!(
            digest_storage_hasher("/foo/bar"),
            hex_digest_path(b"/foo/bar")
        );
        // The bytes a URL decoded to, UTF-8 or not: `caf%E9.png` is hashed
        // as the 8 bytes `caf\xE9.png` (SHA1 89fe7aa3...), as imagor does,
        // not as the text shown with U+FFFD.
        assert_eq!(
            StoragePathStyle::Digest.key(b"caf\xe9.png").as_deref(),
            Some("89/fe/7aa3ed9177b6741e2c8a4c9656c1ec483139")
        );
        assert_eq!(StoragePathStyle::Original.key(b"caf\xe9.png"), None);
        // Keys that cleaning would merge with another image's.
        for merged in [
            "http://evil/x/../../victim/a.png",
            "http://host/up//../a.png",
            "a/../b.png",
            "a//b.png",
            "a/./b.png",
            "/a.png",
            "a.png/",
            "a\u{b}.png",
        ] {
            assert_eq!(
                StoragePathStyle::Original.key(merged.as_bytes()),
                None,
                "{merged}"
            );
        }
        for kept in [
            "a.png",
            "d/a b.png",
            "http://host/a.png",
            "https://h:1/x/y.png?q",
        ] {
            assert_eq!(
                StoragePathStyle::Original.key(kept.as_bytes()).as_deref(),
                Some(kept)
            );
        }
        assert_eq!(
            StoragePathStyle::Original.key(b"caf.png").as_deref(),
            Some("caf.png")
        );
        let mut p = parse("fit-in/16x17/foobar");
        assert_eq!(
            size_suffix_result_storage_hasher(&p),
            "foobar.d5c2804e5d81c475bee5_16x17"
        );
        p.path.clear();
        assert_eq!(
            digest_result_storage_hasher(&p),
            "d5/c2/804e5d81c475bee50f731db17ee613f43262"
        );
    }

    #[test]
    fn extension_rules() {
        let mut p = Params {
            image: "a.b/c".into(),
            ..Params::default()
        };
        assert!(suffix_result_storage_hasher(&p).starts_with("a.b/c."));
        p.image = "x/y.png".into();
        p.filters = vec![Filter::new("format", "webp"), Filter::new("format", "avif")];
        assert!(suffix_result_storage_hasher(&p).ends_with(".avif"));
        p.meta = true;
        assert!(suffix_result_storage_hasher(&p).ends_with(".json"));
    }

    #[test]
    fn styles_from_str() {
        assert_eq!(
            "SIZE".parse::<ResultStoragePathStyle>().ok(),
            Some(ResultStoragePathStyle::Size)
        );
        assert!("x".parse::<StoragePathStyle>().is_err());
        assert_eq!(StoragePathStyle::Original.hash("a b"), "a b");
    }
}
