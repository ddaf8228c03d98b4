//! `imagor -flag ...`: the server's command line, from the parsed
//! [`Config`] to the library's [`Options`] and the transport's
//! [`ServerOptions`], then the server until SIGTERM/SIGINT.

use std::time::Duration;

use super::config::{self, Config, ConfigError};
use super::http::ServerOptions;
use super::log::log;
use super::middleware::Layers;
use crate::options::Options;
use crate::Imagor;

/// Map imagor's flags onto [`Options`], with imagor's rules for values it
/// ignores (a zero timeout or TTL keeps the default, `0` frames or filter
/// ops mean unlimited, unknown signer or path styles fall back to the
/// default).
pub fn options(c: &Config) -> Options {
    let d = Options::default();
    let positive = |name: &str, default: Duration| {
        let v = c.duration(name);
        if v.is_zero() {
            default
        } else {
            v
        }
    };
    let int_or = |name: &str, default: i64| match c.int(name) {
        0 => default,
        v => v,
    };
    // imagor's `WithMaxWidth` & co. ignore a value that is not positive.
    let positive_or = |name: &str, default: i64| match c.int(name) {
        v if v > 0 => v,
        _ => default,
    };
    let signer_type = match c.str("imagor-signer-type").to_ascii_lowercase().as_str() {
        "sha256" => "sha256",
        "sha512" => "sha512",
        _ => "sha1",
    };
    let style = |name: &str, allowed: &[&str]| {
        let v = c.str(name).to_ascii_lowercase();
        if allowed.contains(&v.as_str()) {
            v
        } else {
            "original".to_owned()
        }
    };
    let avif_speed = c.int("vips-avif-speed");
    Options {
        secret: c.str("imagor-secret").to_owned(),
        signer_type: signer_type.to_owned(),
        signer_truncate: c.int("imagor-signer-truncate").max(0) as usize,
        unsafe_: c.bool("imagor-unsafe"),
        max_width: positive_or("vips-max-width", d.max_width as i64).min(i32::MAX as i64) as i32,
        max_height: positive_or("vips-max-height", d.max_height as i64).min(i32::MAX as i64) as i32,
        max_resolution: positive_or("vips-max-resolution", d.max_resolution),
        max_animation_frames: int_or("vips-max-animation-frames", -1).clamp(-1, i32::MAX as i64)
            as i32,
        max_filter_ops: int_or("vips-max-filter-ops", -1).clamp(-1, i32::MAX as i64) as i32,
        disable_blur: c.bool("vips-disable-blur"),
        disable_filters: c
            .str("vips-disable-filters")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        strip_metadata: c.bool("vips-strip-metadata"),
        strip_color_profile: c.bool("vips-strip-color-profile"),
        avif_speed: if (0..=9).contains(&avif_speed) {
            avif_speed as i32
        } else {
            8
        },
        mozjpeg: c.bool("vips-mozjpeg"),
        face_detector: c.bool("face-detector"),
        face_detector_min_size: c.int("face-detector-min-size").clamp(20, 10_000) as u32,
        face_detector_min_quality: c
            .str("face-detector-min-quality")
            .parse::<f64>()
            .ok()
            .filter(|q| q.is_finite() && *q > 0.0)
            .unwrap_or(d.face_detector_min_quality),
        face_detector_max_size: (c.int("face-detector-max-size").clamp(20, 10_000) as u32)
            .max(c.int("face-detector-min-size").clamp(20, 10_000) as u32),
        face_detector_iou_threshold: c
            .str("face-detector-iou-threshold")
            .parse::<f64>()
            .ok()
            .filter(|t| (0.0..=1.0).contains(t))
            .unwrap_or(d.face_detector_iou_threshold),
        face_detector_cache_size: c.int("face-detector-cache-size").clamp(0, 1 << 20) as usize,
        face_detector_cache_ttl: c.duration("face-detector-cache-ttl"),
        // imagor keeps its default for 0 or less.
        detector_probe_size: match c.int("vips-detector-probe-size") {
            n if n > 0 => n.min(10_000) as i32,
            _ => d.detector_probe_size,
        },
        unlimited: c.bool("vips-unlimited"),
        concurrency: match c.int("vips-concurrency") {
            -1 => std::thread::available_parallelism().map_or(1, |n| n.get() as i32),
            n if n > 0 => n.min(1024) as i32,
            _ => 1,
        },
        process_timeout: positive("imagor-process-timeout", d.process_timeout),
        // Ours: a negative value keeps the default.
        max_memory: u64::try_from(c.int("imagor-max-memory")).unwrap_or(d.max_memory),
        max_total_memory: u64::try_from(c.int("imagor-max-total-memory"))
            .unwrap_or(d.max_total_memory),
        process_concurrency: c.int("imagor-process-concurrency").max(-1),
        process_queue_size: c.int("imagor-process-queue-size").max(0),
        process_slots: c.int("imagor-process-slots").max(-1),
        request_timeout: positive("imagor-request-timeout", d.request_timeout),
        load_timeout: positive("imagor-load-timeout", d.load_timeout),
        save_timeout: positive("imagor-save-timeout", d.save_timeout),
        http_loader_disable: c.bool("http-loader-disable"),
        http_loader_allowed_sources: csv(c.str("http-loader-allowed-sources")),
        http_loader_allowed_source_regexp: c.str("http-loader-allowed-source-regexp").to_owned(),
        http_loader_base_url: c.str("http-loader-base-url").to_owned(),
        http_loader_default_scheme: match c.str("http-loader-default-scheme") {
            "" => d.http_loader_default_scheme.clone(),
            s => s.to_owned(),
        },
        http_loader_accept: match c.str("http-loader-accept") {
            "" => d.http_loader_accept.clone(),
            s => s.to_owned(),
        },
        http_loader_forward_headers: csv(c.str("http-loader-forward-headers")),
        http_loader_forward_client_headers: c.bool("http-loader-forward-client-headers"),
        http_loader_forward_all_headers: c.bool("http-loader-forward-all-headers"),
        http_loader_override_response_headers: csv(c.str("http-loader-override-response-headers")),
        http_loader_max_allowed_size: c.int("http-loader-max-allowed-size").max(0),
        http_loader_proxy_urls: csv(c.str("http-loader-proxy-urls")),
        http_loader_proxy_allowed_sources: csv(c.str("http-loader-proxy-allowed-sources")),
        http_loader_insecure_skip_verify_transport: c
            .bool("http-loader-insecure-skip-verify-transport"),
        http_loader_block_loopback_networks: c.bool("http-loader-block-loopback-networks"),
        http_loader_block_private_networks: c.bool("http-loader-block-private-networks"),
        http_loader_block_link_local_networks: c.bool("http-loader-block-link-local-networks"),
        http_loader_block_networks: c.cidrs("http-loader-block-networks"),
        file_loader_base_dir: c.str("file-loader-base-dir").to_owned(),
        file_loader_path_prefix: c.str("file-loader-path-prefix").to_owned(),
        file_safe_chars: c.str("file-safe-chars").to_owned(),
        file_storage_base_dir: c.str("file-storage-base-dir").to_owned(),
        file_storage_path_prefix: c.str("file-storage-path-prefix").to_owned(),
        file_storage_mkdir_permission: permission(c, "file-storage-mkdir-permission", "0755"),
        file_storage_write_permission: permission(c, "file-storage-write-permission", "0666"),
        file_storage_expiration: c.duration("file-storage-expiration"),
        file_result_storage_base_dir: c.str("file-result-storage-base-dir").to_owned(),
        file_result_storage_path_prefix: c.str("file-result-storage-path-prefix").to_owned(),
        file_result_storage_mkdir_permission: permission(
            c,
            "file-result-storage-mkdir-permission",
            "0755",
        ),
        file_result_storage_write_permission: permission(
            c,
            "file-result-storage-write-permission",
            "0666",
        ),
        file_result_storage_expiration: c.duration("file-result-storage-expiration"),
        storage_path_style: style("imagor-storage-path-style", &["original", "digest"]),
        result_storage_path_style: style(
            "imagor-result-storage-path-style",
            &["original", "digest", "suffix", "size"],
        ),
        modified_time_check: c.bool("imagor-modified-time-check"),
        upload_loader_enable: c.bool("upload-loader-enable"),
        upload_loader_max_allowed_size: c.int("upload-loader-max-allowed-size"),
        upload_loader_accept: c.str("upload-loader-accept").to_owned(),
        upload_loader_form_field_name: c.str("upload-loader-form-field-name").to_owned(),
        base_params: c.str("imagor-base-params").trim().to_owned(),
        base_path_redirect: c.str("imagor-base-path-redirect").to_owned(),
        auto_webp: c.bool("imagor-auto-webp"),
        auto_avif: c.bool("imagor-auto-avif"),
        auto_jpeg: c.bool("imagor-auto-jpeg"),
        cache_header_ttl: positive("imagor-cache-header-ttl", d.cache_header_ttl),
        cache_header_swr: positive("imagor-cache-header-swr", d.cache_header_swr),
        cache_header_no_cache: c.bool("imagor-cache-header-no-cache"),
        disable_error_body: c.bool("imagor-disable-error-body"),
        disable_params_endpoint: c.bool("imagor-disable-params-endpoint"),
        response_raw_on_error: c.bool("imagor-response-raw-on-error"),
        ..object_storage_options(c, d)
    }
}

