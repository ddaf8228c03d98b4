//! The table of every flag imagor 1.9.5 registers on its `flag.FlagSet`
//! (config/config.go, fileconfig.go, uploadconfig.go, httpconfig.go,
//! vipsconfig, awsconfig, gcloudconfig): 152 flags in ten groups, with
//! their Go types, defaults as Go prints them and help texts verbatim; plus
//! the 7 flags of imagorface (its built-in face detector) and 4 of our own
//! (the memory limits, processing slots and source waits, which imagor
//! lacks), 163 in all.

/// The Go `flag` value type of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `fs.Bool`: `strconv.ParseBool` syntax; `-name` alone means true.
    Bool,
    /// `fs.Int` (64 bits on imagor's platforms): `strconv.ParseInt(s, 0, 64)`.
    Int,
    /// `fs.Int64`: same syntax and range as [`Kind::Int`].
    Int64,
    /// `fs.Duration`: `time.ParseDuration` syntax (`30s`, `1h30m`, `-1s`).
    Duration,
    /// `fs.String`: taken verbatim.
    String,
    /// imagor's `CIDRSliceFlag` (`fs.Var`): comma-separated CIDR networks.
    CidrList,
}

impl Kind {
    /// The type word `-h` prints after the flag name (Go's
    /// `flag.UnquoteUsage`): empty for bools, `int` for both integer kinds,
    /// `value` for the custom CIDR list.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Bool => "",
            Kind::Int | Kind::Int64 => "int",
            Kind::Duration => "duration",
            Kind::String => "string",
            Kind::CidrList => "value",
        }
    }
}

/// Which part of imagor registers a flag (the sections of the spec's
/// flag table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `imagor-*` (config.go `NewImagor`).
    Core,
    /// `port`, `bind`, `server-*` (config.go `CreateServer`).
    Server,
    /// `prometheus-*` (config.go `CreateServer`).
    Prometheus,
    /// File loader, storage and result storage (fileconfig.go).
    File,
    /// Upload loader (uploadconfig.go).
    Upload,
    /// HTTP loader (httpconfig.go).
    HttpLoader,
    /// libvips processor (vipsconfig.go).
    Vips,
    /// AWS / S3 loader and storages (awsconfig.go).
    Aws,
    /// Google Cloud Storage loader and storages (gcloudconfig.go).
    GCloud,
    /// Process-level flags: `debug`, `log-ecs`, `version`, `gomaxprocs`,
    /// `config`, `sentry-dsn` (config.go `CreateServer`).
    Other,
    /// imagorface's face detector (`face-detector*`).
    Face,
    /// Our own resource limits, which imagor lacks (`imagor-max-memory`,
    /// `imagor-max-total-memory`, `imagor-process-slots`,
    /// `imagor-max-source-waits`).
    Limits,
}

impl Group {
    /// Every group, in the order of the spec's flag table.
    pub const ALL: [Group; 12] = [
        Group::Core,
        Group::Server,
        Group::Prometheus,
        Group::File,
        Group::Upload,
        Group::HttpLoader,
        Group::Vips,
        Group::Aws,
        Group::GCloud,
        Group::Other,
        Group::Face,
        Group::Limits,
    ];

    /// Lower-case name of the group (`core`, `http loader`, `gcloud`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Group::Core => "core",
            Group::Server => "server",
            Group::Prometheus => "prometheus",
            Group::File => "file",
            Group::Upload => "upload",
            Group::HttpLoader => "http loader",
            Group::Vips => "vips",
            Group::Aws => "aws",
            Group::GCloud => "gcloud",
            Group::Other => "other",
            Group::Face => "face",
            Group::Limits => "limits",
        }
    }
}

/// One imagor flag as registered on imagor's `flag.FlagSet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flag {
    /// Name without the leading dash (`imagor-secret`).
    pub name: &'static str,
    /// Go value type.
    pub kind: Kind,
    /// Default exactly as Go's `DefValue` prints it (`168h0m0s`, `0s`,
    /// `33554432`, `false`; `""` for an empty string or CIDR list).
    pub default: &'static str,
    /// Help text, verbatim (typos and copy/paste slips included).
    pub usage: &'static str,
    /// The part of imagor that registers it.
    pub group: Group,
}

