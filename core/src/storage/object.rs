//! What the S3 and GCS storages share: imagor's key mapping (safe chars,
//! path prefix, base dir, the `*` bucket taken from the path), expiration,
//! the size cap while streaming, timeouts, and the mapping of the
//! `object_store` crate's errors onto [`Error`] with imagor's statuses.
//!
//! Every request runs on the core's network runtime
//! ([`crate::net_runtime`]) under [`OP_TIMEOUT`], whoever polls the future.
//!
//! Errors:
//!
//! | storage answer | [`Error`] | status |
//! |---|---|---|
//! | no such object | [`Error::NOT_FOUND`] | 404 |
//! | 401 / 403 (bad keys, no permission) | [`Error::Status`] "access denied" | 403 |
//! | refused connection, 5xx after retries | [`Error::Status`] "unavailable" | 502 |
//! | no answer within [`OP_TIMEOUT`] | [`Error::Timeout`] | 408 |
//! | object larger than the cap | [`Error::MaxSizeExceeded`] | 400 |
//! | older than the expiration | [`Error::Expired`] (read as a miss) | 410 |
//!
//! imagor answers 500 with the SDK's text for everything but "not found".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, TagSet,
};

use crate::blob::{Blob, Stat};
use crate::budget::Holding;
use crate::error::{Error, Result};
use crate::loader::BoxFuture;
use crate::path::{clean, normalize_bytes, SafeChars};

/// The longest one storage operation (with its retries) may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the storage gives up after this.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One HTTP request to the storage gives up after this.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Clients kept for a `*` bucket; more buckets get a client per request.
const MAX_CACHED_BUCKETS: usize = 64;

/// The retry policy: a few quick retries of transient failures, bounded
/// in time, so that an outage answers within seconds.
pub(crate) fn retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(5),
    }
}

/// The HTTP client options shared by both services; `idle`: connections
/// kept per host (0: 100).
pub(crate) fn client_options(endpoint: &str, idle: usize) -> object_store::ClientOptions {
    let options = object_store::ClientOptions::new()
        .with_allow_http(endpoint.starts_with("http://"))
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_pool_max_idle_per_host(if idle == 0 { 100 } else { idle });
    if crate::tls::system_roots_usable() {
        return options;
    }
    crate::tls::bundled_roots()
        .map(object_store::Certificate::from_der)
        .filter_map(|c| c.ok())
        .fold(options.with_no_system_certificates(true), |o, c| {
            o.with_root_certificate(c)
        })
}

/// imagor's image key → object key: normalise with the safe chars, check
/// the path prefix, join under the base dir.
#[derive(Debug, Clone)]
pub(crate) struct KeyMap {
    /// `/` or `/dir/` (S3), `dir` or empty (GCS): joined in front.
    pub base_dir: String,
    /// `/` or `/x/`.
    pub path_prefix: String,
    pub safe_chars: SafeChars,
}

impl KeyMap {
    /// imagor's `WithPathPrefix`: `x` and `/x/` mean `/x/`, empty is `/`.
    pub fn prefix(prefix: &str) -> String {
        let trimmed = prefix.trim_matches('/');
        if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        }
    }

    /// The object key of `image`, or `None` when refused: outside the path
    /// prefix, empty, or leaving the base dir with `..` (imagor would
    /// resolve `..` and could leave the base dir). A key that names
    /// nothing under the base dir (``, `.`, `x/..`, a line break alone) is
    /// empty too: joined, it would be the base dir's own name (`images`,
    /// an object outside `images/`), as in imagor.
    pub fn key(&self, image: impl AsRef<[u8]>) -> Option<String> {
        let image = format!("/{}", normalize_bytes(image.as_ref(), &self.safe_chars));
        let rest = image.strip_prefix(&self.path_prefix)?;
        if rest.is_empty() || rest == "." || rest.split('/').any(|s| s == "..") {
            return None;
        }
        let joined = clean(&format!("{}/{}", self.base_dir, rest));
        let key = joined.trim_matches('/');
        (!key.is_empty() && key != ".").then(|| key.to_owned())
    }
}

/// A bucket's clients: `write` carries the ACL header on every request, so
/// reads use a client without it.
#[derive(Clone)]
pub(crate) struct Conn {
    pub read: Arc<dyn ObjectStore>,
    pub write: Arc<dyn ObjectStore>,
}

