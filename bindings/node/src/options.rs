//! [`ImagorOptions`]: the JavaScript option object as `index.d.ts` declares
//! it. Reading one into [`imagor::Options`] is [`crate::option_values`].

use napi_derive::napi;

pub(crate) use crate::option_values::{parse, to_json_redacted};

/// The options of an imagor instance; every field is optional and defaults
/// to imagor's default. Same fields as the Rust `imagor::Options`, the
/// Python keyword arguments and the C JSON options, in camelCase.
///
/// This interface only describes the accepted object: options are checked
/// key by key when passed (unknown keys, wrong types and out-of-range values
/// throw a `TypeError` naming the option).
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Only describes a JavaScript object for index.d.ts.
pub struct ImagorOptions {
    /// URL signing secret (`IMAGOR_SECRET`). Empty: no signer.
    pub secret: Option<String>,
    /// `'sha1'` (default), `'sha256'` or `'sha512'` (`IMAGOR_SIGNER_TYPE`).
    #[napi(ts_type = "'sha1' | 'sha256' | 'sha512'")]
    pub signer_type: Option<String>,
    /// Cut signatures to this many characters; 0 keeps them whole
    /// (`IMAGOR_SIGNER_TRUNCATE`).
    pub signer_truncate: Option<u32>,
    /// Accept `unsafe/` paths without a signature (`IMAGOR_UNSAFE`).
    pub r#unsafe: Option<bool>,
    /// Largest accepted width in pixels (`VIPS_MAX_WIDTH`, 9999).
    pub max_width: Option<i32>,
    /// Largest accepted height in pixels (`VIPS_MAX_HEIGHT`, 9999).
    pub max_height: Option<i32>,
    /// Largest accepted width x height (`VIPS_MAX_RESOLUTION`, 81 megapixels).
    pub max_resolution: Option<i64>,
    /// Most animation frames loaded; -1 means all (`VIPS_MAX_ANIMATION_FRAMES`).
    pub max_animation_frames: Option<i32>,
    /// Most filters applied; -1 means no limit (`VIPS_MAX_FILTER_OPS`).
    pub max_filter_ops: Option<i32>,
    /// Skip `blur`, `sharpen` and `fill(blur)` (`VIPS_DISABLE_BLUR`).
    pub disable_blur: Option<bool>,
    /// Filter names to skip (`VIPS_DISABLE_FILTERS`).
    pub disable_filters: Option<Vec<String>>,
    /// Answer 400 instead of silently skipping disabled, unknown or
    /// over-the-limit filters. Off by default (imagor skips them).
    pub strict_filters: Option<bool>,
    /// Drop all metadata on export (`VIPS_STRIP_METADATA`).
    pub strip_metadata: Option<bool>,
    /// Convert to sRGB and drop the ICC profile on export
    /// (`VIPS_STRIP_COLOR_PROFILE`).
    pub strip_color_profile: Option<bool>,
    /// AVIF encoder speed 0..9, faster when higher (`VIPS_AVIF_SPEED`, 8).
    pub avif_speed: Option<i32>,
    /// Use mozjpeg-style JPEG settings (`VIPS_MOZJPEG`).
    pub mozjpeg: Option<bool>,
    /// Shrink JPEGs harder while decoding, as sharp does by default
    /// (cheaper, not imagor's exact pixels; `false`).
    pub fast_shrink_on_load: Option<bool>,
    /// Lift every size limit, including libvips' own (`VIPS_UNLIMITED`).
    pub unlimited: Option<bool>,
    /// libvips worker threads per image; 0 keeps libvips' default
    /// (`VIPS_CONCURRENCY`). Process-wide in libvips.
    pub concurrency: Option<i32>,
    /// Deepest nesting of `image()` overlays (each level a full pipeline),
    /// at most 32 (default 4).
    pub max_overlay_depth: Option<u32>,
    /// Refuse the formats whose libvips loaders libvips flags untrusted
    /// (PDF, JPEG 2000, JPEG XL, ImageMagick ...) with a 406; default true.
    pub block_untrusted_loaders: Option<bool>,
    /// libvips' `fail_on` for decodes: `'none'` (default, as imagor: a
    /// truncated file gives what could be decoded), `'truncated'`, `'error'`
    /// or `'warning'` (such a file is an `ERR_IMAGOR_UNSUPPORTED_FORMAT`).
    #[napi(ts_type = "'none' | 'truncated' | 'error' | 'warning'")]
    pub fail_on: Option<String>,
    /// Longest side of the downscaled copy detectors are given
    /// (`VIPS_DETECTOR_PROBE_SIZE`, 400).
    pub detector_probe_size: Option<i32>,
    /// Add the built-in face detector (`FACE_DETECTOR`; needs a build with
    /// the core's `face` feature).
    pub face_detector: Option<bool>,
    /// Smallest face found, in probe pixels (20 or more; default 20).
    pub face_detector_min_size: Option<u32>,
    /// Face score threshold (above 0; default 2).
    pub face_detector_min_quality: Option<f64>,
    /// Largest face found, in probe pixels (default 400).
    pub face_detector_max_size: Option<u32>,
    /// Overlapping faces above this intersection over union are merged
    /// (0 to 1; default 0.2).
    pub face_detector_iou_threshold: Option<f64>,
    /// Face detections cached per image key; 0: none.
    pub face_detector_cache_size: Option<u32>,
    /// Age after which a cached face detection is redone; 0: never.
    #[napi(ts_type = "number | string")]
    pub face_detector_cache_ttl: Option<String>,
    /// Wall-clock limit of one call (`IMAGOR_PROCESS_TIMEOUT`): seconds or a
    /// Go duration such as `'2s'` or `'500ms'`; 0 means none. Default 2 s.
    #[napi(ts_type = "number | string")]
    pub process_timeout: Option<String>,
    /// Memory one call may use for decoding and intermediate images, in
    /// bytes (estimated before decoding); 0 means none. Default 256 MiB.
    pub max_memory: Option<i64>,
    /// Memory all calls of the process may hold at once, in bytes (their
    /// sources and memory estimates): a call waits for room, or is refused
    /// with `ERR_IMAGOR_TOO_MANY_REQUESTS`; 0 means none. Default half the
    /// machine's (or cgroup's) memory.
    pub max_total_memory: Option<i64>,
    /// Most images processed at once; more wait in the queue. -1: no limit
    /// (`IMAGOR_PROCESS_CONCURRENCY`).
    pub process_concurrency: Option<i64>,
    /// Most requests waiting for a processing slot; one more is refused
    /// with `ERR_IMAGOR_TOO_MANY_REQUESTS` (`IMAGOR_PROCESS_QUEUE_SIZE`).
    pub process_queue_size: Option<i64>,
    /// Calls of this instance doing pixel work at once (`serve`/`handle`
    /// and `process`/`meta`/pixel calls alike); more wait in turn (after
    /// loading, before their `processTimeout` starts) until their request
    /// timeout (`requestTimeout`). 0 (default): one per core, shared by
    /// every instance of the process left at 0; N: this instance's own N;
    /// -1: no limit (`IMAGOR_PROCESS_SLOTS`).
    pub process_slots: Option<i64>,
    /// Limit of a whole `serve`/`handle` call, and of an in-process call's
    /// wait for a processing slot: seconds or a Go duration; 0 means none.
    /// Default 30 s (`IMAGOR_REQUEST_TIMEOUT`).
    #[napi(ts_type = "number | string")]
    pub request_timeout: Option<String>,
    /// Limit of each loader or storage read. Default 20 s
    /// (`IMAGOR_LOAD_TIMEOUT`).
    #[napi(ts_type = "number | string")]
    pub load_timeout: Option<String>,
    /// Limit of each storage write. Default 20 s (`IMAGOR_SAVE_TIMEOUT`).
    #[napi(ts_type = "number | string")]
    pub save_timeout: Option<String>,
    /// No HTTP loader (`HTTP_LOADER_DISABLE`). Without it, image keys that
    /// are URLs are fetched by the core (after the other loaders), under
    /// the SSRF policy below.
    pub http_loader_disable: Option<bool>,
    /// Hosts (globs on `host[:port]`, `'*.example.com'`) the HTTP loader
    /// may load from (`HTTP_LOADER_ALLOWED_SOURCES`). Empty: any host.
    pub http_loader_allowed_sources: Option<Vec<String>>,
    /// A regexp over the whole URL that also allows a source
    /// (`HTTP_LOADER_ALLOWED_SOURCE_REGEXP`).
    pub http_loader_allowed_source_regexp: Option<String>,
    /// Image keys are paths under this URL (`HTTP_LOADER_BASE_URL`).
    pub http_loader_base_url: Option<String>,
    /// Scheme of keys without one, `'https'`; `'nil'` refuses them
    /// (`HTTP_LOADER_DEFAULT_SCHEME`).
    pub http_loader_default_scheme: Option<String>,
    /// `Accept` sent, and checked against the response's `Content-Type`
    /// (`HTTP_LOADER_ACCEPT`, `'*/*'`).
    pub http_loader_accept: Option<String>,
    /// Request headers forwarded to the origin (`HTTP_LOADER_FORWARD_HEADERS`).
    pub http_loader_forward_headers: Option<Vec<String>>,
    /// Forward the client's headers, except hop-by-hop ones, `Cookie` and
    /// `Authorization` (`HTTP_LOADER_FORWARD_CLIENT_HEADERS`).
    pub http_loader_forward_client_headers: Option<bool>,
    /// Deprecated alias of `httpLoaderForwardClientHeaders`.
    pub http_loader_forward_all_headers: Option<bool>,
    /// Origin response headers passed on to the image response
    /// (`HTTP_LOADER_OVERRIDE_RESPONSE_HEADERS`).
    pub http_loader_override_response_headers: Option<Vec<String>>,
    /// Largest source in bytes, enforced as the body streams; 0: none
    /// (`HTTP_LOADER_MAX_ALLOWED_SIZE`).
    pub http_loader_max_allowed_size: Option<i64>,
    /// Proxies, used in turn (`HTTP_LOADER_PROXY_URLS`).
    pub http_loader_proxy_urls: Option<Vec<String>>,
    /// Hosts (globs) that go through the proxies; empty: all
    /// (`HTTP_LOADER_PROXY_ALLOWED_SOURCES`).
    pub http_loader_proxy_allowed_sources: Option<Vec<String>>,
    /// Accept any TLS certificate (`HTTP_LOADER_INSECURE_SKIP_VERIFY_TRANSPORT`).
    pub http_loader_insecure_skip_verify_transport: Option<bool>,
    /// Refuse loopback addresses; default true, unlike imagor
    /// (`HTTP_LOADER_BLOCK_LOOPBACK_NETWORKS`).
    pub http_loader_block_loopback_networks: Option<bool>,
    /// Refuse private addresses (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7); default true (`HTTP_LOADER_BLOCK_PRIVATE_NETWORKS`).
    pub http_loader_block_private_networks: Option<bool>,
    /// Refuse link-local addresses (cloud metadata); default true
    /// (`HTTP_LOADER_BLOCK_LINK_LOCAL_NETWORKS`).
    pub http_loader_block_link_local_networks: Option<bool>,
    /// More networks to refuse, in CIDR notation (`HTTP_LOADER_BLOCK_NETWORKS`).
    pub http_loader_block_networks: Option<Vec<String>>,
    /// Serve sources from this folder (`FILE_LOADER_BASE_DIR`). Empty: no
    /// file loader.
    pub file_loader_base_dir: Option<String>,
    /// Only image keys under this prefix are loaded, and the prefix is
    /// stripped (`FILE_LOADER_PATH_PREFIX`).
    pub file_loader_path_prefix: Option<String>,
    /// Extra characters kept unescaped in storage keys (`FILE_SAFE_CHARS`).
    pub file_safe_chars: Option<String>,
    /// Keep source images in this folder after loading them
    /// (`FILE_STORAGE_BASE_DIR`). Empty: no file storage.
    pub file_storage_base_dir: Option<String>,
    /// Key prefix of the file storage (`FILE_STORAGE_PATH_PREFIX`).
    pub file_storage_path_prefix: Option<String>,
    /// Folder permission in Go syntax, `'0755'` (`FILE_STORAGE_MKDIR_PERMISSION`).
    pub file_storage_mkdir_permission: Option<String>,
    /// File permission in Go syntax, `'0666'` (`FILE_STORAGE_WRITE_PERMISSION`).
    pub file_storage_write_permission: Option<String>,
    /// Stored sources older than this are ignored; 0: never
    /// (`FILE_STORAGE_EXPIRATION`, seconds or a Go duration).
    #[napi(ts_type = "number | string")]
    pub file_storage_expiration: Option<String>,
    /// Keep processed results in this folder (`FILE_RESULT_STORAGE_BASE_DIR`).
    pub file_result_storage_base_dir: Option<String>,
    /// Key prefix of the file result storage.
    pub file_result_storage_path_prefix: Option<String>,
    /// Folder permission of the file result storage, `'0755'`.
    pub file_result_storage_mkdir_permission: Option<String>,
    /// File permission of the file result storage, `'0666'`.
    pub file_result_storage_write_permission: Option<String>,
    /// Stored results older than this are reprocessed; 0: never.
    #[napi(ts_type = "number | string")]
    pub file_result_storage_expiration: Option<String>,
    /// `'original'` or `'digest'` (`IMAGOR_STORAGE_PATH_STYLE`).
    pub storage_path_style: Option<String>,
    /// `'original'`, `'digest'`, `'suffix'` or `'size'`
    /// (`IMAGOR_RESULT_STORAGE_PATH_STYLE`).
    pub result_storage_path_style: Option<String>,
    /// Serve a stored result only if newer than its source
    /// (`IMAGOR_MODIFIED_TIME_CHECK`).
    pub modified_time_check: Option<bool>,
    /// Accept POST uploads (`UPLOAD_LOADER_ENABLE`; needs `unsafe`).
    pub upload_loader_enable: Option<bool>,
    /// Largest upload in bytes (`UPLOAD_LOADER_MAX_ALLOWED_SIZE`, 32 MiB).
    pub upload_loader_max_allowed_size: Option<i64>,
    /// Accepted upload content types (`UPLOAD_LOADER_ACCEPT`, `'image/*'`).
    pub upload_loader_accept: Option<String>,
    /// Multipart field of the image (`UPLOAD_LOADER_FORM_FIELD_NAME`, `'image'`).
    pub upload_loader_form_field_name: Option<String>,
    /// Path applied on top of every request, e.g.
    /// `'filters:watermark(logo.png)'` (`IMAGOR_BASE_PARAMS`).
    pub base_params: Option<String>,
    /// Redirect `/` here instead of the landing page
    /// (`IMAGOR_BASE_PATH_REDIRECT`).
    pub base_path_redirect: Option<String>,
    /// WebP when the client accepts it and no format is asked
    /// (`IMAGOR_AUTO_WEBP`).
    pub auto_webp: Option<bool>,
    /// AVIF when the client accepts it (`IMAGOR_AUTO_AVIF`).
    pub auto_avif: Option<bool>,
    /// JPEG when no format is asked (`IMAGOR_AUTO_JPEG`).
    pub auto_jpeg: Option<bool>,
    /// `Cache-Control` max-age of images (`IMAGOR_CACHE_HEADER_TTL`,
    /// seconds or a Go duration; default 168h, 0 keeps the default).
    #[napi(ts_type = "number | string")]
    pub cache_header_ttl: Option<String>,
    /// `stale-while-revalidate` (`IMAGOR_CACHE_HEADER_SWR`, default 24h).
    #[napi(ts_type = "number | string")]
    pub cache_header_swr: Option<String>,
    /// `Cache-Control: no-cache` on images (`IMAGOR_CACHE_HEADER_NO_CACHE`).
    pub cache_header_no_cache: Option<bool>,
    /// Errors without a JSON body (`IMAGOR_DISABLE_ERROR_BODY`).
    pub disable_error_body: Option<bool>,
    /// No `/params` endpoint (`IMAGOR_DISABLE_PARAMS_ENDPOINT`).
    pub disable_params_endpoint: Option<bool>,
    /// On a processing error, answer with the unprocessed source and the
    /// error's status (`IMAGOR_RESPONSE_RAW_ON_ERROR`).
    pub response_raw_on_error: Option<bool>,
    // Object storage (S3, Google Cloud Storage).
    /// AWS region of every S3 role (`aws-region`); empty: `AWS_REGION`, else
    /// `us-east-1`.
    pub aws_region: Option<String>,
    /// AWS access key of every S3 role (`aws-access-key-id`); empty (or without
    /// its secret): the default AWS credential chain.
    pub aws_access_key_id: Option<String>,
    /// Secret of `aws_access_key_id` (`aws-secret-access-key`).
    pub aws_secret_access_key: Option<String>,
    /// Session token of temporary credentials (`aws-session-token`).
    pub aws_session_token: Option<String>,
    /// Endpoint of an S3-compatible server for every role (`s3-endpoint`, e.g.
    /// `http://minio:9000`); empty: AWS.
    pub s3_endpoint: Option<String>,
    /// Region of the S3 loader; with its key and secret it replaces the global
    /// credentials for the loader (`aws-loader-region`).
    pub aws_loader_region: Option<String>,
    /// Access key of the S3 loader (`aws-loader-access-key-id`).
    pub aws_loader_access_key_id: Option<String>,
    /// Secret of the S3 loader's key (`aws-loader-secret-access-key`).
    pub aws_loader_secret_access_key: Option<String>,
    /// Session token of the S3 loader (`aws-loader-session-token`).
    pub aws_loader_session_token: Option<String>,
    /// Endpoint of the S3 loader, over `s3_endpoint` (`s3-loader-endpoint`).
    pub s3_loader_endpoint: Option<String>,
    /// Region of the S3 storage (`aws-storage-region`; with key and secret).
    pub aws_storage_region: Option<String>,
    /// Access key of the S3 storage (`aws-storage-access-key-id`).
    pub aws_storage_access_key_id: Option<String>,
    /// Secret of the S3 storage's key (`aws-storage-secret-access-key`).
    pub aws_storage_secret_access_key: Option<String>,
    /// Session token of the S3 storage (`aws-storage-session-token`).
    pub aws_storage_session_token: Option<String>,
    /// Endpoint of the S3 storage (`s3-storage-endpoint`).
    pub s3_storage_endpoint: Option<String>,
    /// Region of the S3 result storage (`aws-result-storage-region`).
    pub aws_result_storage_region: Option<String>,
    /// Access key of the S3 result storage
    /// (`aws-result-storage-access-key-id`).
    pub aws_result_storage_access_key_id: Option<String>,
    /// Secret of the S3 result storage's key
    /// (`aws-result-storage-secret-access-key`).
    pub aws_result_storage_secret_access_key: Option<String>,
    /// Session token of the S3 result storage
    /// (`aws-result-storage-session-token`).
    pub aws_result_storage_session_token: Option<String>,
    /// Endpoint of the S3 result storage (`s3-result-storage-endpoint`).
    pub s3_result_storage_endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual-hosted
    /// (`bucket.endpoint/key`) (`s3-force-path-style`).
    pub s3_force_path_style: Option<bool>,
    /// Extra characters kept unescaped in S3 keys (`!"()*` always are); `--`:
    /// no escaping (`s3-safe-chars`).
    pub s3_safe_chars: Option<String>,
    /// Load sources from this S3 bucket (`s3-loader-bucket`; `bucket/dir` sets
    /// the base dir; `*`: bucket from the first path segment). Empty: no S3
    /// loader.
    pub s3_loader_bucket: Option<String>,
    /// Folder of the S3 loader inside its bucket (`s3-loader-base-dir`).
    pub s3_loader_base_dir: Option<String>,
    /// Only keys under this prefix are loaded from S3, without the prefix
    /// (`s3-loader-path-prefix`).
    pub s3_loader_path_prefix: Option<String>,
    /// YAML file of bucket routing rules; replaces the plain S3 loader
    /// (`s3-loader-bucket-router-config`).
    pub s3_loader_bucket_router_config: Option<String>,
    /// Keep sources in this S3 bucket (`s3-storage-bucket`). Empty: none.
    pub s3_storage_bucket: Option<String>,
    /// Folder of the S3 storage (`s3-storage-base-dir`).
    pub s3_storage_base_dir: Option<String>,
    /// Key prefix of the S3 storage (`s3-storage-path-prefix`).
    pub s3_storage_path_prefix: Option<String>,
    /// Canned ACL of S3 storage writes, e.g. `public-read` (`s3-storage-acl`);
    /// empty: none sent.
    pub s3_storage_acl: Option<String>,
    /// Object tags of S3 storage writes, `k=v&k2=v2` (`s3-storage-tagging`).
    pub s3_storage_tagging: Option<String>,
    /// Stored sources older than this are ignored (`s3-storage-expiration`); 0:
    /// never.
    #[napi(ts_type = "number | string")]
    pub s3_storage_expiration: Option<String>,
    /// Keep results in this S3 bucket (`s3-result-storage-bucket`). Empty:
    /// none.
    pub s3_result_storage_bucket: Option<String>,
    /// Folder of the S3 result storage (`s3-result-storage-base-dir`).
    pub s3_result_storage_base_dir: Option<String>,
    /// Key prefix of the S3 result storage (`s3-result-storage-path-prefix`).
    pub s3_result_storage_path_prefix: Option<String>,
    /// Canned ACL of S3 result writes (`s3-result-storage-acl`).
    pub s3_result_storage_acl: Option<String>,
    /// Object tags of S3 result writes (`s3-result-storage-tagging`).
    pub s3_result_storage_tagging: Option<String>,
    /// Stored results older than this are reprocessed
    /// (`s3-result-storage-expiration`); 0: never.
    #[napi(ts_type = "number | string")]
    pub s3_result_storage_expiration: Option<String>,
    /// Storage class of S3 writes (`s3-storage-class`, `STANDARD`;
    /// `STANDARD_IA`, `ONEZONE_IA`, `INTELLIGENT_TIERING`, `GLACIER`, ...).
    pub s3_storage_class: Option<String>,
    /// Idle connections kept per S3 host (`s3-http-max-idle-conns-per-host`,
    /// 100).
    pub s3_http_max_idle_conns_per_host: Option<i64>,
    /// Extra characters kept unescaped in GCS keys; `--`: no escaping
    /// (`gcloud-safe-chars`).
    pub gcloud_safe_chars: Option<String>,
    /// Load sources from this GCS bucket (`gcloud-loader-bucket`; `*`: bucket
    /// from the first path segment). Credentials come from
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    pub gcloud_loader_bucket: Option<String>,
    /// Folder of the GCS loader (`gcloud-loader-base-dir`).
    pub gcloud_loader_base_dir: Option<String>,
    /// Key prefix of the GCS loader (`gcloud-loader-path-prefix`).
    pub gcloud_loader_path_prefix: Option<String>,
    /// Keep sources in this GCS bucket (`gcloud-storage-bucket`).
    pub gcloud_storage_bucket: Option<String>,
    /// Folder of the GCS storage (`gcloud-storage-base-dir`).
    pub gcloud_storage_base_dir: Option<String>,
    /// Key prefix of the GCS storage (`gcloud-storage-path-prefix`).
    pub gcloud_storage_path_prefix: Option<String>,
    /// Predefined ACL of GCS storage writes, e.g. `publicRead`
    /// (`gcloud-storage-acl`).
    pub gcloud_storage_acl: Option<String>,
    /// Stored sources older than this are ignored
    /// (`gcloud-storage-expiration`); 0: never.
    #[napi(ts_type = "number | string")]
    pub gcloud_storage_expiration: Option<String>,
    /// Keep results in this GCS bucket (`gcloud-result-storage-bucket`).
    pub gcloud_result_storage_bucket: Option<String>,
    /// Folder of the GCS result storage (`gcloud-result-storage-base-dir`).
    pub gcloud_result_storage_base_dir: Option<String>,
    /// Key prefix of the GCS result storage
    /// (`gcloud-result-storage-path-prefix`).
    pub gcloud_result_storage_path_prefix: Option<String>,
    /// Predefined ACL of GCS result writes (`gcloud-result-storage-acl`).
    pub gcloud_result_storage_acl: Option<String>,
    /// Stored results older than this are reprocessed
    /// (`gcloud-result-storage-expiration`); 0: never.
    #[napi(ts_type = "number | string")]
    pub gcloud_result_storage_expiration: Option<String>,
    /// GCS endpoint for an emulator (`http://127.0.0.1:4443`); empty: Google's.
    /// Not an imagor flag: the server reads `STORAGE_EMULATOR_HOST`, as
    /// Google's Go client does.
    pub gcloud_endpoint: Option<String>,
    /// Largest object the S3 and GCS loaders and storages read, in bytes,
    /// checked against the object's size and again while streaming (400
    /// "maximum size exceeded"); 0: no limit. Not an imagor flag (imagor has no
    /// limit). Default 64 MiB.
    pub object_storage_max_size: Option<i64>,
}