impl Flag {
    /// The environment variable ff reads for this flag: the name upper-cased
    /// with `-` (and `.`, `/`) replaced by `_` (`imagor-secret` ⇒
    /// `IMAGOR_SECRET`, `port` ⇒ `PORT`).
    pub fn env_name(&self) -> String {
        self.name
            .chars()
            .map(|c| match c {
                '-' | '.' | '/' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect()
    }
}

/// The flag named `name` (without dash), if imagor defines it.
pub fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.name == name)
}

/// The flag whose environment variable is `key` (`IMAGOR_SECRET`), if any.
pub fn lookup_env(key: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.env_name() == key)
}

/// Every flag sorted by name: the order of Go's `FlagSet.VisitAll`, used by
/// `-h` and by ff's environment pass.
pub fn sorted() -> Vec<&'static Flag> {
    let mut all: Vec<&'static Flag> = FLAGS.iter().collect();
    all.sort_by(|a, b| a.name.cmp(b.name));
    all
}

const fn flag(
    group: Group,
    kind: Kind,
    name: &'static str,
    default: &'static str,
    usage: &'static str,
) -> Flag {
    Flag {
        name,
        kind,
        default,
        usage,
        group,
    }
}

const BOOL: Kind = Kind::Bool;
const INT: Kind = Kind::Int;
const INT64: Kind = Kind::Int64;
const DUR: Kind = Kind::Duration;
const STR: Kind = Kind::String;
const CIDR: Kind = Kind::CidrList;
use Group::{
    Aws, Core, Face, File, GCloud, HttpLoader, Limits, Other, Prometheus, Server, Upload, Vips,
};

