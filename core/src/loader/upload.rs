//! imagor's upload loader (`loader/uploadloader`): the image of a `POST`
//! request is its body, raw or as a `multipart/form-data` file field.
//!
//! As in imagor: any other method is not found (so the loader is inert
//! for `GET`); a non-empty key is invalid (the image of an upload is in
//! the body, not the path); a request without `Content-Type` is a 400
//! `missing Content-Type header`. A `Content-Type` starting with
//! `multipart/form-data` is parsed as a form and the first file part
//! named by the form field option is the image; otherwise the body is.
//! The declared content type (the part's, or the request's, verbatim) is
//! checked against the accept list and becomes the blob's content type.
//!
//! Differences from imagor: the request body is already in memory here
//! (the server bounds it), so nothing spills to temporary files; the
//! texts after `failed to parse multipart form: ` come from the `multer`
//! parser rather than Go's (those for a missing boundary, a content type
//! that is not a form, too many parts and a missing file are Go's).

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::{Bytes, BytesMut};

use super::{BoxFuture, LoadContext, Loader};
use crate::blob::Blob;
use crate::error::{Error, Result};
use crate::request::Request;

/// Go's `multipartmaxparts` default: a form with more parts is refused.
const MAX_PARTS: usize = 1000;

/// Parameters a media type or a part's `Content-Disposition` may carry
/// (RFC 2231 continuation pieces included). Each becomes a map entry (one
/// more map for each continued name), so without a bound one 32 MiB part
/// header of four million `; xy*=a` parameters took 2.2 GB and 10 s of
/// CPU in the loader, outside `max_total_memory` and every timeout.
const MAX_MEDIA_PARAMS: usize = 256;

/// The options of an [`UploadLoader`] (imagor's `-upload-loader-*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLoaderOptions {
    /// Largest image accepted, in bytes (default 32 MiB).
    pub max_allowed_size: usize,
    /// Accepted content types, comma-separated: `image/*` (the default),
    /// `*/*`, `image/png, image/jpeg`; `""` accepts anything.
    pub accept: String,
    /// The multipart field holding the image (default `image`).
    pub form_field_name: String,
}

impl Default for UploadLoaderOptions {
    /// imagor's defaults: 32 MiB, `image/*`, field `image`.
    fn default() -> Self {
        UploadLoaderOptions {
            max_allowed_size: 32 << 20,
            accept: "image/*".to_owned(),
            form_field_name: "image".to_owned(),
        }
    }
}

/// Loads the image of a `POST` upload (imagor's `UploadLoader`).
#[derive(Debug, Clone)]
pub struct UploadLoader {
    max_size: u64,
    field: String,
    accepts: Vec<String>,
}

impl Default for UploadLoader {
    /// With [`UploadLoaderOptions::default`].
    fn default() -> Self {
        UploadLoader::new(UploadLoaderOptions::default())
    }
}