/// Builds the clients of a bucket (by name).
pub(crate) type Connect = Box<dyn Fn(&str) -> Result<Conn> + Send + Sync>;

/// One object storage role: a bucket (or `*`) and the rules above.
pub(crate) struct Objects {
    /// `s3` or `gcs`, for messages.
    pub service: &'static str,
    /// The bucket, or `None` for `*` (the first path segment).
    fixed: Option<Conn>,
    /// The bucket's name (`*` for the first path segment).
    bucket: String,
    connect: Connect,
    cache: Mutex<HashMap<String, Conn>>,
    pub keys: KeyMap,
    pub expiration: Option<Duration>,
    /// Largest object read, in bytes; 0: no limit.
    pub max_size: u64,
    /// Object tags on writes (S3).
    pub tags: Option<TagSet>,
    /// Storage class on writes (S3), when not the default.
    pub storage_class: Option<String>,
}

impl Objects {
    /// A role on `bucket` (`*`: the bucket is the key's first segment).
    /// A named bucket's clients are built now, so configuration errors
    /// show at start.
    pub fn new(
        service: &'static str,
        bucket: &str,
        connect: Connect,
        keys: KeyMap,
    ) -> Result<Objects> {
        let fixed = if bucket == "*" {
            None
        } else {
            Some(connect(bucket)?)
        };
        Ok(Objects {
            service,
            fixed,
            bucket: bucket.to_owned(),
            connect,
            cache: Mutex::new(HashMap::new()),
            keys,
            expiration: None,
            max_size: 0,
            tags: None,
            storage_class: None,
        })
    }

    /// Where `image` lives: the service, the bucket and the object key (the
    /// endpoint is left out, so two roles on one bucket name compare equal
    /// whichever way they reach it).
    pub fn location(&self, image: &str) -> Option<String> {
        let (bucket, key) = if self.fixed.is_some() {
            (self.bucket.as_str(), self.keys.key(image)?)
        } else {
            let (bucket, rest) = image.trim_start_matches('/').split_once('/')?;
            (bucket, self.keys.key(rest)?)
        };
        Some(format!("{} {bucket}/{key}", self.service))
    }

    /// Where the result `key` of the source `source` lives (as
    /// [`Objects::location`]): for a `*` bucket, in the source's
    /// bucket under the whole key, as a result is put.
    pub fn result_location(&self, key: &str, source: &str) -> Option<String> {
        if self.fixed.is_some() || source.is_empty() {
            return self.location(key);
        }
        let (bucket, _) = source.trim_start_matches('/').split_once('/')?;
        Some(format!("{} {bucket}/{}", self.service, self.keys.key(key)?))
    }

    /// The clients and object path of `image`. For a `*` bucket the bucket
    /// is the first segment of `source` (the source image key, for a
    /// result) or of `image` itself, and the rest is the key.
    /// `image` is the key's bytes, UTF-8 or not ([`LoadContext::key_bytes`]).
    fn locate(&self, image: &[u8], source: Option<&str>) -> Result<(Conn, ObjectPath)> {
        let (conn, key) = match &self.fixed {
            Some(conn) => (conn.clone(), self.keys.key(image)),
            None => {
                let from = source
                    .filter(|s| !s.is_empty())
                    .map_or(image, str::as_bytes);
                let from = &from[from.iter().take_while(|&&c| c == b'/').count()..];
                let slash = from.iter().position(|&c| c == b'/');
                let (bucket, rest) = slash
                    .map(|i| (&from[..i], &from[i + 1..]))
                    .filter(|(b, _)| !b.is_empty())
                    .ok_or_else(Error::invalid)?;
                let bucket = std::str::from_utf8(bucket).map_err(|_| Error::invalid())?;
                let key = if source.is_some_and(|s| !s.is_empty()) {
                    self.keys.key(image)
                } else {
                    self.keys.key(rest)
                };
                (self.bucket(bucket)?, key)
            }
        };
        let key = key.ok_or_else(Error::invalid)?;
        let path = ObjectPath::parse(&key).map_err(|_| Error::invalid())?;
        Ok((conn, path))
    }