/// Every imagor flag, grouped as in the spec's flag table, each group in
/// imagor's registration order.
///
/// `imagor-load-timeout`, `imagor-save-timeout` and `imagor-process-timeout`
/// default to `0s` here (what `-h` prints and what [`super::Config`]
/// reports), but in imagor a zero (or negative) value is ignored and the
/// timeout stays at its built-in 20s (option.go `WithProcessTimeout`);
/// likewise `0` for `imagor-request-timeout`, `imagor-cache-header-ttl` and
/// `imagor-cache-header-swr` keeps their defaults. The code that builds the
/// app applies that rule, not this table.
///
/// Deliberate deviation: `http-loader-block-loopback-networks`,
/// `http-loader-block-private-networks` and
/// `http-loader-block-link-local-networks` default to `true` (imagor:
/// `false`), so the HTTP loader refuses those networks unless an operator
/// lifts a class with `=false`; `-h` prints `(default true)` for them.
#[rustfmt::skip]
pub static FLAGS: [Flag; 163] = [
    // Core (24 flags)
    flag(Core, STR, "imagor-secret", "", "Secret key for signing imagor URL"),
    flag(Core, BOOL, "imagor-unsafe", "false", "Unsafe imagor that does not require URL signature. Prone to URL tampering"),
    flag(Core, BOOL, "imagor-auto-webp", "false", "Output WebP format automatically if browser supports"),
    flag(Core, BOOL, "imagor-auto-avif", "false", "Output AVIF format automatically if browser supports (experimental)"),
    flag(Core, BOOL, "imagor-auto-jpeg", "false", "Output JPEG format automatically if JPEG or no specific format is requested"),
    flag(Core, DUR, "imagor-request-timeout", "30s", "Timeout for performing imagor request"),
    // 0s as imagor prints it; <= 0 keeps imagor's effective 20s (option.go).
    flag(Core, DUR, "imagor-load-timeout", "0s", "Timeout for imagor Loader request, should be smaller than imagor-request-timeout"),
    // 0s as imagor prints it; <= 0 keeps imagor's effective 20s (option.go).
    flag(Core, DUR, "imagor-save-timeout", "0s", "Timeout for saving image to imagor Storage"),
    // 0s as imagor prints it; <= 0 keeps imagor's effective 20s (option.go).
    flag(Core, DUR, "imagor-process-timeout", "0s", "Timeout for image processing"),
    flag(Core, STR, "imagor-base-path-redirect", "", "URL to redirect for imagor / base path e.g. https://www.google.com"),
    flag(Core, STR, "imagor-base-params", "", "imagor endpoint base params that applies to all resulting images e.g. filters:watermark(example.jpg)"),
    flag(Core, INT64, "imagor-process-concurrency", "-1", "Maximum number of image process to be executed simultaneously. Requests that exceed this limit are put in the queue. Set -1 for no limit"),
    flag(Core, INT64, "imagor-process-queue-size", "0", "Maximum number of image process that can be put in the queue. Requests that exceed this limit are rejected with HTTP status 429"),
    flag(Core, DUR, "imagor-cache-header-ttl", "168h0m0s", "imagor HTTP Cache-Control header TTL for successful image response"),
    flag(Core, DUR, "imagor-cache-header-swr", "24h0m0s", "imagor HTTP Cache-Control header stale-while-revalidate for successful image response"),
    flag(Core, BOOL, "imagor-cache-header-no-cache", "false", "imagor HTTP Cache-Control header no-cache for successful image response"),
    flag(Core, BOOL, "imagor-modified-time-check", "false", "Check modified time of result image against the source image. This eliminates stale result but require more lookups"),
    flag(Core, BOOL, "imagor-disable-error-body", "false", "imagor disable response body on error"),
    flag(Core, BOOL, "imagor-disable-params-endpoint", "false", "imagor disable /params endpoint"),
    flag(Core, BOOL, "imagor-response-raw-on-error", "false", "imagor response with a raw unprocessed and unchecked source image on error"),
    flag(Core, STR, "imagor-signer-type", "sha1", "imagor URL signature hasher type: sha1, sha256, sha512"),
    flag(Core, INT, "imagor-signer-truncate", "0", "imagor URL signature truncate at length"),
    flag(Core, STR, "imagor-storage-path-style", "original", "imagor storage path style: original, digest"),
    flag(Core, STR, "imagor-result-storage-path-style", "original", "imagor result storage path style: original, digest, suffix"),
    // Server (7 flags)
    flag(Server, INT, "port", "8000", "Server port"),
    flag(Server, STR, "bind", "", "Server address and port to bind .e.g. myhost:8888. This overrides server address and port config"),
    flag(Server, STR, "server-address", "", "Server address"),
    flag(Server, STR, "server-path-prefix", "", "Server path prefix"),
    flag(Server, BOOL, "server-cors", "false", "Enable CORS"),
    flag(Server, BOOL, "server-strip-query-string", "false", "Enable strip query string redirection"),
    flag(Server, BOOL, "server-access-log", "false", "Enable server access log"),
    // Prometheus (3 flags)
    flag(Prometheus, STR, "prometheus-bind", "", "Specify address and port to enable Prometheus metrics, e.g. :5000, prom:7000"),
    flag(Prometheus, STR, "prometheus-path", "/", "Prometheus metrics path"),
    flag(Prometheus, STR, "prometheus-namespace", "imagor", "Prometheus metrics namespace"),
    // File (13 flags)
    flag(File, STR, "file-safe-chars", "", "File safe characters to be excluded from image key escape. Set -- for no-op"),
    flag(File, STR, "file-loader-base-dir", "", "Base directory for File Loader. Enable File Loader only if this value present"),
    flag(File, STR, "file-loader-path-prefix", "", "Base path prefix for File Loader"),
    flag(File, STR, "file-storage-base-dir", "", "Base directory for File Storage. Enable File Storage only if this value present"),
    flag(File, STR, "file-storage-path-prefix", "", "Base path prefix for File Storage"),
    flag(File, STR, "file-storage-mkdir-permission", "0755", "File Storage mkdir permission"),
    flag(File, STR, "file-storage-write-permission", "0666", "File Storage write permission"),
    flag(File, DUR, "file-storage-expiration", "0s", "File Storage expiration duration e.g. 24h. Default no expiration"),
    flag(File, STR, "file-result-storage-base-dir", "", "Base directory for File Result Storage. Enable File Result Storage only if this value present"),
    flag(File, STR, "file-result-storage-path-prefix", "", "Base path prefix for File Result Storage"),
    flag(File, STR, "file-result-storage-mkdir-permission", "0755", "File Result Storage mkdir permission"),
    flag(File, STR, "file-result-storage-write-permission", "0666", "File Storage write permission"),
    flag(File, DUR, "file-result-storage-expiration", "0s", "File Result Storage expiration duration e.g. 24h. Default no expiration"),
    // Upload (4 flags)
    flag(Upload, INT, "upload-loader-max-allowed-size", "33554432", "Upload Loader maximum allowed size in bytes for uploaded images"),
    flag(Upload, STR, "upload-loader-accept", "image/*", "Upload Loader accepted Content-Type for uploads"),
    flag(Upload, STR, "upload-loader-form-field-name", "image", "Upload Loader form field name for multipart uploads"),
    flag(Upload, BOOL, "upload-loader-enable", "false", "Enable Upload Loader for POST uploads"),
    // HttpLoader (18 flags)
    flag(HttpLoader, STR, "http-loader-forward-headers", "", "Forward request header to HTTP Loader request by csv e.g. User-Agent,Accept"),
    flag(HttpLoader, STR, "http-loader-override-response-headers", "", "Override HTTP Loader response header to image response by csv e.g. Cache-Control,Expires"),
    flag(HttpLoader, BOOL, "http-loader-forward-client-headers", "false", "Forward browser client request headers to HTTP Loader request"),
    flag(HttpLoader, BOOL, "http-loader-forward-all-headers", "false", "Deprecated in flavour of -http-loader-forward-client-headers"),
    flag(HttpLoader, STR, "http-loader-allowed-source-regexp", "", "HTTP Loader allowed hosts regexp to load images from if set. Combines as OR with allowed host glob pattern sources."),
    flag(HttpLoader, STR, "http-loader-allowed-sources", "", "HTTP Loader allowed hosts whitelist to load images from if set. Accept csv wth glob pattern e.g. *.google.com,*.github.com."),
    flag(HttpLoader, INT, "http-loader-max-allowed-size", "0", "HTTP Loader maximum allowed size in bytes for loading images if set"),
    flag(HttpLoader, BOOL, "http-loader-insecure-skip-verify-transport", "false", "HTTP Loader to use HTTP transport with InsecureSkipVerify true"),
    flag(HttpLoader, STR, "http-loader-base-url", "", "HTTP Loader base URL that prepends onto existing image path. This overrides the default scheme option."),
    flag(HttpLoader, STR, "http-loader-default-scheme", "https", "HTTP Loader default scheme if not specified by image path. Set \"nil\" to disable default scheme."),
    flag(HttpLoader, STR, "http-loader-accept", "*/*", "HTTP Loader set request Accept header and validate response Content-Type header"),
    flag(HttpLoader, STR, "http-loader-proxy-urls", "", "HTTP Loader Proxy URLs. Enable HTTP Loader proxy only if this value present. Accept csv of proxy urls e.g. http://user:pass@host:port,http://user:pass@host:port"),
    flag(HttpLoader, STR, "http-loader-proxy-allowed-sources", "", "HTTP Loader Proxy allowed hosts that enable proxy transport, if proxy URLs are set. Accept csv wth glob pattern e.g. *.google.com,*.github.com."),
    flag(HttpLoader, BOOL, "http-loader-block-loopback-networks", "true", "HTTP Loader rejects connections to loopback network IP addresses."),
    flag(HttpLoader, BOOL, "http-loader-block-private-networks", "true", "HTTP Loader rejects connections to private network IP addresses."),
    flag(HttpLoader, BOOL, "http-loader-block-link-local-networks", "true", "HTTP Loader rejects connections to link local network IP addresses."),
    flag(HttpLoader, BOOL, "http-loader-disable", "false", "Disable HTTP Loader"),
    flag(HttpLoader, CIDR, "http-loader-block-networks", "", "HTTP Loader rejects connections to link local network IP addresses. This options takes a comma separated list of networks in CIDR notation e.g. ::1/128,127.0.0.0/8."),
    // Vips (23 flags)
    flag(Vips, BOOL, "vips-disable-blur", "false", "VIPS disable blur operations for vips processor"),
    flag(Vips, INT, "vips-max-animation-frames", "-1", "VIPS maximum number of animation frames to be loaded. Set 1 to disable animation, -1 for unlimited"),
    flag(Vips, STR, "vips-disable-filters", "", "VIPS disable filters by csv e.g. blur,watermark,rgb"),
    flag(Vips, INT, "vips-max-filter-ops", "-1", "VIPS maximum number of filter operations allowed. Set -1 for unlimited"),
    flag(Vips, INT, "vips-concurrency", "1", "VIPS concurrency. Set -1 to be the number of CPU cores"),
    flag(Vips, INT, "vips-max-cache-files", "0", "VIPS max cache files"),
    flag(Vips, INT, "vips-max-cache-size", "0", "VIPS max cache size"),
    flag(Vips, INT, "vips-max-cache-mem", "0", "VIPS max cache mem"),
    flag(Vips, INT, "vips-max-width", "0", "VIPS max image width"),
    flag(Vips, INT, "vips-max-height", "0", "VIPS max image height"),
    flag(Vips, INT, "vips-max-resolution", "0", "VIPS max image resolution"),
    flag(Vips, BOOL, "vips-mozjpeg", "false", "VIPS enable maximum compression with MozJPEG. Requires mozjpeg to be installed"),
    flag(Vips, INT, "vips-avif-speed", "8", "VIPS avif speed, the lowest is at 0 and the fastest is at 9 (Default 8)."),
    flag(Vips, INT64, "vips-vector", "0", "VIPS vector target disable bitmask. Matches the native libvips VIPS_VECTOR environment variable semantics"),
    flag(Vips, INT, "vips-detector-probe-size", "400", "VIPS detector probe size: maximum dimension of the downscaled probe image used for smart crop region detection. Lower values are faster, higher values improve detection of small regions (default 400)"),
    flag(Vips, BOOL, "vips-strip-color-profile", "false", "VIPS strips embedded ICC color profiles from the resulting image while preserving other metadata"),
    flag(Vips, BOOL, "vips-strip-metadata", "false", "VIPS strips all metadata from the resulting image"),
    flag(Vips, BOOL, "vips-unlimited", "false", "VIPS bypass image max resolution check and remove all denial of service limits"),
    flag(Vips, INT64, "vips-cache-size", "0", "VIPS in-memory image cache size in bytes. Set 0 to disable (default). Caches decoded image pixels keyed by URL to avoid repeated I/O and decode for base images, watermark() and image() filters"),
    flag(Vips, INT, "vips-cache-max-width", "2400", "VIPS image cache maximum width. Images wider than this are not cached (default 2400)"),
    flag(Vips, INT, "vips-cache-max-height", "2000", "VIPS image cache maximum height. Images taller than this are not cached (default 2000)"),
    flag(Vips, DUR, "vips-cache-ttl", "0s", "VIPS image cache TTL. Cached entries expire after this duration and are re-fetched from source. Set 0 (default) for no expiry"),
    flag(Vips, STR, "vips-cache-format", "pixel", "VIPS image cache storage format: pixel (default), png (lossless), webp (lossy)"),
    // Aws (40 flags)
    flag(Aws, STR, "aws-region", "", "AWS Region. Required if using S3 Loader or storage"),
    flag(Aws, STR, "aws-access-key-id", "", "AWS Access Key ID. Required if using S3 Loader or Storage"),
    flag(Aws, STR, "aws-secret-access-key", "", "AWS Secret Access Key. Required if using S3 Loader or Storage"),
    flag(Aws, STR, "aws-session-token", "", "AWS Session Token. Optional temporary credentials token"),
    flag(Aws, STR, "s3-endpoint", "", "Optional S3 Endpoint to override default"),
    flag(Aws, STR, "aws-loader-region", "", "AWS Region for S3 Loader to override global config"),
    flag(Aws, STR, "aws-loader-access-key-id", "", "AWS Access Key ID for S3 Loader to override global config"),
    flag(Aws, STR, "aws-loader-secret-access-key", "", "AWS Secret Access Key for S3 Loader to override global config"),
    flag(Aws, STR, "aws-loader-session-token", "", "AWS Session Token for S3 Loader to override global config"),
    flag(Aws, STR, "s3-loader-endpoint", "", "Optional S3 Loader Endpoint to override default"),
    flag(Aws, STR, "aws-storage-region", "", "AWS Region for S3 Storage to override global config"),
    flag(Aws, STR, "aws-storage-access-key-id", "", "AWS Access Key ID for S3 Storage to override global config"),
    flag(Aws, STR, "aws-storage-secret-access-key", "", "AWS Secret Access Key for S3 Storage to override global config"),
    flag(Aws, STR, "aws-storage-session-token", "", "AWS Session Token for S3 Storage to override global config"),
    flag(Aws, STR, "s3-storage-endpoint", "", "Optional S3 Storage Endpoint to override default"),
    flag(Aws, STR, "aws-result-storage-region", "", "AWS Region for S3 Result Storage to override global config"),
    flag(Aws, STR, "aws-result-storage-access-key-id", "", "AWS Access Key ID for S3 Result Storage to override global config"),
    flag(Aws, STR, "aws-result-storage-secret-access-key", "", "AWS Secret Access Key for S3 Result Storage to override global config"),
    flag(Aws, STR, "aws-result-storage-session-token", "", "AWS Session Token for S3 Result Storage to override global config"),
    flag(Aws, STR, "s3-result-storage-endpoint", "", "Optional S3 Storage Endpoint to override default"),
    flag(Aws, BOOL, "s3-force-path-style", "false", "S3 force the request to use path-style addressing s3.amazonaws.com/bucket/key, instead of bucket.s3.amazonaws.com/key"),
    flag(Aws, STR, "s3-safe-chars", "", "S3 safe characters to be excluded from image key escape. Set -- for no-op"),
    flag(Aws, STR, "s3-loader-bucket", "", "S3 Bucket for S3 Loader. Enable S3 Loader only if this value present"),
    flag(Aws, STR, "s3-loader-base-dir", "", "Base directory for S3 Loader"),
    flag(Aws, STR, "s3-loader-path-prefix", "", "Base path prefix for S3 Loader"),
    flag(Aws, STR, "s3-loader-bucket-router-config", "", "YAML config file for S3 Loader bucket routing based on path prefix"),
    flag(Aws, STR, "s3-storage-bucket", "", "S3 Bucket for S3 Storage. Enable S3 Storage only if this value present"),
    flag(Aws, STR, "s3-storage-base-dir", "", "Base directory for S3 Storage"),
    flag(Aws, STR, "s3-storage-path-prefix", "", "Base path prefix for S3 Storage"),
    flag(Aws, STR, "s3-storage-acl", "", "Upload ACL for S3 Storage"),
    flag(Aws, STR, "s3-storage-tagging", "", "S3 object tagging query string for S3 Storage writes, e.g. key=value&ttl=generated"),
    flag(Aws, DUR, "s3-storage-expiration", "0s", "S3 Storage expiration duration e.g. 24h. Default no expiration"),
    flag(Aws, STR, "s3-result-storage-bucket", "", "S3 Bucket for S3 Result Storage. Enable S3 Result Storage only if this value present"),
    flag(Aws, STR, "s3-result-storage-base-dir", "", "Base directory for S3 Result Storage"),
    flag(Aws, STR, "s3-result-storage-path-prefix", "", "Base path prefix for S3 Result Storage"),
    flag(Aws, STR, "s3-result-storage-acl", "", "Upload ACL for S3 Result Storage"),
    flag(Aws, STR, "s3-result-storage-tagging", "", "S3 object tagging query string for S3 Result Storage writes, e.g. key=value&ttl=generated"),
    flag(Aws, DUR, "s3-result-storage-expiration", "0s", "S3 Result Storage expiration duration e.g. 24h. Default no expiration"),
    flag(Aws, STR, "s3-storage-class", "STANDARD", "S3 File Storage Class. Available values: REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE. Default: STANDARD."),
    flag(Aws, INT, "s3-http-max-idle-conns-per-host", "100", "S3 HTTP client max idle connections per host (Go default is 2, increase for high-throughput workloads)"),
    // GCloud (14 flags)
    flag(GCloud, STR, "gcloud-safe-chars", "", "Google Cloud safe characters to be excluded from image key escape. Set -- for no-op"),
    flag(GCloud, STR, "gcloud-loader-bucket", "", "Bucket name for Google Cloud Storage Loader. Enable Google Cloud Loader only if this value present"),
    flag(GCloud, STR, "gcloud-loader-base-dir", "", "Base directory for Google Cloud Loader"),
    flag(GCloud, STR, "gcloud-loader-path-prefix", "", "Base path prefix for Google Cloud Loader"),
    flag(GCloud, STR, "gcloud-storage-bucket", "", "Bucket name for Google Cloud Storage. Enable Google Cloud Storage only if this value present"),
    flag(GCloud, STR, "gcloud-storage-base-dir", "", "Base directory for Google Cloud"),
    flag(GCloud, STR, "gcloud-storage-path-prefix", "", "Base path prefix for Google Cloud Storage"),
    flag(GCloud, STR, "gcloud-storage-acl", "", "Upload ACL for Google Cloud Storage"),
    flag(GCloud, DUR, "gcloud-storage-expiration", "0s", "Google Cloud Storage expiration duration e.g. 24h. Default no expiration"),
    flag(GCloud, STR, "gcloud-result-storage-bucket", "", "Bucket name for Google Cloud Result Storage. Enable Google Cloud Result Storage only if this value present"),
    flag(GCloud, STR, "gcloud-result-storage-base-dir", "", "Base directory for Google Cloud Result Storage"),
    flag(GCloud, STR, "gcloud-result-storage-path-prefix", "", "Base path prefix for Google Cloud Result Storage"),
    flag(GCloud, STR, "gcloud-result-storage-acl", "", "Upload ACL for Google Cloud Result Storage"),
    flag(GCloud, DUR, "gcloud-result-storage-expiration", "0s", "Google Cloud Result Storage expiration duration e.g. 24h. Default no expiration"),
    // Other (6 flags)
    flag(Other, BOOL, "debug", "false", "Debug mode"),
    flag(Other, BOOL, "log-ecs", "false", "Enable Elastic Common Schema log format"),
    flag(Other, BOOL, "version", "false", "imagor version"),
    flag(Other, INT, "gomaxprocs", "0", "GOMAXPROCS"),
    flag(Other, STR, "config", ".env", "Retrieve configuration from the given file"),
    flag(Other, STR, "sentry-dsn", "", "Sentry DSN config"),
    // Face (7 flags, imagorface)
    flag(Face, BOOL, "face-detector", "false", "enable face detection for smart crop"),
    flag(Face, INT, "face-detector-min-size", "20", "minimum face size in pixels on the probe image"),
    flag(Face, INT, "face-detector-max-size", "400", "maximum face size in pixels on the probe image"),
    flag(Face, STR, "face-detector-min-quality", "2", "minimum detection quality threshold; lower = more candidates, higher = fewer false positives"),
    flag(Face, STR, "face-detector-iou-threshold", "0.2", "intersection-over-union threshold for non-maxima suppression"),
    flag(Face, INT, "face-detector-cache-size", "0", "face detect cache size in number of entries (one per unique source image path). 0 = disabled"),
    flag(Face, DUR, "face-detector-cache-ttl", "0s", "face detect cache TTL. 0 = no expiry"),
    flag(Limits, INT64, "imagor-max-memory", "268435456", "Memory in bytes one request may use to process its image, estimated before the work starts (larger images get 422). 0 = no limit"),
    flag(Limits, INT64, "imagor-process-slots", "0", "Requests that do pixel work at once; more wait (after loading their image, before their process timeout starts) until their request timeout. 0 = one per core, -1 = no limit"),
    flag(Limits, INT64, "imagor-max-source-waits", "0", "Requests that may wait at once on their image's loader or storage (a network origin, an object store); more get 429 at once, so requests for local files always find a thread. 0 = 3072, -1 = no limit"),
    flag(Limits, INT64, "imagor-max-total-memory", "-1", "Memory in bytes all requests may hold together, their source images included (past it, requests get 429). -1 = half the memory of the machine or of its cgroup, 0 = no limit"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Value;

    #[test]
    fn table_is_complete_and_consistent() {
        assert_eq!(FLAGS.len(), 163);
        let counts: Vec<usize> = Group::ALL
            .iter()
            .map(|g| FLAGS.iter().filter(|f| f.group == *g).count())
            .collect();
        assert_eq!(counts, [24, 7, 3, 13, 4, 18, 23, 40, 14, 6, 7, 4]);
        let names = sorted();
        for pair in names.windows(2) {
            assert!(pair[0].name < pair[1].name, "duplicate -{}", pair[0].name);
        }
        let mut envs: Vec<String> = FLAGS.iter().map(Flag::env_name).collect();
        envs.sort();
        envs.dedup();
        assert_eq!(envs.len(), 163);
        for f in &FLAGS {
            assert!(f
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert_eq!(lookup(f.name), Some(f));
            assert_eq!(lookup_env(&f.env_name()), Some(f));
            assert!(!f.usage.is_empty(), "-{}", f.name);
            if f.kind == Kind::CidrList {
                assert_eq!(f.default, "");
            } else {
                let v = Value::parse(f.kind, f.default);
                let v = v.unwrap_or_else(|e| panic!("-{}: {e}", f.name));
                // Go prints DefValue with Value.String(): it round-trips.
                assert_eq!(v.to_string(), f.default, "-{}", f.name);
            }
        }
        assert_eq!(
            lookup("imagor-secret").map(Flag::env_name).as_deref(),
            Some("IMAGOR_SECRET")
        );
        assert_eq!(lookup("h"), None);
        assert_eq!(lookup_env("imagor-secret"), None);
    }
}