// ---- Object storage: imagor's awsconfig and gcloudconfig flags. ----

/// The `-aws-*`, `-s3-*` and `-gcloud-*` flags onto `d`, and
/// `STORAGE_EMULATOR_HOST` (read by Google's Go client in imagor) as the
/// GCS endpoint.
fn object_storage_options(c: &Config, d: Options) -> Options {
    let s = |name: &str| c.str(name).to_owned();
    let emulator = std::env::var("STORAGE_EMULATOR_HOST").unwrap_or_default();
    let gcloud_endpoint = match emulator.trim() {
        "" => String::new(),
        h if h.contains("://") => h.to_owned(),
        h => format!("http://{h}"),
    };
    Options {
        aws_region: s("aws-region"),
        aws_access_key_id: s("aws-access-key-id"),
        aws_secret_access_key: s("aws-secret-access-key"),
        aws_session_token: s("aws-session-token"),
        s3_endpoint: s("s3-endpoint"),
        aws_loader_region: s("aws-loader-region"),
        aws_loader_access_key_id: s("aws-loader-access-key-id"),
        aws_loader_secret_access_key: s("aws-loader-secret-access-key"),
        aws_loader_session_token: s("aws-loader-session-token"),
        s3_loader_endpoint: s("s3-loader-endpoint"),
        aws_storage_region: s("aws-storage-region"),
        aws_storage_access_key_id: s("aws-storage-access-key-id"),
        aws_storage_secret_access_key: s("aws-storage-secret-access-key"),
        aws_storage_session_token: s("aws-storage-session-token"),
        s3_storage_endpoint: s("s3-storage-endpoint"),
        aws_result_storage_region: s("aws-result-storage-region"),
        aws_result_storage_access_key_id: s("aws-result-storage-access-key-id"),
        aws_result_storage_secret_access_key: s("aws-result-storage-secret-access-key"),
        aws_result_storage_session_token: s("aws-result-storage-session-token"),
        s3_result_storage_endpoint: s("s3-result-storage-endpoint"),
        s3_force_path_style: c.bool("s3-force-path-style"),
        s3_safe_chars: s("s3-safe-chars"),
        s3_loader_bucket: s("s3-loader-bucket"),
        s3_loader_base_dir: s("s3-loader-base-dir"),
        s3_loader_path_prefix: s("s3-loader-path-prefix"),
        s3_loader_bucket_router_config: s("s3-loader-bucket-router-config"),
        s3_storage_bucket: s("s3-storage-bucket"),
        s3_storage_base_dir: s("s3-storage-base-dir"),
        s3_storage_path_prefix: s("s3-storage-path-prefix"),
        s3_storage_acl: s("s3-storage-acl"),
        s3_storage_tagging: s("s3-storage-tagging"),
        s3_storage_expiration: c.duration("s3-storage-expiration"),
        s3_result_storage_bucket: s("s3-result-storage-bucket"),
        s3_result_storage_base_dir: s("s3-result-storage-base-dir"),
        s3_result_storage_path_prefix: s("s3-result-storage-path-prefix"),
        s3_result_storage_acl: s("s3-result-storage-acl"),
        s3_result_storage_tagging: s("s3-result-storage-tagging"),
        s3_result_storage_expiration: c.duration("s3-result-storage-expiration"),
        s3_storage_class: s("s3-storage-class"),
        s3_http_max_idle_conns_per_host: c.int("s3-http-max-idle-conns-per-host"),
        gcloud_safe_chars: s("gcloud-safe-chars"),
        gcloud_loader_bucket: s("gcloud-loader-bucket"),
        gcloud_loader_base_dir: s("gcloud-loader-base-dir"),
        gcloud_loader_path_prefix: s("gcloud-loader-path-prefix"),
        gcloud_storage_bucket: s("gcloud-storage-bucket"),
        gcloud_storage_base_dir: s("gcloud-storage-base-dir"),
        gcloud_storage_path_prefix: s("gcloud-storage-path-prefix"),
        gcloud_storage_acl: s("gcloud-storage-acl"),
        gcloud_storage_expiration: c.duration("gcloud-storage-expiration"),
        gcloud_result_storage_bucket: s("gcloud-result-storage-bucket"),
        gcloud_result_storage_base_dir: s("gcloud-result-storage-base-dir"),
        gcloud_result_storage_path_prefix: s("gcloud-result-storage-path-prefix"),
        gcloud_result_storage_acl: s("gcloud-result-storage-acl"),
        gcloud_result_storage_expiration: c.duration("gcloud-result-storage-expiration"),
        gcloud_endpoint,
        ..d
    }
}

