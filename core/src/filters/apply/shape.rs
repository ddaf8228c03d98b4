//! Applying the shape filters ([`ShapeOp`]): rotate, round_corner, crop,
//! trim, proportion.

use super::FilterCtx;
use crate::error::Result;
use crate::filters::shape::ShapeOp;
use crate::ops::color::get_color;
use crate::ops::limits::check_resolution;
use crate::ops::multipage::{self, angle_for};
use crate::ops::trim::find_trim;
use crate::vips::{BlendMode, Image, Interesting, Interpretation, Size};

impl ShapeOp {
    /// Apply to `img`.
    pub(crate) fn apply(&self, img: &Image, cx: &mut FilterCtx<'_>) -> Result<Image> {
        match self {
            ShapeOp::Nothing => Ok(img.clone()),
            ShapeOp::Rotate(angle) => {
                if *angle <= 0 {
                    return Ok(img.clone());
                }
                if *angle == 90 || *angle == 270 {
                    cx.rotate90 = !cx.rotate90;
                }
                multipage::rotate(img, angle_for(*angle))
            }
            ShapeOp::RoundCorner { rx, ry, color } => {
                round_corner(img, cx, *rx, *ry, color.as_deref())
            }
            ShapeOp::Crop(args) => crop(img, *args),
            ShapeOp::Trim { tolerance, by } => {
                // find_trim reads every pixel: refuse oversized canvases first.
                check_resolution(img, cx.opts)?;
                match find_trim(img, by, *tolerance) {
                    Some((l, t, w, h)) if w > 0 && h > 0 => {
                        multipage::extract_area(img, l, t, w, h)
                    }
                    _ => Ok(img.clone()),
                }
            }
            ShapeOp::Proportion(p) => proportion(img, *p),
        }
    }
}

fn round_corner(
    img: &Image,
    cx: &FilterCtx<'_>,
    rx: i64,
    ry: i64,
    color: Option<&str>,
) -> Result<Image> {
    // The mask is rasterised at the image size: refuse oversized canvases.
    check_resolution(img, cx.opts)?;
    let background = color.map(|c| get_color(Some(img), c));
    let (w, h) = (img.width(), img.page_height());
    let svg = format!(
        r##"<svg viewBox="0 0 {w} {h}"><rect rx="{rx}" ry="{ry}" x="0" y="0" width="{w}" height="{h}" fill="#fff"/></svg>"##
    );
    let mut mask = Image::svg(svg.as_bytes())?;
    let frames = img.frames();
    if frames > 1 {
        mask = mask.replicate(1, frames)?;
    }
    let mut base = img.clone();
    if base.bands() < 3 {
        base = base.colourspace(Interpretation::SRGB)?;
    }
    let out = base.composite2(&mask, BlendMode::DestIn, 0, 0)?;
    match background {
        Some(c) => out.flatten(&c),
        None => Ok(out),
    }
}

/// imagor's `crop` filter: fractions in (0, 1) scale by the current size,
/// the origin is clamped to the image and the size to what is left.
fn crop(img: &Image, [left, top, width, height]: [f64; 4]) -> Result<Image> {
    let (iw, ih) = (img.width() as f64, img.page_height() as f64);
    let frac = |v: f64, size: f64| if v > 0.0 && v < 1.0 { v * size } else { v };
    let left = frac(left, iw).min(iw).max(0.0);
    let top = frac(top, ih).min(ih).max(0.0);
    let width = frac(width, iw).min(iw - left);
    let height = frac(height, ih).min(ih - top);
    if width <= 0.0 || height <= 0.0 {
        return Ok(img.clone());
    }
    let (l, t, w, h) = (left as i32, top as i32, width as i32, height as i32);
    if w <= 0 || h <= 0 {
        return Ok(img.clone());
    }
    multipage::extract_area(img, l, t, w, h)
}

/// imagor's `proportion`: a scale of 0 or less does nothing; above 1 it is
/// a percentage (at most 100).
fn proportion(img: &Image, scale: f64) -> Result<Image> {
    if scale <= 0.0 {
        return Ok(img.clone());
    }
    let mut scale = scale.min(100.0);
    if scale > 1.0 {
        scale /= 100.0;
    }
    let width = (img.width() as f64 * scale) as i32;
    let height = (img.page_height() as f64 * scale) as i32;
    if width <= 0 || height <= 0 {
        return Ok(img.clone());
    }
    img.thumbnail_image(width, height, Size::Both, Interesting::None)
}
