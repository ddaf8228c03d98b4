//! Applying the colour filters ([`ColorOp`]).
//!
//! The linear adjustments run in sRGB (imagor's `linearRGB`: grey images are
//! converted first, alpha passes through); hue and saturation run in LCh
//! and return to the image's own colour space (vipsgen's `Modulate`).

use super::FilterCtx;
use crate::error::{Error, Result};
use crate::filters::color::ColorOp;
use crate::vips::{Image, Intent, Interpretation};

/// ICC profiles libvips knows by name. Anything else would be read from the
/// file system, which a URL must not steer.
const BUILTIN_PROFILES: &[&str] = &["srgb", "p3", "cmyk"];

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