    /// The clients of a bucket named by a request (`*`), cached up to
    /// [`MAX_CACHED_BUCKETS`].
    fn bucket(&self, name: &str) -> Result<Conn> {
        if !valid_bucket_name(name) {
            return Err(Error::invalid());
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = cache.get(name) {
            return Ok(conn.clone());
        }
        let conn = (self.connect)(name)?;
        if cache.len() < MAX_CACHED_BUCKETS {
            cache.insert(name.to_owned(), conn.clone());
        }
        Ok(conn)
    }

    /// Read `image` (a key's bytes, UTF-8 or not) whole (imagor's `Get`),
    /// with expiration and size cap.
    pub fn get(&self, image: &[u8], source: Option<&str>) -> BoxFuture<'static, Result<Blob>> {
        let (conn, path) = match self.locate(image, source) {
            Ok(found) => found,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let (service, expiration, max) = (self.service, self.expiration, self.max_size);
        let holding = Holding::for_this_call("the image object");
        run(service, "get", async move {
            let got = conn
                .read
                .get_opts(&path, GetOptions::default())
                .await
                .map_err(|e| map_error(service, "get", e))?;
            let meta = got.meta.clone();
            let modified = SystemTime::from(meta.last_modified);
            if expiration.is_some_and(|exp| older_than(modified, exp)) {
                return Err(Error::Expired);
            }
            if max > 0 && meta.size > max {
                return Err(Error::MaxSizeExceeded);
            }
            let content_type = got
                .attributes
                .get(&Attribute::ContentType)
                .map(|v| v.to_string());
            // Counted against `max_total_memory` before it is read.
            holding.grow_to(meta.size)?;
            let mut data = Vec::with_capacity(meta.size.min(64 << 20) as usize);
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| map_error(service, "get", e))?;
                if max > 0 && (data.len() + chunk.len()) as u64 > max {
                    return Err(Error::MaxSizeExceeded);
                }
                holding.extend(&mut data, &chunk)?;
            }
            let mut blob = Blob::new(holding.into_bytes(data)?).with_stat(Stat {
                size: meta.size,
                modified: Some(modified),
                etag: meta.e_tag,
            });
            blob.content_type = content_type.filter(|t| !t.is_empty());
            Ok(blob)
        })
    }

    /// Size, modification time and ETag of `image` (no expiration).
    pub fn stat(&self, image: &str, source: Option<&str>) -> BoxFuture<'static, Result<Stat>> {
        let (conn, path) = match self.locate(image.as_bytes(), source) {
            Ok(found) => found,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let service = self.service;
        run(service, "stat", async move {
            let meta = conn
                .read
                .head(&path)
                .await
                .map_err(|e| map_error(service, "stat", e))?;
            Ok(Stat {
                size: meta.size,
                modified: Some(SystemTime::from(meta.last_modified)),
                etag: meta.e_tag,
            })
        })
    }

    /// Write `blob` as `image` in one request: the object appears whole or
    /// not at all (a single PUT is atomic in S3 and GCS).
    pub fn put(
        &self,
        image: &str,
        blob: &Blob,
        source: Option<&str>,
    ) -> BoxFuture<'static, Result<()>> {
        let (conn, path) = match self.locate(image.as_bytes(), source) {
            Ok(found) => found,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, blob.content_type().into());
        if let Some(class) = &self.storage_class {
            attributes.insert(Attribute::StorageClass, class.clone().into());
        }
        let opts = PutOptions {
            mode: PutMode::Overwrite,
            tags: self.tags.clone().unwrap_or_default(),
            attributes,
            ..PutOptions::default()
        };
        let payload = PutPayload::from_bytes(blob.data.clone());
        let service = self.service;
        run(service, "put", async move {
            conn.write
                .put_opts(&path, payload, opts)
                .await
                .map(|_| ())
                .map_err(|e| map_error(service, "put", e))
        })
    }

    /// Remove `image` (absent is fine).
    pub fn delete(&self, image: &str, source: Option<&str>) -> BoxFuture<'static, Result<()>> {
        let (conn, path) = match self.locate(image.as_bytes(), source) {
            Ok(found) => found,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let service = self.service;
        run(service, "delete", async move {
            match conn.write.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(map_error(service, "delete", e)),
            }
        })
    }
}

/// Run an operation on the network runtime under [`OP_TIMEOUT`].
fn run<T: Send + 'static>(
    service: &'static str,
    op: &'static str,
    fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> BoxFuture<'static, Result<T>> {
    Box::pin(async move {
        let timed = async move {
            tokio::time::timeout(OP_TIMEOUT, fut)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Timeout(format!(
                        "timeout: {service} {op} took longer than {}s",
                        OP_TIMEOUT.as_secs()
                    )))
                })
        };
        crate::net_runtime::run(timed).await?
    })
}

