//! Colour filters: brightness, contrast, hue, saturation, rgb, modulate,
//! grayscale, invert, to_colorspace.
//!
//! Missing arguments make a filter a no-op, as in imagor. The filters are
//! applied in `apply/color.rs`.

use super::args::Args;
use crate::error::Result;

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColorOp {
    /// The filter's arguments were missing: imagor does nothing.
    Nothing,
    /// `brightness(pct)`: add `pct`% of 255 to R, G and B.
    Brightness(f64),
    /// `contrast(pct)`: scale around 128 (-100..100).
    Contrast(f64),
    /// `hue(degrees)`: rotate the LCh hue.
    Hue(f64),
    /// `saturation(pct)`: scale the LCh chroma by `1 + pct/100`.
    Saturation(f64),
    /// `rgb(r, g, b)`: add each percentage of 255 to its band.
    Rgb([f64; 3]),
    /// `modulate(brightness, saturation, hue)`: LCh lightness and chroma
    /// factors (`1 + pct/100`) and a hue rotation.
    Modulate([f64; 3]),
    /// `grayscale()`: to one grey band (plus alpha).
    Grayscale,
    /// `invert()`: `255 - v` on R, G and B.
    Invert,
    /// `to_colorspace(profile)`: ICC transform from the embedded profile to
    /// a built-in one (`srgb` by default, `p3`, `cmyk`); a no-op without an
    /// embedded profile.
    ToColorspace(String),
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<ColorOp>> {
    let pct = |i| a.float(i, 0.0);
    let op = match name {
        "brightness" | "contrast" | "hue" | "saturation" if a.is_empty() => ColorOp::Nothing,
        "brightness" => ColorOp::Brightness(pct(0)?),
        "contrast" => ColorOp::Contrast(pct(0)?),
        "hue" => ColorOp::Hue(pct(0)?),
        "saturation" => ColorOp::Saturation(pct(0)?),
        "rgb" | "modulate" if a.len() != 3 => ColorOp::Nothing,
        "rgb" => ColorOp::Rgb([pct(0)?, pct(1)?, pct(2)?]),
        "modulate" => ColorOp::Modulate([pct(0)?, pct(1)?, pct(2)?]),
        "grayscale" => ColorOp::Grayscale,
        "invert" => ColorOp::Invert,
        "to_colorspace" => {
            let profile = a.str(0).to_ascii_lowercase();
            ColorOp::ToColorspace(if profile.is_empty() {
                "srgb".to_owned()
            } else {
                profile
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(op))
}