impl UploadLoader {
    /// A loader with `options`. The accept list is split on `,`; each
    /// element is reduced to its media type (kept as written when it does
    /// not parse), and empty elements are dropped.
    pub fn new(options: UploadLoaderOptions) -> Self {
        let accepts = options
            .accept
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_media_type(s).map_or_else(|_| s.to_owned(), |(t, _)| t))
            .collect();
        UploadLoader {
            max_size: options.max_allowed_size as u64,
            field: options.form_field_name,
            accepts,
        }
    }

    /// Whether a declared `Content-Type` passes the accept list (imagor's
    /// `validateContentType`): everything passes an empty list; otherwise
    /// an empty or unparsable type fails, and the media type (parameters
    /// ignored) must equal an element, or an element is `*/*`, or an
    /// element `type/*` shares its `type/`.
    pub fn accepts(&self, content_type: &str) -> bool {
        if self.accepts.is_empty() {
            return true;
        }
        let Ok((media, _)) = parse_media_type(content_type) else {
            return false;
        };
        self.accepts.iter().any(|accept| {
            accept == "*/*"
                || *accept == media
                || accept
                    .strip_suffix("/*")
                    .is_some_and(|t| media.starts_with(&format!("{t}/")))
        })
    }

    async fn load(&self, request: &Request, key: &str) -> Result<Blob> {
        if request.method != "POST" {
            return Err(Error::NOT_FOUND);
        }
        if !key.is_empty() {
            return Err(Error::invalid());
        }
        let content_type = request.header("content-type").unwrap_or_default();
        if content_type.is_empty() {
            return Err(status("missing Content-Type header".to_owned()));
        }
        if content_type.starts_with("multipart/form-data") {
            return self.multipart(request, content_type).await;
        }
        if !self.accepts(content_type) {
            return Err(Error::unsupported());
        }
        let declared = request
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_size) || request.body.len() as u64 > self.max_size
        {
            return Err(Error::MaxSizeExceeded);
        }
        Ok(Blob::new(request.body.clone()).with_content_type(content_type))
    }

    /// imagor's `handleMultipartUpload`: Go's `ParseMultipartForm` reads
    /// the whole form before `FormFile` picks the field, so a malformed
    /// part anywhere is a parse error, even after the image.
    async fn multipart(&self, request: &Request, content_type: &str) -> Result<Blob> {
        let parse_error =
            |e: &dyn std::fmt::Display| status(format!("failed to parse multipart form: {e}"));
        let boundary = match parse_media_type(content_type) {
            Ok((media, mut params)) if media == "multipart/form-data" => params
                .remove("boundary")
                .ok_or_else(|| parse_error(&"no multipart boundary param in Content-Type"))?,
            _ => {
                return Err(parse_error(
                    &"request Content-Type isn't multipart/form-data",
                ))
            }
        };
        let body = request.body.clone();
        let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut form = multer::Multipart::new(stream, boundary);
        // Go keeps non-file values in memory up to maxMemory + 10 MiB.
        let mut values_left = self.max_size.saturating_add(10 << 20);
        let mut parts = 0;
        let mut image: Option<(String, Vec<Bytes>, u64)> = None;
        while let Some(mut part) = form.next_field().await.map_err(|e| parse_error(&e))? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(parse_error(&"multipart: message too large"));
            }
            let header = |name: &str| {
                part.headers()
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
                    .unwrap_or_default()
            };
            let (name, file_name) = form_names(&header("content-disposition"));
            let part_type = header("content-type");
            let is_image = file_name.is_some() && name == self.field && image.is_none();
            // Chunks are slices of the body: kept as they are, not copied.
            let mut kept = Vec::new();
            let mut size = 0u64;
            while let Some(chunk) = part.chunk().await.map_err(|e| parse_error(&e))? {
                size += chunk.len() as u64;
                if name.is_empty() {
                    continue;
                }
                if file_name.is_none() {
                    values_left = values_left
                        .checked_sub(chunk.len() as u64)
                        .ok_or_else(|| parse_error(&"multipart: message too large"))?;
                } else if is_image && size <= self.max_size {
                    kept.push(chunk);
                }
            }
            if is_image {
                image = Some((part_type, kept, size));
            }
        }
        let Some((part_type, data, size)) = image else {
            return Err(status(format!(
                "failed to get form file '{}': http: no such file",
                self.field
            )));
        };
        if size > self.max_size {
            return Err(Error::MaxSizeExceeded);
        }
        if !self.accepts(&part_type) {
            return Err(Error::unsupported());
        }
        let data = part_of_body(&request.body, data);
        let blob = Blob::new(data);
        Ok(if part_type.is_empty() {
            blob
        } else {
            blob.with_content_type(part_type)
        })
    }
}

impl Loader for UploadLoader {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        Box::pin(async move {
            match ctx.request {
                Some(request) => self.load(request, key).await,
                // A library call (`serve(path)`) is a GET.
                None => Err(Error::NOT_FOUND),
            }
        })
    }

    fn name(&self) -> &'static str {
        "upload"
    }
}

