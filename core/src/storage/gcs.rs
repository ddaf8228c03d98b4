//! imagor's Google Cloud Storage loader, storage and result storage
//! (`storage/gcloudstorage`, `config/gcloudconfig`).
//!
//! Keys map as for S3 (see [`super::s3`]) with GCS's own rules from imagor:
//! only the configured safe chars are kept, and the base dir has no
//! surrounding slashes. Bucket `*` takes the bucket from the key's first
//! segment. Writes are single uploads, atomic in GCS.
//!
//! Credentials come from `GOOGLE_APPLICATION_CREDENTIALS` (a service
//! account or authorised-user file), else gcloud's application default
//! credentials file, else the instance metadata server, as Google's
//! clients do. A custom endpoint (an emulator, e.g.
//! `STORAGE_EMULATOR_HOST` for the server) is used without credentials
//! unless `GOOGLE_APPLICATION_CREDENTIALS` names some. Requests use GCS's
//! XML API, where the ACL is the `x-goog-acl` header: imagor's JSON API
//! names (`publicRead`) are translated (`public-read`).

use std::sync::Arc;
use std::time::Duration;

use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::ObjectStore;

use super::object::{self, Conn, KeyMap, Objects};
use crate::blob::{Blob, Stat};
use crate::error::{Error, Result};
use crate::loader::{BoxFuture, LoadContext, Loader};
use crate::path::SafeChars;
use crate::storage::Storage;

/// The options of one GCS role (imagor's `gcloudstorage.Option`s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcsOptions {
    /// The bucket; `*`: the first segment of each key.
    pub bucket: String,
    /// Folder inside the bucket where keys live.
    pub base_dir: String,
    /// Only keys under this prefix are served; it is not part of the
    /// object key.
    pub path_prefix: String,
    /// Extra characters kept unescaped; `--`: none escaped.
    pub safe_chars: String,
    /// Predefined ACL on writes (`publicRead`, `projectPrivate`, ...).
    pub acl: String,
    /// Objects updated longer ago than this read as expired (a miss).
    pub expiration: Option<Duration>,
    /// Endpoint of an emulator or proxy (`http://127.0.0.1:4443`); empty:
    /// Google's.
    pub endpoint: String,
    /// Largest object read, in bytes; 0: no limit.
    pub max_size: u64,
}

/// Images in a GCS bucket: imagor's `GCloudStorage`.
pub struct GcsStorage {
    objects: Objects,
}

impl std::fmt::Debug for GcsStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStorage")
            .field("keys", &self.objects.keys)
            .finish_non_exhaustive()
    }
}

impl GcsStorage {
    /// A GCS role. Fails (400) when the credentials file named by
    /// `GOOGLE_APPLICATION_CREDENTIALS` cannot be read.
    pub fn new(opts: GcsOptions) -> Result<GcsStorage> {
        crate::tls::install_crypto();
        let keys = KeyMap {
            base_dir: opts.base_dir.trim_matches('/').to_owned(),
            path_prefix: KeyMap::prefix(&opts.path_prefix),
            safe_chars: SafeChars::new(&opts.safe_chars),
        };
        let acl = xml_acl(&opts.acl);
        let endpoint = opts.endpoint.trim_end_matches('/').to_owned();
        let connect = Box::new(move |bucket: &str| connect(&endpoint, bucket, acl));
        let mut objects = Objects::new("gcs", &opts.bucket, connect, keys)?;
        objects.expiration = opts.expiration.filter(|d| !d.is_zero());
        objects.max_size = opts.max_size;
        Ok(GcsStorage { objects })
    }

    /// The object key `image` maps to, or `None` when refused.
    pub fn object_key(&self, image: &str) -> Option<String> {
        self.objects.keys.key(image)
    }
}

/// imagor's (JSON API) predefined ACL → the XML API's canned ACL.
fn xml_acl(acl: &str) -> Option<&'static str> {
    Some(match acl {
        "authenticatedRead" | "authenticated-read" => "authenticated-read",
        "bucketOwnerFullControl" | "bucket-owner-full-control" => "bucket-owner-full-control",
        "bucketOwnerRead" | "bucket-owner-read" => "bucket-owner-read",
        "private" => "private",
        "projectPrivate" | "project-private" => "project-private",
        "publicRead" | "public-read" => "public-read",
        _ => return None,
    })
}

fn connect(endpoint: &str, bucket: &str, acl: Option<&'static str>) -> Result<Conn> {
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(bucket)
        .with_retry(object::retry_config());
    if !endpoint.is_empty() {
        builder = builder.with_base_url(endpoint);
        if std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").is_none() {
            // No OAuth against an emulator. `with_skip_signature` would
            // still fetch a token for uploads (object_store 0.14), so an
            // empty static token it is, as `disable_oauth` key files do.
            let anonymous = object_store::gcp::GcpCredential {
                bearer: String::new(),
            };
            builder = builder.with_skip_signature(true).with_credentials(Arc::new(
                object_store::StaticCredentialProvider::new(anonymous),
            ));
        }
    }
    let build = |builder: GoogleCloudStorageBuilder, acl: Option<&'static str>| {
        let mut options = object::client_options(endpoint, 100);
        if let Some(acl) = acl {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("x-goog-acl", reqwest::header::HeaderValue::from_static(acl));
            options = options.with_default_headers(headers);
        }
        builder
            .with_client_options(options)
            .build()
            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            .map_err(|e| Error::invalid_msg(format!("invalid options: gcs: {e}")))
    };
    let read = build(builder.clone(), None)?;
    let write = match acl {
        Some(acl) => build(builder, Some(acl))?,
        None => read.clone(),
    };
    Ok(Conn { read, write })
}

impl Loader for GcsStorage {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        self.objects.get(ctx.key_bytes(key), None)
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Stat>> {
        self.objects.stat(key, None)
    }

    fn name(&self) -> &'static str {
        "gcs"
    }

    fn location(&self, key: &str) -> Option<String> {
        self.objects.location(key)
    }
}

impl Storage for GcsStorage {
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
    fn keys_and_acls_as_imagor() {
        let s = GcsStorage::new(GcsOptions {
            bucket: "b".into(),
            base_dir: "/images/".into(),
            safe_chars: "[]".into(),
            endpoint: "http://127.0.0.1:1".into(),
            ..GcsOptions::default()
        })
        .unwrap();
        assert_eq!(
            s.object_key("aa[1].gif").as_deref(),
            Some("images/aa[1].gif")
        );
        assert_eq!(
            s.object_key("a(1).gif").as_deref(),
            Some("images/a%281%29.gif")
        );
        assert_eq!(xml_acl("publicRead"), Some("public-read"));
        assert_eq!(xml_acl("nonsense"), None);
    }
}
