//! [`Options`]: one configuration for the library, the bindings and the
//! server. Field names are imagor's flag names without their group prefix
//! (`vips-max-width` → `max_width`, `file-loader-base-dir` →
//! `file_loader_base_dir`), in snake_case; Python keyword arguments, JS
//! option objects (camelCase) and the C JSON use the same fields.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most [`Options::max_overlay_depth`] may be. Each level of `image()`
/// runs a whole pipeline on the calling thread's stack: at 100 000 a path
/// of 1 000 nested overlays (26 KB) overflowed an 8 MB stack (SIGSEGV of
/// the host process); 32 levels leave room on a 2 MB thread.
pub const MAX_OVERLAY_DEPTH: u32 = 32;

/// Everything that configures an [`crate::Imagor`]. `Options::default()` is
/// imagor's default configuration, plus the per-call resource budget
/// (`process_timeout`, `max_memory`) imagor does not have.
///
/// `Debug` never shows the secret, nor the AWS secret keys and session
/// tokens.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// URL signing secret (`imagor-secret`). Empty: no signer.
    pub secret: String,
    /// `sha1` (default), `sha256` or `sha512` (`imagor-signer-type`).
    pub signer_type: String,
    /// Cut signatures to this many characters; 0 keeps them whole
    /// (`imagor-signer-truncate`).
    pub signer_truncate: usize,
    /// Accept `unsafe/` paths without a signature (`imagor-unsafe`).
    #[serde(rename = "unsafe")]
    pub unsafe_: bool,

    /// Largest accepted width in pixels (`vips-max-width`, 9999).
    pub max_width: i32,
    /// Largest accepted height in pixels (`vips-max-height`, 9999).
    pub max_height: i32,
    /// Largest accepted width x height (`vips-max-resolution`, 81 megapixels).
    pub max_resolution: i64,
    /// Most animation frames loaded; -1 means all (`vips-max-animation-frames`).
    pub max_animation_frames: i32,
    /// Most filters applied; -1 means no limit (`vips-max-filter-ops`).
    pub max_filter_ops: i32,
    /// Skip `blur`, `sharpen` and `fill(blur)` (`vips-disable-blur`).
    pub disable_blur: bool,
    /// Filter names to skip (`vips-disable-filters`, comma-separated there).
    pub disable_filters: Vec<String>,
    /// Answer 400 instead of silently skipping disabled, unknown or
    /// over-the-limit filters, or a mistyped operation left in the ignored
    /// image segment of `process()` / `meta()` (`fit_in/300x200/`). Off by
    /// default (imagor skips them).
    pub strict_filters: bool,
    /// Drop all metadata on export (`vips-strip-metadata`).
    pub strip_metadata: bool,
    /// Convert to sRGB and drop the ICC profile on export
    /// (`vips-strip-color-profile`).
    pub strip_color_profile: bool,
    /// AVIF encoder speed 0..9, faster when higher (`vips-avif-speed`, 8).
    pub avif_speed: i32,
    /// Use mozjpeg-style JPEG settings (`vips-mozjpeg`).
    pub mozjpeg: bool,
    /// Shrink JPEGs harder while decoding, as sharp does by default
    /// (`fastShrinkOnLoad`): the largest DCT scale (1/2, 1/4, 1/8) the
    /// resize allows, where libvips' thumbnail, and so imagor, keeps a
    /// factor of two for the final resize. Cheaper (16-24% less CPU per
    /// 512x512 cover of a 2-12 MP JPEG), the same sizes, slightly sharper
    /// and no longer imagor's exact pixels; off by default (ours, no
    /// imagor flag).
    pub fast_shrink_on_load: bool,
    /// Lift every size limit, including libvips' own (`vips-unlimited`).
    pub unlimited: bool,
    /// libvips worker threads per image; 0 keeps libvips' default
    /// (`vips-concurrency`).
    pub concurrency: i32,
    /// Deepest nesting of `image()` overlays (each level a full pipeline),
    /// at most [`MAX_OVERLAY_DEPTH`].
    pub max_overlay_depth: u32,
    /// Refuse the formats whose libvips loaders libvips itself flags
    /// untrusted (`VIPS_OPERATION_UNTRUSTED`: PDF, JPEG 2000, JPEG XL,
    /// ImageMagick, ...) with a 406 naming the loader. SVG is rendered by
    /// resvg, not libvips, and stays available.
    pub block_untrusted_loaders: bool,
    /// libvips' `fail_on` for every decode: `"none"` (libvips' and imagor's
    /// default: a truncated or damaged file gives what could be decoded),
    /// `"truncated"`, `"error"` or `"warning"` (stricter: such a file is a
    /// 406 naming the format).
    pub fail_on: String,
    /// Longest side, in pixels, of the downscaled copy handed to region
    /// detectors (`vips-detector-probe-size`, 400). Smaller is faster,
    /// larger finds smaller regions.
    pub detector_probe_size: i32,
    /// Add the built-in face detector (`face-detector`, as imagorface):
    /// faces steer `smart` crop, `redact()` and `/meta`. Needs the `face`
    /// cargo feature.
    pub face_detector: bool,
    /// Smallest face found, in pixels of the probe (`face-detector-min-size`, 20).
    pub face_detector_min_size: u32,
    /// Detection score threshold; higher finds fewer false faces
    /// (`face-detector-min-quality`, 2.0).
    pub face_detector_min_quality: f64,
    /// Largest face found, in pixels of the probe (`face-detector-max-size`,
    /// 400); at least `face_detector_min_size`.
    pub face_detector_max_size: u32,
    /// Overlapping faces whose intersection over union exceeds this are one
    /// face, the best-scored kept (`face-detector-iou-threshold`, 0.2; 0 to
    /// 1, where 1 keeps every box).
    pub face_detector_iou_threshold: f64,
    /// Face detection answers cached per source image key
    /// (`face-detector-cache-size`); 0: no cache.
    pub face_detector_cache_size: usize,
    /// Age after which a cached face detection is redone
    /// (`face-detector-cache-ttl`); 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub face_detector_cache_ttl: Duration,

    /// Wall-clock limit of one call (`imagor-process-timeout`): libvips is
    /// stopped when it passes, and work estimated to take longer is refused
    /// up front; both answer 408. A number of seconds or a Go duration
    /// (`"2s"`, `"500ms"`); 0 means no limit. Default 2 s.
    #[serde(with = "crate::duration::serde_go")]
    pub process_timeout: Duration,
    /// Memory one call may use for decoding and intermediate images, in
    /// bytes, as estimated from the headers before any pixel is decoded
    /// (each decoder's real allocation: progressive JPEG coefficients,
    /// interlaced PNG, lossless WebP, HEIF/AVIF grids, JPEG 2000 tiles,
    /// frames x pixels). Over it: 422 naming `max_memory`. 0 means no
    /// limit. Default 256 MiB.
    pub max_memory: u64,
    /// Memory all calls of the process may hold at once, in bytes: their
    /// source bytes and the same estimates as `max_memory`, added up across
    /// calls. Sources and a call's first charge fill up to three quarters
    /// of it; without room a source is refused with 429, a first charge
    /// waits while other calls work (until the deadline), a later charge is
    /// refused with 429. 0 means no limit. Default half the memory of the
    /// machine or of its cgroup, whichever is smaller.
    pub max_total_memory: u64,

    /// Most images processed at once (`imagor-process-concurrency`); more
    /// wait in the queue. -1 (or 0): no limit. Result-storage hits and
    /// `raw()` requests are not counted, as in imagor.
    pub process_concurrency: i64,
    /// Most requests waiting for a processing slot
    /// (`imagor-process-queue-size`); one more is answered 429 at once.
    /// Only with a `process_concurrency` limit.
    pub process_queue_size: i64,
    /// Calls of this instance that do pixel work at once
    /// (`imagor-process-slots`, ours): requests of `serve` / `handle` (and
    /// the server) and in-process `process` / `meta` / pixel calls alike;
    /// 0 (default) one per core, one set shared by every instance of the
    /// process with the default; N: N of this instance's own; -1 no
    /// bound. One that finds all taken
    /// waits, first come first served, before its `process_timeout`
    /// starts (a request after its source is loaded), for its request
    /// timeout at most (`request_timeout` for an in-process call): with
    /// no bound, calls sharing the cores each ran past their wall-clock
    /// `process_timeout` together. A slot is given back while the
    /// processing waits on something else (an overlay's load, a body
    /// still arriving, a detector that does not keep it) and taken back
    /// ahead of the waiters.
    pub process_slots: i64,
    /// Wall-clock limit of a whole request: queue wait, loads, processing
    /// and saving the source (`imagor-request-timeout`, 30 s); 408 past it.
    /// 0: none.
    #[serde(with = "crate::duration::serde_go")]
    pub request_timeout: Duration,
    /// Limit of each loader or storage read (`imagor-load-timeout`, 20 s);
    /// 408 past it. 0: none.
    #[serde(with = "crate::duration::serde_go")]
    pub load_timeout: Duration,
    /// Limit of each storage write (`imagor-save-timeout`, 20 s). 0: none.
    #[serde(with = "crate::duration::serde_go")]
    pub save_timeout: Duration,

    /// No HTTP loader (`http-loader-disable`). Without it, image keys that
    /// are URLs (or host names, with `http_loader_default_scheme`) are
    /// fetched over HTTP(S), after every other loader.
    pub http_loader_disable: bool,
    /// Hosts the HTTP loader may load from, as globs matched against
    /// `host[:port]` (`*.example.com`; `http-loader-allowed-sources`,
    /// comma-separated there). Empty (with no regexp): any host.
    pub http_loader_allowed_sources: Vec<String>,
    /// A regexp over the whole URL that also allows a source, OR-combined
    /// with the globs (`http-loader-allowed-source-regexp`). Must compile.
    pub http_loader_allowed_source_regexp: String,
    /// Prepended to every image key (`http-loader-base-url`): the key is a
    /// path under it. Must be an absolute http(s) URL.
    pub http_loader_base_url: String,
    /// Scheme for keys without one (`http-loader-default-scheme`, `https`;
    /// `nil` refuses such keys).
    pub http_loader_default_scheme: String,
    /// Sent as `Accept` and matched (globs) against the response's
    /// `Content-Type`, else 406 (`http-loader-accept`, `*/*`).
    pub http_loader_accept: String,
    /// Request headers forwarded to the origin (`http-loader-forward-headers`).
    pub http_loader_forward_headers: Vec<String>,
    /// Forward all the client's request headers except hop-by-hop ones,
    /// `Cookie` and `Authorization` (`http-loader-forward-client-headers`).
    pub http_loader_forward_client_headers: bool,
    /// Deprecated alias of `http_loader_forward_client_headers`
    /// (`http-loader-forward-all-headers`).
    pub http_loader_forward_all_headers: bool,
    /// Origin response headers passed on to the image response, replacing
    /// imagor's own (`http-loader-override-response-headers`, e.g.
    /// `Cache-Control`).
    pub http_loader_override_response_headers: Vec<String>,
    /// Largest source in bytes, enforced on the decoded body as it streams
    /// (`http-loader-max-allowed-size`); over it: 400 `maximum size
    /// exceeded`. 0 means no limit.
    pub http_loader_max_allowed_size: i64,
    /// Proxy URLs (`http://user:pass@host:port`), used in turn
    /// (`http-loader-proxy-urls`). Targets are still checked here.
    pub http_loader_proxy_urls: Vec<String>,
    /// Hosts (globs) whose requests go through the proxies; empty: all
    /// (`http-loader-proxy-allowed-sources`).
    pub http_loader_proxy_allowed_sources: Vec<String>,
    /// Accept any TLS certificate (`http-loader-insecure-skip-verify-transport`).
    pub http_loader_insecure_skip_verify_transport: bool,
    /// Refuse loopback addresses: `127.0.0.0/8`, `0.0.0.0/8`, `::1`, `::`
    /// (`http-loader-block-loopback-networks`). On by default, unlike imagor.
    pub http_loader_block_loopback_networks: bool,
    /// Refuse private addresses: `10/8`, `172.16/12`, `192.168/16`,
    /// `100.64/10`, `fc00::/7` (`http-loader-block-private-networks`). On by
    /// default, unlike imagor.
    pub http_loader_block_private_networks: bool,
    /// Refuse link-local addresses (cloud metadata): `169.254/16`,
    /// `fe80::/10` (`http-loader-block-link-local-networks`). On by
    /// default, unlike imagor.
    pub http_loader_block_link_local_networks: bool,
    /// More networks to refuse, in CIDR notation (`10.1.0.0/16`, `::1/128`;
    /// `http-loader-block-networks`).
    pub http_loader_block_networks: Vec<String>,

    /// Serve sources from this folder (`file-loader-base-dir`). Empty: no
    /// file loader.
    pub file_loader_base_dir: String,
    /// Only image keys under this prefix are loaded, and the prefix is
    /// stripped (`file-loader-path-prefix`).
    pub file_loader_path_prefix: String,
    /// Extra characters kept unescaped in storage keys (`file-safe-chars`).
    pub file_safe_chars: String,

    /// Keep source images in this folder after loading them
    /// (`file-storage-base-dir`). Empty: no file storage.
    pub file_storage_base_dir: String,
    /// Key prefix of the file storage (`file-storage-path-prefix`).
    pub file_storage_path_prefix: String,
    /// Folder permission, Go syntax (`"0755"`; `file-storage-mkdir-permission`).
    pub file_storage_mkdir_permission: String,
    /// File permission, Go syntax (`"0666"`; `file-storage-write-permission`).
    pub file_storage_write_permission: String,
    /// Stored sources older than this are ignored (`file-storage-expiration`);
    /// 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub file_storage_expiration: Duration,
    /// Keep processed results in this folder (`file-result-storage-base-dir`).
    /// Empty: no file result storage.
    pub file_result_storage_base_dir: String,
    /// Key prefix of the file result storage.
    pub file_result_storage_path_prefix: String,
    /// Folder permission of the file result storage (`"0755"`).
    pub file_result_storage_mkdir_permission: String,
    /// File permission of the file result storage (`"0666"`).
    pub file_result_storage_write_permission: String,
    /// Stored results older than this are reprocessed; 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub file_result_storage_expiration: Duration,
    /// Storage key style: `original` or `digest` (`imagor-storage-path-style`).
    pub storage_path_style: String,
    /// Result storage key style: `original`, `digest`, `suffix` or `size`
    /// (`imagor-result-storage-path-style`).
    pub result_storage_path_style: String,
    /// Serve a stored result only if it is newer than its source
    /// (`imagor-modified-time-check`).
    pub modified_time_check: bool,

    /// Accept POST uploads of the image (`upload-loader-enable`; needs
    /// `unsafe`).
    pub upload_loader_enable: bool,
    /// Largest upload in bytes (`upload-loader-max-allowed-size`, 32 MiB).
    pub upload_loader_max_allowed_size: i64,
    /// Accepted upload content types (`upload-loader-accept`, `image/*`).
    pub upload_loader_accept: String,
    /// Multipart field holding the image (`upload-loader-form-field-name`).
    pub upload_loader_form_field_name: String,

    /// Paths applied on top of every request, e.g.
    /// `filters:watermark(logo.png)` (`imagor-base-params`).
    pub base_params: String,
    /// Redirect `/` here instead of showing the landing page
    /// (`imagor-base-path-redirect`).
    pub base_path_redirect: String,
    /// WebP when the browser accepts it and no format is asked
    /// (`imagor-auto-webp`).
    pub auto_webp: bool,
    /// AVIF when the browser accepts it (`imagor-auto-avif`).
    pub auto_avif: bool,
    /// JPEG when no specific format is asked (`imagor-auto-jpeg`).
    pub auto_jpeg: bool,
    /// `Cache-Control` max-age of successful images
    /// (`imagor-cache-header-ttl`, 168h; 0 keeps the default, as in imagor).
    #[serde(with = "crate::duration::serde_go")]
    pub cache_header_ttl: Duration,
    /// `stale-while-revalidate` (`imagor-cache-header-swr`, 24h).
    #[serde(with = "crate::duration::serde_go")]
    pub cache_header_swr: Duration,
    /// `Cache-Control: no-cache` on images (`imagor-cache-header-no-cache`).
    pub cache_header_no_cache: bool,
    /// Errors without a JSON body (`imagor-disable-error-body`).
    pub disable_error_body: bool,
    /// No `/params` endpoint (`imagor-disable-params-endpoint`).
    pub disable_params_endpoint: bool,
    /// On a processing error, answer with the unprocessed source and the
    /// error's status (`imagor-response-raw-on-error`).
    pub response_raw_on_error: bool,

    // ---- Object storage: S3 (imagor's awsconfig) and Google Cloud
    // Storage (gcloudconfig). Each role is enabled by its bucket. ----
    /// AWS region of every S3 role (`aws-region`); empty: `AWS_REGION`,
    /// else `us-east-1`.
    pub aws_region: String,
    /// AWS access key of every S3 role (`aws-access-key-id`); empty (or
    /// without its secret): the default AWS credential chain.
    pub aws_access_key_id: String,
    /// Secret of `aws_access_key_id` (`aws-secret-access-key`).
    pub aws_secret_access_key: String,
    /// Session token of temporary credentials (`aws-session-token`).
    pub aws_session_token: String,
    /// Endpoint of an S3-compatible server for every role (`s3-endpoint`,
    /// e.g. `http://minio:9000`); empty: AWS.
    pub s3_endpoint: String,
    /// Region of the S3 loader; with its key and secret it replaces the
    /// global credentials for the loader (`aws-loader-region`).
    pub aws_loader_region: String,
    /// Access key of the S3 loader (`aws-loader-access-key-id`).
    pub aws_loader_access_key_id: String,
    /// Secret of the S3 loader's key (`aws-loader-secret-access-key`).
    pub aws_loader_secret_access_key: String,
    /// Session token of the S3 loader (`aws-loader-session-token`).
    pub aws_loader_session_token: String,
    /// Endpoint of the S3 loader, over `s3_endpoint` (`s3-loader-endpoint`).
    pub s3_loader_endpoint: String,
    /// Region of the S3 storage (`aws-storage-region`; with key and secret).
    pub aws_storage_region: String,
    /// Access key of the S3 storage (`aws-storage-access-key-id`).
    pub aws_storage_access_key_id: String,
    /// Secret of the S3 storage's key (`aws-storage-secret-access-key`).
    pub aws_storage_secret_access_key: String,
    /// Session token of the S3 storage (`aws-storage-session-token`).
    pub aws_storage_session_token: String,
    /// Endpoint of the S3 storage (`s3-storage-endpoint`).
    pub s3_storage_endpoint: String,
    /// Region of the S3 result storage (`aws-result-storage-region`).
    pub aws_result_storage_region: String,
    /// Access key of the S3 result storage (`aws-result-storage-access-key-id`).
    pub aws_result_storage_access_key_id: String,
    /// Secret of the S3 result storage's key
    /// (`aws-result-storage-secret-access-key`).
    pub aws_result_storage_secret_access_key: String,
    /// Session token of the S3 result storage
    /// (`aws-result-storage-session-token`).
    pub aws_result_storage_session_token: String,
    /// Endpoint of the S3 result storage (`s3-result-storage-endpoint`).
    pub s3_result_storage_endpoint: String,
    /// Path-style addressing (`endpoint/bucket/key`) instead of
    /// virtual-hosted (`bucket.endpoint/key`) (`s3-force-path-style`).
    pub s3_force_path_style: bool,
    /// Extra characters kept unescaped in S3 keys (`!"()*` always are);
    /// `--`: no escaping (`s3-safe-chars`).
    pub s3_safe_chars: String,
    /// Load sources from this S3 bucket (`s3-loader-bucket`; `bucket/dir`
    /// sets the base dir; `*`: bucket from the first path segment). Empty:
    /// no S3 loader.
    pub s3_loader_bucket: String,
    /// Folder of the S3 loader inside its bucket (`s3-loader-base-dir`).
    pub s3_loader_base_dir: String,
    /// Only keys under this prefix are loaded from S3, without the prefix
    /// (`s3-loader-path-prefix`).
    pub s3_loader_path_prefix: String,
    /// YAML file of bucket routing rules; replaces the plain S3 loader
    /// (`s3-loader-bucket-router-config`).
    pub s3_loader_bucket_router_config: String,
    /// Keep sources in this S3 bucket (`s3-storage-bucket`). Empty: none.
    pub s3_storage_bucket: String,
    /// Folder of the S3 storage (`s3-storage-base-dir`).
    pub s3_storage_base_dir: String,
    /// Key prefix of the S3 storage (`s3-storage-path-prefix`).
    pub s3_storage_path_prefix: String,
    /// Canned ACL of S3 storage writes, e.g. `public-read`
    /// (`s3-storage-acl`); empty: none sent.
    pub s3_storage_acl: String,
    /// Object tags of S3 storage writes, `k=v&k2=v2` (`s3-storage-tagging`).
    pub s3_storage_tagging: String,
    /// Stored sources older than this are ignored (`s3-storage-expiration`);
    /// 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub s3_storage_expiration: Duration,
    /// Keep results in this S3 bucket (`s3-result-storage-bucket`). Empty:
    /// none.
    pub s3_result_storage_bucket: String,
    /// Folder of the S3 result storage (`s3-result-storage-base-dir`).
    pub s3_result_storage_base_dir: String,
    /// Key prefix of the S3 result storage (`s3-result-storage-path-prefix`).
    pub s3_result_storage_path_prefix: String,
    /// Canned ACL of S3 result writes (`s3-result-storage-acl`).
    pub s3_result_storage_acl: String,
    /// Object tags of S3 result writes (`s3-result-storage-tagging`).
    pub s3_result_storage_tagging: String,
    /// Stored results older than this are reprocessed
    /// (`s3-result-storage-expiration`); 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub s3_result_storage_expiration: Duration,
    /// Storage class of S3 writes (`s3-storage-class`, `STANDARD`;
    /// `STANDARD_IA`, `ONEZONE_IA`, `INTELLIGENT_TIERING`, `GLACIER`, ...).
    pub s3_storage_class: String,
    /// Idle connections kept per S3 host (`s3-http-max-idle-conns-per-host`, 100).
    pub s3_http_max_idle_conns_per_host: i64,
    /// Extra characters kept unescaped in GCS keys; `--`: no escaping
    /// (`gcloud-safe-chars`).
    pub gcloud_safe_chars: String,
    /// Load sources from this GCS bucket (`gcloud-loader-bucket`; `*`:
    /// bucket from the first path segment). Credentials come from
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    pub gcloud_loader_bucket: String,
    /// Folder of the GCS loader (`gcloud-loader-base-dir`).
    pub gcloud_loader_base_dir: String,
    /// Key prefix of the GCS loader (`gcloud-loader-path-prefix`).
    pub gcloud_loader_path_prefix: String,
    /// Keep sources in this GCS bucket (`gcloud-storage-bucket`).
    pub gcloud_storage_bucket: String,
    /// Folder of the GCS storage (`gcloud-storage-base-dir`).
    pub gcloud_storage_base_dir: String,
    /// Key prefix of the GCS storage (`gcloud-storage-path-prefix`).
    pub gcloud_storage_path_prefix: String,
    /// Predefined ACL of GCS storage writes, e.g. `publicRead`
    /// (`gcloud-storage-acl`).
    pub gcloud_storage_acl: String,
    /// Stored sources older than this are ignored
    /// (`gcloud-storage-expiration`); 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub gcloud_storage_expiration: Duration,
    /// Keep results in this GCS bucket (`gcloud-result-storage-bucket`).
    pub gcloud_result_storage_bucket: String,
    /// Folder of the GCS result storage (`gcloud-result-storage-base-dir`).
    pub gcloud_result_storage_base_dir: String,
    /// Key prefix of the GCS result storage
    /// (`gcloud-result-storage-path-prefix`).
    pub gcloud_result_storage_path_prefix: String,
    /// Predefined ACL of GCS result writes (`gcloud-result-storage-acl`).
    pub gcloud_result_storage_acl: String,
    /// Stored results older than this are reprocessed
    /// (`gcloud-result-storage-expiration`); 0: never.
    #[serde(with = "crate::duration::serde_go")]
    pub gcloud_result_storage_expiration: Duration,
    /// GCS endpoint for an emulator (`http://127.0.0.1:4443`); empty:
    /// Google's. Not an imagor flag: the server reads
    /// `STORAGE_EMULATOR_HOST`, as Google's Go client does.
    pub gcloud_endpoint: String,
    /// Largest object the S3 and GCS loaders and storages read, in bytes,
    /// checked against the object's size and again while streaming
    /// (400 "maximum size exceeded"); 0: no limit. Not an imagor flag
    /// (imagor has no limit). Default 64 MiB.
    pub object_storage_max_size: u64,
}

mod check;
mod defaults;
mod redact;

pub use check::parse_permission;