/// A part's content as a slice of the request body when it arrived as one
/// chunk, which is found in the body (multipart parts are verbatim): no
/// copy, the body stays counted once in the memory pool, and multer's
/// buffer is not kept alive by a slice of it. Otherwise a copy of exactly
/// the part.
fn part_of_body(body: &Bytes, chunks: Vec<Bytes>) -> Bytes {
    if let [one] = chunks.as_slice() {
        if let Some(at) = memchr::memmem::find(body, one) {
            return body.slice(at..at + one.len());
        }
    }
    let mut all = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    chunks.iter().for_each(|c| all.extend_from_slice(c));
    all.freeze()
}

fn status(message: String) -> Error {
    Error::Status {
        message,
        status: 400,
    }
}

/// Go's `Part.FormName` and `Part.FileName`: the `name` of a `form-data`
/// disposition (`""` otherwise), and its non-empty `filename`.
fn form_names(disposition: &str) -> (String, Option<String>) {
    let Ok((kind, mut params)) = parse_media_type(disposition) else {
        return (String::new(), None);
    };
    let file_name = params.remove("filename").filter(|f| !f.is_empty());
    let name = if kind == "form-data" {
        params.remove("name").unwrap_or_default()
    } else {
        String::new()
    };
    (name, file_name)
}

/// Go's `mime.ParseMediaType`: the lower-cased media type and the
/// parameters (names lower-cased, RFC 2231 continuations and encodings
/// decoded), or an error for anything Go refuses.
fn parse_media_type(v: &str) -> Result<(String, HashMap<String, String>), ()> {
    let base = v.split(';').next().unwrap_or_default();
    let media = base.to_lowercase().trim().to_owned();
    check_media_type(&media)?;
    let mut params: HashMap<String, String> = HashMap::new();
    let mut continuation: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut v = &v[base.len()..];
    let mut count = 0usize;
    while !v.is_empty() {
        v = v.trim_start();
        if v.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_MEDIA_PARAMS {
            return Err(());
        }
        let Some((key, value, rest)) = consume_media_param(v) else {
            if v.trim() == ";" {
                break; // a trailing semicolon is fine
            }
            return Err(());
        };
        let map = match key.split_once('*') {
            Some((base_name, _)) => continuation.entry(base_name.to_owned()).or_default(),
            None => &mut params,
        };
        if map.get(&key).is_some_and(|old| *old != value) {
            return Err(()); // duplicate parameter name
        }
        map.insert(key, value);
        v = rest;
    }
    for (key, pieces) in continuation {
        if let Some(v) = pieces.get(&format!("{key}*")) {
            if let Some(decoded) = decode_2231(v) {
                params.insert(key, decoded);
            }
            continue;
        }
        let mut joined = String::new();
        let mut valid = false;
        for n in 0.. {
            if let Some(v) = pieces.get(&format!("{key}*{n}")) {
                joined.push_str(v);
            } else if let Some(v) = pieces.get(&format!("{key}*{n}*")) {
                let decoded = if n == 0 {
                    decode_2231(v)
                } else {
                    percent_unescape(v)
                };
                joined.push_str(&decoded.unwrap_or_default());
            } else {
                break;
            }
            valid = true;
        }
        if valid {
            params.insert(key, joined);
        }
    }
    Ok((media, params))
}

fn is_tspecial(c: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&c)
}

fn is_token_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !is_tspecial(c)
}

fn consume_token(v: &str) -> (&str, &str) {
    let end = v.bytes().position(|c| !is_token_char(c)).unwrap_or(v.len());
    v.split_at(end)
}

/// `type` or `type/subtype`, tokens only.
fn check_media_type(s: &str) -> Result<(), ()> {
    let (kind, rest) = consume_token(s);
    if kind.is_empty() {
        return Err(());
    }
    if rest.is_empty() {
        return Ok(());
    }
    let rest = rest.strip_prefix('/').ok_or(())?;
    let (subtype, rest) = consume_token(rest);
    if subtype.is_empty() || !rest.is_empty() {
        return Err(());
    }
    Ok(())
}

