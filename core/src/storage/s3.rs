//! imagor's S3 loader, storage and result storage
//! (`storage/s3storage`, `config/awsconfig`): one type for the three roles,
//! on AWS S3 or any S3-compatible server (MinIO, Garage, R2, ...).
//!
//! Keys map as in imagor: the image key is normalised with the safe chars
//! (S3 always keeps `!"()*` too, unless `--` turns escaping off), must lie
//! under the path prefix, and is joined under the base dir (a bucket given
//! as `bucket/dir` sets the base dir). Bucket `*` takes the bucket from the
//! key's first segment. Writes are single PUTs, atomic in S3: readers see
//! the old object or the new one. See [`super::object`] for errors,
//! timeouts and the size cap.
//!
//! Credentials: the given access key (with its session token), else the
//! default AWS chain of the `object_store` crate: `AWS_*` environment
//! variables, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), ECS/EKS
//! container credentials, then the instance metadata service. Unlike the
//! Go SDK it does not read `~/.aws/credentials` profiles.

use std::time::Duration;

use object_store::aws::AmazonS3Builder;

use super::object::{self, Conn, KeyMap, Objects};
use crate::blob::{Blob, Stat};
use crate::error::{Error, Result};
use crate::loader::{BoxFuture, LoadContext, Loader};
use crate::path::SafeChars;
use crate::storage::Storage;

/// imagor's canned ACLs (`types.ObjectCannedACL` values); anything else is
/// ignored, as in imagor.
const ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// The storage classes imagor accepts besides `STANDARD` (the default,
/// which is not sent).
const STORAGE_CLASSES: &[&str] = &[
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
];

/// The options of one S3 role (imagor's `s3storage.Option`s plus the AWS
/// config the role resolved to).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// The bucket; `bucket/dir` also sets the base dir; `*`: the first
    /// segment of each key.
    pub bucket: String,
    /// Folder inside the bucket where keys live.
    pub base_dir: String,
    /// Only keys under this prefix are served; it is not part of the
    /// object key.
    pub path_prefix: String,
    /// Extra characters kept unescaped (`!"()*` always are); `--`: none
    /// escaped.
    pub safe_chars: String,
    /// Canned ACL on writes (`public-read`, ...); empty or unknown: none.
    pub acl: String,
    /// Object tags on writes, as a query string (`k=v&k2=v2`).
    pub tagging: String,
    /// Storage class on writes (`STANDARD_IA`, ...); default `STANDARD`.
    pub storage_class: String,
    /// Objects last modified longer ago than this read as expired (a
    /// miss); `None`: never.
    pub expiration: Option<Duration>,
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:3900`);
    /// empty: AWS.
    pub endpoint: String,
    /// Path-style addressing (`endpoint/bucket/key`) instead of
    /// virtual-hosted (`bucket.endpoint/key`).
    pub force_path_style: bool,
    /// Region; empty: `AWS_REGION`, else `us-east-1`.
    pub region: String,
    /// Access key; empty: the default credential chain.
    pub access_key_id: String,
    /// Secret of the access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: String,
    /// Largest object read, in bytes; 0: no limit.
    pub max_size: u64,
    /// Idle connections kept per host; 0: 100.
    pub max_idle_per_host: usize,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("base_dir", &self.base_dir)
            .field("path_prefix", &self.path_prefix)
            .field("endpoint", &self.endpoint)
            .field("force_path_style", &self.force_path_style)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secrets", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Images in an S3 bucket: imagor's `S3Storage`, as loader, storage or
/// result storage.
pub struct S3Storage {
    objects: Objects,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("keys", &self.objects.keys)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// An S3 role. Fails (400) on options the client cannot use, such as a
    /// malformed endpoint.
    pub fn new(opts: S3Options) -> Result<S3Storage> {
        crate::tls::install_crypto();
        let (bucket, mut base_dir) = match opts.bucket.split_once('/') {
            Some((b, dir)) if opts.bucket != "*" => (b.to_owned(), format!("/{dir}")),
            _ => (opts.bucket.clone(), "/".to_owned()),
        };
        if !opts.base_dir.is_empty() {
            base_dir = KeyMap::prefix(&opts.base_dir);
        }
        let safe_chars = if opts.safe_chars == "--" {
            SafeChars::noop()
        } else {
            SafeChars::new(&format!("!\"()*{}", opts.safe_chars))
        };
        let keys = KeyMap {
            base_dir,
            path_prefix: KeyMap::prefix(&opts.path_prefix),
            safe_chars,
        };
        let acl = Some(opts.acl.clone()).filter(|a| ACLS.contains(&a.as_str()));
        let connect_opts = opts.clone();
        let connect = Box::new(move |bucket: &str| connect(&connect_opts, bucket, acl.as_deref()));
        let mut objects = Objects::new("s3", &bucket, connect, keys)?;
        objects.expiration = opts.expiration.filter(|d| !d.is_zero());
        objects.max_size = opts.max_size;
        objects.tags = object::parse_tagging(&opts.tagging);
        objects.storage_class = STORAGE_CLASSES
            .contains(&opts.storage_class.as_str())
            .then(|| opts.storage_class.clone());
        Ok(S3Storage { objects })
    }

    /// The object key `image` maps to, or `None` when refused (outside the
    /// path prefix, empty, `..` out of the base dir). For a `*` bucket,
    /// the key after the bucket segment.
    pub fn object_key(&self, image: &str) -> Option<String> {
        self.objects.keys.key(image)
    }
}

/// The endpoint for virtual-hosted addressing on a custom server: the
/// bucket becomes a subdomain (`http://b.minio:9000`), as the AWS SDK does.
fn virtual_host(endpoint: &str, bucket: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
        None => format!("https://{bucket}.{endpoint}"),
    }
}

