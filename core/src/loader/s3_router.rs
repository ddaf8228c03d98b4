//! imagor's S3 bucket router (`loader/s3routerloader`,
//! `config/awsconfig/bucket_router.go`): the S3 loader's bucket chosen per
//! image key by a regular expression, from a YAML file
//! (`s3_loader_bucket_router_config`):
//!
//! ```yaml
//! routing_pattern: "^(?P<bucket>[a-z]+)/(?P<path>.+)$"  # (?P<path>) optional
//! default_bucket: { name: images }                        # optional
//! fallback_buckets: [ { name: archive } ]                 # at most 2 used
//! rules:
//!   - match: eu
//!     bucket: { name: images-eu, region: eu-west-1, endpoint: "...",
//!               access_key_id: "...", secret_access_key: "...", session_token: "..." }
//! ```
//!
//! The `bucket` group's text picks a rule (exact match), else the default
//! bucket; the object key is the `path` group when present and non-empty,
//! else the whole key. A miss (not found) tries the fallback buckets in
//! order; any other error is final. With neither rules that match nor a
//! default bucket, the captured text is the bucket itself ("passthrough").
//! Each bucket takes the S3 loader's options (base dir, path prefix, safe
//! chars, endpoint, credentials) with its own region, endpoint and
//! credentials over them (credentials only when key and secret are set).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;
use serde::Deserialize;

use crate::blob::Blob;
use crate::error::{Error, Result};
use crate::loader::{BoxFuture, LoadContext, Loader};
use crate::options::Options;
use crate::storage::{S3Options, S3Storage};

/// Passthrough buckets whose clients are kept; more are built per request.
const MAX_DYNAMIC: usize = 64;

/// One bucket of the YAML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct BucketYaml {
    name: String,
    region: String,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
}

#[derive(Debug, Clone, Deserialize)]
struct RuleYaml {
    #[serde(rename = "match", default)]
    match_: String,
    #[serde(default)]
    bucket: BucketYaml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RouterYaml {
    routing_pattern: String,
    default_bucket: BucketYaml,
    fallback_buckets: Vec<BucketYaml>,
    rules: Vec<RuleYaml>,
}

/// The S3 loader with a bucket per key (imagor's `S3RouterLoader`).
pub struct S3RouterLoader {
    pattern: Regex,
    has_path: bool,
    /// Rule text → bucket name.
    rules: HashMap<String, String>,
    default: Option<String>,
    fallbacks: Vec<String>,
    /// Bucket name → its loader.
    loaders: HashMap<String, Arc<S3Storage>>,
    template: S3Options,
    dynamic: Mutex<HashMap<String, Arc<S3Storage>>>,
}

impl std::fmt::Debug for S3RouterLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3RouterLoader")
            .field("pattern", &self.pattern.as_str())
            .field("rules", &self.rules)
            .field("default", &self.default)
            .field("fallbacks", &self.fallbacks)
            .finish_non_exhaustive()
    }
}

impl S3RouterLoader {
    /// Read the YAML file at `path`; the S3 loader options of `opts` are
    /// every bucket's defaults. A missing file, bad YAML, a missing
    /// `routing_pattern` or one without a `bucket` group is a 400.
    pub fn from_file(path: &str, opts: &Options) -> Result<S3RouterLoader> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid_msg(format!(
                "invalid options: s3_loader_bucket_router_config {path:?}: {e}"
            ))
        })?;
        let template = crate::storage::cloud::s3_loader_options(opts, "");
        S3RouterLoader::from_yaml(&text, template)
    }

    /// Build from YAML text; `template` holds every bucket's defaults.
    pub fn from_yaml(text: &str, template: S3Options) -> Result<S3RouterLoader> {
        let bad = |m: String| Error::invalid_msg(format!("invalid bucket router config: {m}"));
        let cfg: RouterYaml = serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        if cfg.routing_pattern.is_empty() {
            return Err(bad("routing_pattern is required".into()));
        }
        let pattern = Regex::new(&cfg.routing_pattern).map_err(|e| bad(e.to_string()))?;
        let names: Vec<_> = pattern.capture_names().flatten().collect();
        if !names.contains(&"bucket") {
            return Err(bad(
                "pattern must contain named capture group (?P<bucket>...)".into(),
            ));
        }
        let has_path = names.contains(&"path");
        let named = |b: &BucketYaml| (!b.name.is_empty()).then(|| b.clone());
        let default = named(&cfg.default_bucket);
        let fallbacks: Vec<BucketYaml> = cfg
            .fallback_buckets
            .iter()
            .filter_map(named)
            .take(2)
            .collect();
        let mut all: Vec<BucketYaml> = default.iter().cloned().collect();
        let mut rules = HashMap::new();
        for rule in &cfg.rules {
            if let Some(b) = named(&rule.bucket) {
                rules.insert(rule.match_.clone(), b.name.clone());
                all.push(b);
            }
        }
        all.extend(fallbacks.iter().cloned());
        let mut loaders = HashMap::new();
        for b in all {
            if loaders.contains_key(&b.name) {
                continue;
            }
            let loader = S3Storage::new(bucket_options(&template, &b))?;
            loaders.insert(b.name.clone(), Arc::new(loader));
        }
        Ok(S3RouterLoader {
            pattern,
            has_path,
            rules,
            default: default.map(|b| b.name),
            fallbacks: fallbacks.into_iter().map(|b| b.name).collect(),
            loaders,
            template,
            dynamic: Mutex::new(HashMap::new()),
        })
    }

    /// The bucket name and object key for `image`; `None` when nothing
    /// routes it (not found).
    pub fn route(&self, image: &str) -> Option<(String, String)> {
        let trimmed = image.strip_prefix('/').unwrap_or(image);
        let caps = self.pattern.captures(trimmed);
        let captured = caps
            .as_ref()
            .and_then(|c| c.name("bucket"))
            .map(|m| m.as_str().to_owned());
        let key = caps
            .as_ref()
            .filter(|_| self.has_path)
            .and_then(|c| c.name("path"))
            .map(|m| m.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or(image)
            .to_owned();
        let bucket = captured
            .as_ref()
            .and_then(|b| self.rules.get(b))
            .or(self.default.as_ref())
            .cloned()
            .or(captured.filter(|b| !b.is_empty()))?;
        Some((bucket, key))
    }

    /// The loader of a bucket: a configured one, else a passthrough one.
    fn loader(&self, bucket: &str) -> Result<Arc<S3Storage>> {
        if let Some(l) = self.loaders.get(bucket) {
            return Ok(l.clone());
        }
        let mut dynamic = self.dynamic.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = dynamic.get(bucket) {
            return Ok(l.clone());
        }
        if bucket.contains('/') || bucket == "*" {
            return Err(Error::NOT_FOUND);
        }
        let opts = S3Options {
            bucket: bucket.to_owned(),
            ..self.template.clone()
        };
        let loader = Arc::new(S3Storage::new(opts)?);
        if dynamic.len() < MAX_DYNAMIC {
            dynamic.insert(bucket.to_owned(), loader.clone());
        }
        Ok(loader)
    }
}

