//! [`Options`] → the S3 and GCS loaders, storages and result storages, with
//! imagor's rules for which credentials, region and endpoint each role
//! gets (`config/awsconfig`, `config/gcloudconfig`).

use std::sync::Arc;
use std::time::Duration;

use super::{GcsOptions, GcsStorage, S3Options, S3Storage, Storage};
use crate::error::Result;
use crate::loader::{Loader, S3RouterLoader};
use crate::options::Options;

/// What the object-storage options enable, in imagor's order (S3 first,
/// then GCS), to be placed before the file loader and storages.
#[derive(Default)]
pub(crate) struct Cloud {
    pub loaders: Vec<Arc<dyn Loader>>,
    pub storages: Vec<Arc<dyn Storage>>,
    pub result_storages: Vec<Arc<dyn Storage>>,
}

/// An S3 role: `region`, `key`, `secret`, `token`, `endpoint` of the role.
struct Role<'a>(&'a str, &'a str, &'a str, &'a str, &'a str);

/// imagor's per-role AWS config: the role's region, key and secret all set
/// replace the global ones; otherwise the global ones (or the default
/// chain). The role's endpoint wins over `s3_endpoint`.
fn s3_base(o: &Options, role: Role<'_>) -> S3Options {
    let Role(region, key, secret, token, endpoint) = role;
    let own = !region.is_empty() && !key.is_empty() && !secret.is_empty();
    let pick = |own_value: &str, global: &str| {
        if own {
            own_value.to_owned()
        } else {
            global.to_owned()
        }
    };
    S3Options {
        region: pick(region, &o.aws_region),
        access_key_id: pick(key, &o.aws_access_key_id),
        secret_access_key: pick(secret, &o.aws_secret_access_key),
        session_token: pick(token, &o.aws_session_token),
        endpoint: if endpoint.is_empty() {
            o.s3_endpoint.clone()
        } else {
            endpoint.to_owned()
        },
        force_path_style: o.s3_force_path_style,
        safe_chars: o.s3_safe_chars.clone(),
        max_size: o.object_storage_max_size,
        max_idle_per_host: o.s3_http_max_idle_conns_per_host.clamp(0, 1 << 16) as usize,
        ..S3Options::default()
    }
}

fn expiration(d: Duration) -> Option<Duration> {
    Some(d).filter(|d| !d.is_zero())
}

/// The S3 loader's options for `bucket` (also the router's template).
pub(crate) fn s3_loader_options(o: &Options, bucket: &str) -> S3Options {
    S3Options {
        bucket: bucket.to_owned(),
        base_dir: o.s3_loader_base_dir.clone(),
        path_prefix: o.s3_loader_path_prefix.clone(),
        ..s3_base(
            o,
            Role(
                &o.aws_loader_region,
                &o.aws_loader_access_key_id,
                &o.aws_loader_secret_access_key,
                &o.aws_loader_session_token,
                &o.s3_loader_endpoint,
            ),
        )
    }
}

/// Everything the options enable.
pub(crate) fn from_options(o: &Options) -> Result<Cloud> {
    let mut cloud = Cloud::default();
    if !o.s3_storage_bucket.is_empty() {
        let opts = S3Options {
            bucket: o.s3_storage_bucket.clone(),
            base_dir: o.s3_storage_base_dir.clone(),
            path_prefix: o.s3_storage_path_prefix.clone(),
            acl: o.s3_storage_acl.clone(),
            tagging: o.s3_storage_tagging.clone(),
            storage_class: o.s3_storage_class.clone(),
            expiration: expiration(o.s3_storage_expiration),
            ..s3_base(
                o,
                Role(
                    &o.aws_storage_region,
                    &o.aws_storage_access_key_id,
                    &o.aws_storage_secret_access_key,
                    &o.aws_storage_session_token,
                    &o.s3_storage_endpoint,
                ),
            )
        };
        cloud.storages.push(Arc::new(S3Storage::new(opts)?));
    }
    if !o.s3_loader_bucket_router_config.is_empty() {
        let loader = S3RouterLoader::from_file(&o.s3_loader_bucket_router_config, o)?;
        cloud.loaders.push(Arc::new(loader));
    } else if !o.s3_loader_bucket.is_empty() {
        let opts = s3_loader_options(o, &o.s3_loader_bucket);
        cloud.loaders.push(Arc::new(S3Storage::new(opts)?));
    }
    if !o.s3_result_storage_bucket.is_empty() {
        let opts = S3Options {
            bucket: o.s3_result_storage_bucket.clone(),
            base_dir: o.s3_result_storage_base_dir.clone(),
            path_prefix: o.s3_result_storage_path_prefix.clone(),
            acl: o.s3_result_storage_acl.clone(),
            tagging: o.s3_result_storage_tagging.clone(),
            storage_class: o.s3_storage_class.clone(),
            expiration: expiration(o.s3_result_storage_expiration),
            ..s3_base(
                o,
                Role(
                    &o.aws_result_storage_region,
                    &o.aws_result_storage_access_key_id,
                    &o.aws_result_storage_secret_access_key,
                    &o.aws_result_storage_session_token,
                    &o.s3_result_storage_endpoint,
                ),
            )
        };
        cloud.result_storages.push(Arc::new(S3Storage::new(opts)?));
    }
    let gcs = |bucket: &str, base_dir: &str, prefix: &str, acl: &str, exp: Duration| {
        GcsStorage::new(GcsOptions {
            bucket: bucket.to_owned(),
            base_dir: base_dir.to_owned(),
            path_prefix: prefix.to_owned(),
            safe_chars: o.gcloud_safe_chars.clone(),
            acl: acl.to_owned(),
            expiration: expiration(exp),
            endpoint: o.gcloud_endpoint.clone(),
            max_size: o.object_storage_max_size,
        })
    };
    if !o.gcloud_storage_bucket.is_empty() {
        cloud.storages.push(Arc::new(gcs(
            &o.gcloud_storage_bucket,
            &o.gcloud_storage_base_dir,
            &o.gcloud_storage_path_prefix,
            &o.gcloud_storage_acl,
            o.gcloud_storage_expiration,
        )?));
    }
    if !o.gcloud_loader_bucket.is_empty() {
        cloud.loaders.push(Arc::new(gcs(
            &o.gcloud_loader_bucket,
            &o.gcloud_loader_base_dir,
            &o.gcloud_loader_path_prefix,
            "",
            Duration::ZERO,
        )?));
    }
    if !o.gcloud_result_storage_bucket.is_empty() {
        cloud.result_storages.push(Arc::new(gcs(
            &o.gcloud_result_storage_bucket,
            &o.gcloud_result_storage_base_dir,
            &o.gcloud_result_storage_path_prefix,
            &o.gcloud_result_storage_acl,
            o.gcloud_result_storage_expiration,
        )?));
    }
    Ok(cloud)
}
