//! Colour filters: brightness, contrast, hue, saturation, rgb, modulate,
//! grayscale, invert, to_colorspace.
//!
//! The linear adjustments run in sRGB (imagor's `linearRGB`: grey images are
//! converted first, alpha passes through); hue and saturation run in LCh
//! and return to the image's own colour space (vipsgen's `Modulate`).
//! Missing arguments make a filter a no-op, as in imagor.

use super::apply::FilterCtx;
use super::args::Args;
use crate::error::{Error, Result};
use crate::vips::{Image, Intent, Interpretation};

/// ICC profiles libvips knows by name. Anything else would be read from the
/// file system, which a URL must not steer.
const BUILTIN_PROFILES: &[&str] = &["srgb", "p3", "cmyk"];

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

impl ColorOp {
    /// Apply to `img`.
    pub(crate) fn apply(&self, img: &Image, _cx: &mut FilterCtx<'_>) -> Result<Image> {
        match self {
            ColorOp::Nothing => Ok(img.clone()),
            ColorOp::Brightness(b) => {
                let b = b * 255.0 / 100.0;
                linear_rgb(img, [1.0; 3], [b; 3])
            }
            ColorOp::Contrast(c) => {
                let a = (c * 255.0 / 100.0).clamp(-255.0, 255.0);
                let a = (259.0 * (a + 255.0)) / (255.0 * (259.0 - a));
                let b = 128.0 - a * 128.0;
                linear_rgb(img, [a; 3], [b; 3])
            }
            ColorOp::Hue(h) => modulate(img, 1.0, 1.0, *h),
            ColorOp::Saturation(s) => modulate(img, 1.0, 1.0 + s / 100.0, 0.0),
            ColorOp::Rgb(rgb) => linear_rgb(img, [1.0; 3], rgb.map(|v| v * 255.0 / 100.0)),
            ColorOp::Modulate([b, s, h]) => modulate(img, 1.0 + b / 100.0, 1.0 + s / 100.0, *h),
            ColorOp::Grayscale => img.colourspace(Interpretation::B_W),
            ColorOp::Invert => linear_rgb(img, [-1.0; 3], [255.0; 3]),
            ColorOp::ToColorspace(profile) => to_colorspace(img, profile),
        }
    }
}

/// imagor's `linearRGB`: `out = in * a + b` on R, G, B in sRGB; an alpha
/// band is kept as is.
pub(super) fn linear_rgb(img: &Image, a: [f64; 3], b: [f64; 3]) -> Result<Image> {
    let mut img = img.clone();
    if img.bands() < 3 || img.interpretation() != Interpretation::SRGB {
        img = img.colourspace(Interpretation::SRGB)?;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    if img.has_alpha() {
        a.push(1.0);
        b.push(0.0);
    }
    img.linear(&a, &b)
}

/// vipsgen's `Modulate`: scale L and C and rotate h in LCh, then return to
/// the image's colour space (`rgb` is read as sRGB).
fn modulate(img: &Image, brightness: f64, saturation: f64, hue: f64) -> Result<Image> {
    let mut space = img.interpretation();
    if space == Interpretation::RGB {
        space = Interpretation::SRGB;
    }
    let (mut a, mut b) = (vec![brightness, saturation, 1.0], vec![0.0, 0.0, hue]);
    if img.has_alpha() {
        a.push(1.0);
        b.push(0.0);
    }
    img.colourspace(Interpretation::LCH)?
        .linear(&a, &b)?
        .colourspace(space)
}

/// imagor's `toColorspace`, limited to libvips' built-in profiles.
fn to_colorspace(img: &Image, profile: &str) -> Result<Image> {
    if !img.has_field("icc-profile-data") {
        return Ok(img.clone());
    }
    if !BUILTIN_PROFILES.contains(&profile) {
        // imagor hands the name to libvips, which fails (406) unless it
        // names a readable ICC file; we never open files named by a URL.
        return Err(Error::Processing(format!(
            "icc_transform: unknown profile {profile:?}"
        )));
    }
    let depth = if img.interpretation() == Interpretation::RGB16 {
        16
    } else {
        0
    };
    img.icc_transform(profile, Intent::Perceptual, depth)
}