/// `; name = value` ⇒ (lower-cased name, value, rest); `None` when `v`
/// does not start with a well-formed parameter.
fn consume_media_param(v: &str) -> Option<(String, String, &str)> {
    let rest = v.trim_start().strip_prefix(';')?.trim_start();
    let (param, rest) = consume_token(rest);
    if param.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let (value, rest2) = consume_value(rest);
    if value.is_empty() && rest2.len() == rest.len() {
        return None;
    }
    Some((param.to_lowercase(), value, rest2))
}

/// A token or a quoted string (Go's `consumeValue`, MSIE's unescaped
/// backslashes included); `("", v)` when neither.
fn consume_value(v: &str) -> (String, &str) {
    if !v.starts_with('"') {
        let (token, rest) = consume_token(v);
        return (token.to_owned(), rest);
    }
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            return (String::from_utf8_lossy(&out).into_owned(), &v[i + 1..]);
        }
        if c == b'\\' && i + 1 < bytes.len() && is_tspecial(bytes[i + 1]) {
            out.push(bytes[i + 1]);
            i += 2;
            continue;
        }
        if c == b'\r' || c == b'\n' {
            return (String::new(), v);
        }
        out.push(c);
        i += 1;
    }
    (String::new(), v)
}

/// RFC 2231 `charset'lang'%XX...` for `us-ascii` and `utf-8` only.
fn decode_2231(v: &str) -> Option<String> {
    let (charset, rest) = v.split_once('\'')?;
    let (_lang, encoded) = rest.split_once('\'')?;
    match charset.to_lowercase().as_str() {
        "us-ascii" | "utf-8" => percent_unescape(encoded),
        _ => None,
    }
}

/// `%XX` escapes; `None` when one is malformed.
fn percent_unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3)?;
        // Two hex digits exactly (from_str_radix alone also takes `+F`).
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
        i += 3;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_media_parameters_is_refused_cheaply() {
        // Distinct continued names: one map per name without the bound.
        let many: String = (0..200_000).map(|i| format!("; n{i}*=a")).collect();
        assert!(parse_media_type(&format!("form-data; name=\"image\"{many}")).is_err());
        // Continuation pieces of one name.
        let pieces: String = (0..200_000).map(|i| format!("; filename*{i}=a")).collect();
        assert!(parse_media_type(&format!("form-data{pieces}")).is_err());
        // Real headers are far below the bound.
        let fine: String = (0..50).map(|i| format!("; filename*{i}=a")).collect();
        let (_, p) =
            parse_media_type(&format!("form-data; name=\"image\"{fine}")).unwrap_or_default();
        assert_eq!(p.get("filename").map(String::len), Some(50));
    }

    #[test]
    fn media_types_parse_as_go() {
        let ok = |v: &str| parse_media_type(v).map(|(t, _)| t);
        assert_eq!(ok(" Image/PNG ; q=1"), Ok("image/png".into()));
        assert_eq!(ok("image/png;"), Ok("image/png".into()));
        assert_eq!(ok("text"), Ok("text".into()));
        for bad in [
            "",
            "/png",
            "image/",
            "image/png/x",
            "image/png; q",
            "a/b; x=1; x=2",
        ] {
            assert!(parse_media_type(bad).is_err(), "{bad}");
        }
        let (_, p) = parse_media_type(r#"form-data; name="image"; filename="a \"b\".png""#)
            .unwrap_or_default();
        assert_eq!(p.get("filename").map(String::as_str), Some(r#"a "b".png"#));
        let (_, p) = parse_media_type("form-data; filename*=UTF-8''%C3%A9.png").unwrap_or_default();
        assert_eq!(p.get("filename").map(String::as_str), Some("é.png"));
        let (_, p) = parse_media_type("form-data; filename*0=\"a\"; filename*1*=%62.png")
            .unwrap_or_default();
        assert_eq!(p.get("filename").map(String::as_str), Some("ab.png"));
    }
}
