//! [`Options`]: one configuration for the library, the bindings and the
//! server. Field names are imagor's flag names without their group prefix
//! (`vips-max-width` → `max_width`, `file-loader-base-dir` →
//! `file_loader_base_dir`), in snake_case; Python keyword arguments, JS
//! option objects (camelCase) and the C JSON use the same fields.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sign::{Signer, SignerAlg};

/// Everything that configures an [`crate::Imagor`]. `Options::default()` is
/// imagor's default configuration, plus the per-call resource budget
/// (`process_timeout`, `max_memory`) imagor does not have.
///
/// `Debug` never shows the secret.
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
    /// over-the-limit filters. Off by default (imagor skips them).
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
    /// Lift every size limit, including libvips' own (`vips-unlimited`).
    pub unlimited: bool,
    /// libvips worker threads per image; 0 keeps libvips' default
    /// (`vips-concurrency`).
    pub concurrency: i32,
    /// Deepest nesting of `image()` overlays (each level a full pipeline).
    pub max_overlay_depth: u32,
    /// Refuse the formats whose libvips loaders libvips itself flags
    /// untrusted (`VIPS_OPERATION_UNTRUSTED`: PDF, JPEG 2000, JPEG XL,
    /// ImageMagick, ...) with a 406 naming the loader. SVG is rendered by
    /// resvg, not libvips, and stays available.
    pub block_untrusted_loaders: bool,

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

    /// Serve sources from this folder (`file-loader-base-dir`). Empty: no
    /// file loader.
    pub file_loader_base_dir: String,
    /// Only image keys under this prefix are loaded, and the prefix is
    /// stripped (`file-loader-path-prefix`).
    pub file_loader_path_prefix: String,
    /// Extra characters kept unescaped in storage keys (`file-safe-chars`).
    pub file_safe_chars: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secret: String::new(),
            signer_type: "sha1".to_owned(),
            signer_truncate: 0,
            unsafe_: false,
            max_width: 9999,
            max_height: 9999,
            max_resolution: 81_000_000,
            max_animation_frames: -1,
            max_filter_ops: -1,
            disable_blur: false,
            disable_filters: Vec::new(),
            strict_filters: false,
            strip_metadata: false,
            strip_color_profile: false,
            avif_speed: 8,
            mozjpeg: false,
            unlimited: false,
            concurrency: 0,
            max_overlay_depth: 4,
            block_untrusted_loaders: true,
            process_timeout: Duration::from_secs(2),
            max_memory: 256 << 20,
            file_loader_base_dir: String::new(),
            file_loader_path_prefix: String::new(),
            file_safe_chars: String::new(),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Everything but the secret, which shows only whether it is set.
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = shown.as_object_mut() {
            let secret = if self.secret.is_empty() {
                ""
            } else {
                "<redacted>"
            };
            map.insert("secret".to_owned(), secret.into());
        }
        write!(f, "Options {shown}")
    }
}

impl Options {
    /// Parse options from JSON (the C ABI and CLI form). Unknown fields are
    /// rejected with a 400 naming the field.
    pub fn from_json(json: &str) -> Result<Options> {
        if json.trim().is_empty() {
            return Ok(Options::default());
        }
        let opts: Options = serde_json::from_str(json)
            .map_err(|e| Error::invalid_msg(format!("invalid options: {e}")))?;
        opts.validate()?;
        Ok(opts)
    }

    /// Check value ranges; every binding calls this before use.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::invalid_msg(format!("invalid options: {msg}")));
        if self.max_width <= 0 || self.max_height <= 0 || self.max_resolution <= 0 {
            return bad("max_width, max_height and max_resolution must be positive");
        }
        if !(0..=9).contains(&self.avif_speed) {
            return bad("avif_speed must be within 0..=9");
        }
        if self.concurrency < 0 {
            return bad("concurrency must not be negative");
        }
        self.signer_type.parse::<SignerAlg>()?;
        Ok(())
    }

    /// The signer these options describe, or `None` without a secret.
    pub fn signer(&self) -> Result<Option<Signer>> {
        if self.secret.is_empty() {
            return Ok(None);
        }
        let alg: SignerAlg = self.signer_type.parse()?;
        Ok(Some(Signer::new(alg, self.signer_truncate, &self.secret)))
    }

    /// Is the filter `name` disabled by `disable_filters` or `disable_blur`?
    pub fn is_filter_disabled(&self, name: &str) -> bool {
        (self.disable_blur && (name == "blur" || name == "sharpen"))
            || self.disable_filters.iter().any(|f| f == name)
    }
}