/// A configured bucket's options: the loader's, with the bucket's own.
fn bucket_options(template: &S3Options, b: &BucketYaml) -> S3Options {
    let mut o = S3Options {
        bucket: b.name.clone(),
        ..template.clone()
    };
    if !b.region.is_empty() {
        o.region = b.region.clone();
    }
    if !b.endpoint.is_empty() {
        o.endpoint = b.endpoint.clone();
    }
    if !b.access_key_id.is_empty() && !b.secret_access_key.is_empty() {
        o.access_key_id = b.access_key_id.clone();
        o.secret_access_key = b.secret_access_key.clone();
        o.session_token = b.session_token.clone();
    }
    o
}

impl Loader for S3RouterLoader {
    fn get<'a>(&'a self, ctx: LoadContext<'a>, key: &'a str) -> BoxFuture<'a, Result<Blob>> {
        Box::pin(async move {
            let (bucket, object) = self.route(key).ok_or(Error::NOT_FOUND)?;
            let primary = self.loader(&bucket)?;
            match primary.get(ctx, &object).await {
                Err(Error::NotFound(_)) => {}
                other => return other,
            }
            for name in self.fallbacks.iter().filter(|n| **n != bucket) {
                match self.loader(name)?.get(ctx, &object).await {
                    Err(Error::NotFound(_)) => {}
                    other => return other,
                }
            }
            Err(Error::NOT_FOUND)
        })
    }

    fn name(&self) -> &'static str {
        "s3-router"
    }

    /// The location in the bucket the key routes to first (a source found
    /// in a fallback bucket is not recognised as that bucket's object).
    fn location(&self, key: &str) -> Option<String> {
        let (bucket, object) = self.route(key)?;
        self.loader(&bucket).ok()?.location(&object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(yaml: &str) -> Result<S3RouterLoader> {
        let template = S3Options {
            endpoint: "http://127.0.0.1:1".into(),
            force_path_style: true,
            ..S3Options::default()
        };
        S3RouterLoader::from_yaml(yaml, template)
    }

    #[test]
    fn routes_as_imagor() {
        let r = router(
            r#"
routing_pattern: "^[a-f0-9]{4}-(?P<bucket>[A-Za-z0-9]+)-"
default_bucket: { name: default-bucket, region: us-east-1 }
fallback_buckets: [ { name: fb1 }, { name: fb2 }, { name: fb3 } ]
rules:
  - match: B1
    bucket: { name: singapore-bucket, region: ap-southeast-1 }
"#,
        )
        .unwrap();
        let b = |k: &str| r.route(k).map(|(b, _)| b);
        assert_eq!(
            b("f7a3-B1-project-123-image.jpg").as_deref(),
            Some("singapore-bucket")
        );
        assert_eq!(b("/f7a3-B1-x.jpg").as_deref(), Some("singapore-bucket"));
        assert_eq!(b("abcd-XX-unknown.jpg").as_deref(), Some("default-bucket"));
        assert_eq!(b("no-match.jpg").as_deref(), Some("default-bucket"));
        assert_eq!(r.route("f7a3-B1-a.jpg").unwrap().1, "f7a3-B1-a.jpg");
        assert_eq!(r.fallbacks, ["fb1", "fb2"]);
    }

    #[test]
    fn path_group_and_passthrough() {
        let r = router(r#"routing_pattern: '^(?P<bucket>[^/]+)/(?P<path>.+)$'"#).unwrap();
        assert_eq!(
            r.route("any-bucket/images/photo.jpg"),
            Some(("any-bucket".into(), "images/photo.jpg".into()))
        );
        assert_eq!(r.route("nobucket.jpg"), None);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(router("default_bucket: { name: x }").is_err());
        assert!(router("routing_pattern: '^([a-z]+)-'").is_err());
        assert!(router("routing_pattern: '^[invalid('").is_err());
        assert!(router("routing_pattern: [").is_err());
    }
}