/// The clients of one bucket.
fn connect(opts: &S3Options, bucket: &str, acl: Option<&str>) -> Result<Conn> {
    let endpoint = opts.endpoint.trim_end_matches('/');
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(object::retry_config())
        .with_virtual_hosted_style_request(!opts.force_path_style);
    if !opts.region.is_empty() {
        builder = builder.with_region(&opts.region);
    }
    if !opts.access_key_id.is_empty() && !opts.secret_access_key.is_empty() {
        builder = builder
            .with_access_key_id(&opts.access_key_id)
            .with_secret_access_key(&opts.secret_access_key);
        if !opts.session_token.is_empty() {
            builder = builder.with_token(&opts.session_token);
        }
    }
    if !endpoint.is_empty() {
        builder = builder.with_endpoint(if opts.force_path_style {
            endpoint.to_owned()
        } else {
            virtual_host(endpoint, bucket)
        });
    }
    let build = |builder: AmazonS3Builder, acl: Option<&str>| {
        let mut options = object::client_options(endpoint, opts.max_idle_per_host);
        if let Some(acl) = acl {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Ok(value) = acl.parse() {
                headers.insert("x-amz-acl", value);
            }
            options = options.with_default_headers(headers);
        }
        builder
            .with_client_options(options)
            .build()
            .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn object_store::ObjectStore>)
            .map_err(|e| Error::invalid_msg(format!("invalid options: s3: {e}")))
    };
    let read = build(builder.clone(), None)?;
    let write = match acl {
        Some(acl) => build(builder, Some(acl))?,
        None => read.clone(),
    };
    Ok(Conn { read, write })
}

impl Loader for S3Storage {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        self.objects.get(ctx.key_bytes(key), None)
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Stat>> {
        self.objects.stat(key, None)
    }

    fn name(&self) -> &'static str {
        "s3"
    }

    fn location(&self, key: &str) -> Option<String> {
        self.objects.location(key)
    }
}

impl Storage for S3Storage {
    fn put<'a>(&'a self, key: &'a str, blob: &'a Blob) -> BoxFuture<'a, Result<()>> {
        self.objects.put(key, blob, None)
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        self.objects.delete(key, None)
    }

    fn get_result<'a>(
        &'a self,
        _ctx: LoadContext<'a>,
        key: &'a str,
        image: &'a str,
    ) -> BoxFuture<'a, Result<Blob>> {
        self.objects.get(key.as_bytes(), Some(image))
    }

    fn put_result<'a>(
        &'a self,
        key: &'a str,
        image: &'a str,
        blob: &'a Blob,
    ) -> BoxFuture<'a, Result<()>> {
        self.objects.put(key, blob, Some(image))
    }

    fn result_location(&self, key: &str, image: &str) -> Option<String> {
        self.objects.result_location(key, image)
    }

    fn delete_result<'a>(&'a self, key: &'a str, image: &'a str) -> BoxFuture<'a, Result<()>> {
        self.objects.delete(key, Some(image))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_dir_and_options_set_the_key_layout() {
        let s = S3Storage::new(S3Options {
            bucket: "b/images".into(),
            endpoint: "http://127.0.0.1:1".into(),
            force_path_style: true,
            ..S3Options::default()
        })
        .unwrap();
        assert_eq!(s.object_key("a(1).jpg").as_deref(), Some("images/a(1).jpg"));
        assert_eq!(
            s.object_key("a[1].jpg").as_deref(),
            Some("images/a%5B1%5D.jpg")
        );
        let s = S3Storage::new(S3Options {
            bucket: "b/images".into(),
            base_dir: "other/".into(),
            path_prefix: "p".into(),
            safe_chars: "--".into(),
            endpoint: "http://127.0.0.1:1".into(),
            ..S3Options::default()
        })
        .unwrap();
        assert_eq!(s.object_key("p/a b.jpg").as_deref(), Some("other/a b.jpg"));
        assert_eq!(s.object_key("q/a.jpg"), None);
    }

    /// A result is kept in the source's bucket under its whole key with a
    /// `*` bucket, so that is where it is said to be (not in a bucket named
    /// after the key's first segment); a fixed bucket keeps it at `key`.
    #[test]
    fn a_result_location_is_where_the_result_is_put() {
        let opts = |bucket: &str| S3Options {
            bucket: bucket.into(),
            endpoint: "http://127.0.0.1:1".into(),
            force_path_style: true,
            ..S3Options::default()
        };
        let any = S3Storage::new(opts("*")).unwrap();
        assert_eq!(
            any.result_location("10x10/src/a.png", "src/a.png")
                .as_deref(),
            Some("s3 src/10x10/src/a.png")
        );
        assert_eq!(
            any.location("10x10/src/a.png").as_deref(),
            Some("s3 10x10/src/a.png")
        );
        let fixed = S3Storage::new(opts("b")).unwrap();
        assert_eq!(
            fixed.result_location("10x10/a.png", "a.png"),
            fixed.location("10x10/a.png")
        );
    }

    #[test]
    fn virtual_hosted_endpoints_put_the_bucket_in_the_host() {
        assert_eq!(
            virtual_host("http://minio:9000", "b"),
            "http://b.minio:9000"
        );
        assert_eq!(virtual_host("s3.example", "b"), "https://b.s3.example");
    }
}