/// Flags imagor has that this server accepts (so that existing command
/// lines start) but does not act on yet, by name prefix.
const NOT_IN_EFFECT: &[&str] = &[
    "vips-cache-",
    "vips-max-cache-",
    "vips-vector",
    "sentry-dsn",
    "gomaxprocs",
];

/// One warning per flag that is set (by flag, environment or file) but not
/// in effect.
pub fn not_in_effect(c: &Config) -> Vec<String> {
    c.iter()
        .filter(|(flag, _, _)| {
            NOT_IN_EFFECT.iter().any(|p| flag.name.starts_with(p)) && c.is_set(flag.name)
        })
        .map(|(flag, _, _)| format!("-{} is accepted but not in effect yet: ignored", flag.name))
        .collect()
}

/// A comma-separated flag value as a list (trimmed, empty entries dropped).
fn csv(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// imagor keeps the default when a permission does not parse.
fn permission(c: &Config, name: &str, default: &str) -> String {
    let v = c.str(name);
    if crate::options::parse_permission(v).is_some() {
        v.to_owned()
    } else {
        default.to_owned()
    }
}

/// Map the server and Prometheus flags onto [`ServerOptions`].
pub fn server_options(c: &Config, opts: &Options) -> ServerOptions {
    let addr = if c.str("bind").is_empty() {
        format!("{}:{}", c.str("server-address"), c.int("port"))
    } else {
        c.str("bind").to_owned()
    };
    ServerOptions {
        addr,
        layers: Layers {
            path_prefix: c.str("server-path-prefix").to_owned(),
            cors: c.bool("server-cors"),
            strip_query_string: c.bool("server-strip-query-string"),
        },
        access_log: c.bool("server-access-log"),
        debug: c.bool("debug"),
        prometheus_bind: c.str("prometheus-bind").to_owned(),
        prometheus_path: c.str("prometheus-path").to_owned(),
        prometheus_namespace: c.str("prometheus-namespace").to_owned(),
        max_body_bytes: (opts.upload_loader_max_allowed_size.max(0) as usize)
            .saturating_add(1 << 20),
        body_read_timeout: opts.request_timeout,
        send_timeout: opts.request_timeout,
        max_source_waits: match c.int("imagor-max-source-waits") {
            n if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            -1 => 0,
            _ => super::http::DEFAULT_SOURCE_WAITS,
        },
        ..ServerOptions::default()
    }
}

/// Run the server for a command line (`args` without the program name)
/// and the process environment; returns the exit code. `-h` prints the
/// flags (exit 0), a bad flag the usage (exit 2), and a configuration that
/// would sign with an empty key (no secret, no unsafe) refuses to start
/// (exit 2), where imagor would start.
pub fn main(args: &[String]) -> i32 {
    // Before libvips starts any thread (see `run`).
    crate::vips::malloc::limit_arenas();
    let env = |key: &str| std::env::var(key).ok();
    let config = match config::parse(args, &env) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let opts = options(&config);
    if opts.secret.is_empty() && !opts.unsafe_ {
        eprintln!(
            "imagor: refusing to start without -imagor-secret or -imagor-unsafe \
             (IMAGOR_SECRET / IMAGOR_UNSAFE): imagor would accept URLs signed with an empty key"
        );
        return 2;
    }
    let server = server_options(&config, &opts);
    let imagor = match Imagor::new(opts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("imagor: invalid configuration: {e}");
            return 2;
        }
    };
    super::log::set_log_ecs(config.bool("log-ecs"));
    for warning in not_in_effect(&config)
        .into_iter()
        .chain(imagor.result_storage_warnings())
    {
        log("warn", "imagor", serde_json::json!({ "warning": warning }));
    }
    if server.debug {
        log(
            "debug",
            "imagor",
            serde_json::json!({"imagor": format!("{imagor:?}")}),
        );
    }
    match super::http::run(imagor, server) {
        Ok(()) => 0,
        Err(e) => {
            log(
                "fatal",
                "listen",
                serde_json::json!({"error": e.to_string()}),
            );
            1
        }
    }
}

fn report(e: &ConfigError) -> i32 {
    let out = e.stdout_text();
    if !out.is_empty() {
        print!("{out}");
    }
    let err = e.stderr_text();
    if !err.is_empty() {
        eprint!("{err}");
    }
    e.exit_code()
}

#[cfg(test)]
mod tests;