fn older_than(modified: SystemTime, expiration: Duration) -> bool {
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age > expiration)
}

/// S3 and GCS bucket names: 3 to 63 (GCS: up to 222 with dots) of
/// lower-case letters, digits, `-`, `_` and `.`. Checked before a request
/// names one, so a path cannot steer the client elsewhere.
fn valid_bucket_name(name: &str) -> bool {
    (1..=222).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && !name.starts_with('.')
        && !name.contains("..")
}

/// The crate's error → ours, with imagor's statuses (see the module docs).
pub(crate) fn map_error(service: &str, op: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let text = || {
        let mut t = e.to_string();
        if t.len() > 300 {
            let mut cut = 300;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
        }
        t
    };
    match &e {
        E::NotFound { .. } => Error::NOT_FOUND,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => Error::Status {
            message: format!("{service} {op}: access denied: {}", text()),
            status: 403,
        },
        E::InvalidPath { .. } => Error::invalid(),
        E::Generic { .. } => Error::Status {
            message: format!("{service} {op}: storage unavailable: {}", text()),
            status: 502,
        },
        _ => Error::Internal(format!("{service} {op}: {}", text())),
    }
}

/// imagor's tagging value: a URL query string (`k=v&k2=v2`); `None` when
/// empty or malformed (imagor ignores it then).
pub(crate) fn parse_tagging(text: &str) -> Option<TagSet> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    let mut tags = TagSet::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push(&decode(k)?, &decode(v)?);
    }
    Some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_keys(base: &str, prefix: &str, safe: &str) -> KeyMap {
        KeyMap {
            base_dir: base.to_owned(),
            path_prefix: KeyMap::prefix(prefix),
            safe_chars: SafeChars::new(safe),
        }
    }

    #[test]
    fn keys_as_imagor() {
        let k = s3_keys("/", "", "!\"()*");
        assert_eq!(k.key("a b.jpg").as_deref(), Some("a+b.jpg"));
        assert_eq!(
            k.key("fit-in/1800x1800/filters:format(jpeg):quality(90)/test.jpg")
                .as_deref(),
            Some("fit-in/1800x1800/filters%3Aformat(jpeg)%3Aquality(90)/test.jpg")
        );
        let k = s3_keys("/source/", "avatars", "");
        assert_eq!(
            k.key("avatars/user-1.jpg").as_deref(),
            Some("source/user-1.jpg")
        );
        assert_eq!(k.key("other/user-1.jpg"), None);
        assert_eq!(k.key("avatars/../../x.jpg"), None);
        assert_eq!(k.key(""), None);
        // Nothing under the base dir: never the base dir's own object.
        for empty in [
            "",
            ".",
            "/",
            "x/..",
            "\n",
            "\r\n",
            "\u{85}",
            "avatars/",
            "avatars/.",
        ] {
            assert_eq!(k.key(empty), None, "{empty:?}");
        }
        let gcs_base = s3_keys("images", "", "");
        for empty in ["", ".", "x/..", "\n"] {
            assert_eq!(gcs_base.key(empty), None, "{empty:?}");
        }
        let gcs = s3_keys("images", "", "[]");
        assert_eq!(gcs.key("/aa[1].gif").as_deref(), Some("images/aa[1].gif"));
        // A key's bytes that are not UTF-8 name their own object, as in
        // imagor (`LoadContext::key_bytes`).
        assert_eq!(
            gcs.key(b"caf\xe9.gif").as_deref(),
            Some("images/caf%E9.gif")
        );
        assert_eq!(
            gcs.key(b"caf\xe8.gif").as_deref(),
            Some("images/caf%E8.gif")
        );
    }

    #[test]
    fn tagging_is_a_query_string() {
        let t = parse_tagging("source=imagor&lifecycle=derived").unwrap();
        assert_eq!(t.encoded(), "source=imagor&lifecycle=derived");
        assert!(parse_tagging("  ").is_none());
        assert!(parse_tagging("a=%ff").is_none());
    }

    #[test]
    fn bucket_names_from_paths_are_checked() {
        assert!(valid_bucket_name("mysite-test"));
        assert!(!valid_bucket_name("My_Bucket@evil"));
        assert!(!valid_bucket_name("a..b"));
        assert!(!valid_bucket_name(""));
    }
}
