//! Options from JSON, and the range checks every binding runs before use.

use super::Options;
use crate::error::{Error, Result};
use crate::sign::{Signer, SignerAlg};

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
        if !["none", "truncated", "error", "warning"].contains(&self.fail_on.as_str()) {
            return bad("fail_on must be \"none\", \"truncated\", \"error\" or \"warning\"");
        }
        if self.concurrency < 0 {
            return bad("concurrency must not be negative");
        }
        if self.max_overlay_depth > super::MAX_OVERLAY_DEPTH {
            return bad(&format!(
                "max_overlay_depth must be within 0..={}",
                super::MAX_OVERLAY_DEPTH
            ));
        }
        if !(1..=10_000).contains(&self.detector_probe_size) {
            return bad("detector_probe_size must be within 1..=10000");
        }
        if self.face_detector_min_size < 20 {
            return bad("face_detector_min_size must be at least 20");
        }
        if !(self.face_detector_min_quality.is_finite() && self.face_detector_min_quality > 0.0) {
            return bad("face_detector_min_quality must be a positive number");
        }
        if self.face_detector_max_size < self.face_detector_min_size {
            return bad("face_detector_max_size must be at least face_detector_min_size");
        }
        if !(0.0..=1.0).contains(&self.face_detector_iou_threshold) {
            return bad("face_detector_iou_threshold must be within 0..=1");
        }
        self.signer_type.parse::<SignerAlg>()?;
        // The HTTP loader's regexp, base URL, proxies and CIDRs must parse:
        // imagor drops bad ones silently (a bad allow-list regexp then
        // allows everything); we refuse to start instead.
        if !self.http_loader_disable {
            crate::loader::http::check_options(self)?;
        }
        for (name, value) in [
            (
                "file_storage_mkdir_permission",
                &self.file_storage_mkdir_permission,
            ),
            (
                "file_storage_write_permission",
                &self.file_storage_write_permission,
            ),
            (
                "file_result_storage_mkdir_permission",
                &self.file_result_storage_mkdir_permission,
            ),
            (
                "file_result_storage_write_permission",
                &self.file_result_storage_write_permission,
            ),
        ] {
            if parse_permission(value).is_none() {
                return bad(&format!("{name} must be an octal mode such as \"0755\""));
            }
        }
        Ok(())
    }

    /// Whether the field `name` holds a secret that displays must hide:
    /// `secret`, and the AWS secret keys and session tokens.
    pub fn is_secret_field(name: &str) -> bool {
        name == "secret" || name.ends_with("secret_access_key") || name.ends_with("session_token")
    }

    /// The signer these options describe, or `None` without a secret.
    pub fn signer(&self) -> Result<Option<Signer>> {
        if self.secret.is_empty() {
            return Ok(None);
        }
        let alg: SignerAlg = self.signer_type.parse()?;
        Ok(Some(Signer::new(alg, self.signer_truncate, &self.secret)))
    }

    /// [`crate::Imagor::check_input_size`] for these options, without an
    /// instance: input of more than `max_memory` bytes is a 422.
    pub fn check_input_size(&self, len: usize) -> Result<()> {
        let max = self.max_memory;
        if max > 0 && len as u64 > max {
            return Err(Error::limit(
                "max_memory",
                format!(
                    "the input image is larger than max_memory ({})",
                    crate::budget::format_bytes(max)
                ),
            ));
        }
        Ok(())
    }

    /// Is the filter `name` disabled by `disable_filters` or `disable_blur`?
    pub fn is_filter_disabled(&self, name: &str) -> bool {
        (self.disable_blur && (name == "blur" || name == "sharpen"))
            || self.disable_filters.iter().any(|f| f == name)
    }
}

/// A file mode in Go's `strconv.ParseUint(s, 0, 32)` syntax (`"0755"` is
/// octal, `"0o755"`, `"0x1ed"` and `"493"` work too).
pub fn parse_permission(text: &str) -> Option<u32> {
    let t = text.trim().replace('_', "");
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b, 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t.as_str(), 10)
    };
    u32::from_str_radix(digits, radix)
        .ok()
        .filter(|m| *m <= 0o7777)
}
