//! Detector-driven filters: `redact([mode[,strength]])`,
//! `redact_oval([mode[,strength]])` and `draw_detections()` (imagor's
//! `filterdetection.go`). They act on the regions the configured
//! detectors report (`crate::detector`) and do nothing without one, as in
//! imagor. They are applied in `apply/detections.rs`.

use super::args::{to_i32, Args};
use crate::error::Result;

/// How `redact` hides a region.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RedactMode {
    /// Gaussian blur with this sigma (default 15).
    Blur(f64),
    /// Pixelate with blocks of this size (default 10).
    Pixelate(i32),
    /// Fill with a colour: a name or hex, as imagor's `getColor` reads it
    /// (unknown names are black).
    Color(String),
}

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DetectionOp {
    /// `redact(...)` (`oval: false`) or `redact_oval(...)`.
    Redact {
        /// What to do with each region.
        mode: RedactMode,
        /// Mask each region with an ellipse.
        oval: bool,
    },
    /// `draw_detections()`: a one-pixel outline per region, coloured by
    /// its class name.
    Draw,
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<DetectionOp>> {
    let oval = match name {
        "redact" => false,
        "redact_oval" => true,
        "draw_detections" => return Ok(Some(DetectionOp::Draw)),
        _ => return Ok(None),
    };
    let mode = match a.str(0) {
        "" => "blur".to_owned(),
        m => m.to_ascii_lowercase(),
    };
    // imagor reads the strength with Atoi and ignores a malformed one; we
    // answer 400 for it, as for every other malformed number.
    let strength = if a.len() > 1 { to_i32(a.int(1, 0)?) } else { 0 };
    let mode = match mode.as_str() {
        "blur" => RedactMode::Blur(if strength > 0 { strength as f64 } else { 15.0 }),
        "pixelate" => RedactMode::Pixelate(if strength > 0 { strength } else { 10 }),
        _ => RedactMode::Color(mode),
    };
    Ok(Some(DetectionOp::Redact { mode, oval }))
}
