//! Effects: blur, sharpen, pixelate, and the detector-driven redact,
//! redact_oval and draw_detections.

use super::apply::FilterCtx;
use super::args::{to_i32, Args};
use crate::error::{Error, Result};
use crate::vips::{Arg, Call, Image};

/// libvips' largest `gaussblur` sigma. imagor passes bigger values through
/// and libvips refuses them (406); we refuse them the same way, before
/// libvips sees an out-of-range value.
const MAX_BLUR_SIGMA: f64 = 1000.0;
/// libvips' largest `sharpen` sigma. Bigger values are ignored by libvips,
/// which then sharpens with its default sigma; imagor inherits that.
const MAX_SHARPEN_SIGMA: f64 = 10000.0;
/// libvips' largest `shrink` factor.
const MAX_SHRINK: i32 = 1_000_000;

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EffectOp {
    /// `blur(radius)` (sigma = radius / 2) or `blur(radius, sigma)`; 0 or
    /// less does nothing. Animations are left alone, as in imagor.
    Blur(f64),
    /// `sharpen(amount)` or `sharpen(_, amount[, _])`: libvips' `sharpen`
    /// with sigma `1 + 2 * amount`, `x1 = 1`, `m2 = 2`; not on animations.
    Sharpen(f64),
    /// `pixelate(block)`: box-shrink then pixel-replicate by `block`
    /// (default 10), frame by frame.
    Pixelate(i32),
    /// `redact([mode[, strength]])`, `redact_oval(...)` and
    /// `draw_detections()`: imagor only acts on the regions a configured
    /// object detector reports. We have no detector, so, like imagor
    /// without one, these leave the image unchanged. The arguments are
    /// still read (a malformed strength is a 400).
    Detections {
        /// `blur`, `pixelate` or a colour (lower-cased).
        mode: String,
        /// Blur sigma or block size; 0 means the mode's default.
        strength: i32,
    },
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<EffectOp>> {
    let op = match name {
        "blur" => EffectOp::Blur(match a.len() {
            2 => a.float(1, 0.0)?,
            1 => a.float(0, 0.0)? / 2.0,
            _ => 0.0,
        }),
        "sharpen" => {
            let amount = match a.len() {
                1 => a.float(0, 0.0)?,
                2 | 3 => a.float(1, 0.0)?,
                _ => 0.0,
            };
            EffectOp::Sharpen(1.0 + amount * 2.0)
        }
        "pixelate" => {
            let block = if a.is_empty() { 0 } else { a.int(0, 0)? };
            EffectOp::Pixelate(if block > 0 { to_i32(block) } else { 10 })
        }
        "redact" | "redact_oval" | "draw_detections" => {
            let mode = match a.str(0) {
                "" => "blur".to_owned(),
                m => m.to_ascii_lowercase(),
            };
            let strength = if a.len() > 1 { to_i32(a.int(1, 0)?) } else { 0 };
            EffectOp::Detections { mode, strength }
        }
        _ => return Ok(None),
    };
    Ok(Some(op))
}

impl EffectOp {
    /// Apply to `img`.
    pub(crate) fn apply(&self, img: &Image, _cx: &mut FilterCtx<'_>) -> Result<Image> {
        match *self {
            EffectOp::Blur(sigma) => {
                if img.is_animated() || sigma <= 0.0 {
                    return Ok(img.clone());
                }
                if sigma > MAX_BLUR_SIGMA {
                    return Err(Error::Processing(format!(
                        "gaussblur: sigma {sigma} is out of range 0..{MAX_BLUR_SIGMA}"
                    )));
                }
                img.gaussblur(sigma)
            }
            EffectOp::Sharpen(sigma) => {
                if img.is_animated() || sigma <= 0.0 {
                    return Ok(img.clone());
                }
                let mut call = Call::new("sharpen")
                    .arg("in", Arg::Image(img))
                    .arg("x1", Arg::Double(1.0))
                    .arg("m2", Arg::Double(2.0));
                if sigma <= MAX_SHARPEN_SIGMA {
                    call = call.arg("sigma", Arg::Double(sigma));
                }
                call.run()?.out()
            }
            EffectOp::Pixelate(block) => pixelate(img, block),
            EffectOp::Detections { .. } => Ok(img.clone()),
        }
    }
}

/// imagor's `pixelateMultiPageImage`: every frame shrunk by `block` (box
/// average) and zoomed back by pixel replication, so the frame size becomes
/// a multiple of `block` (libvips rounds the shrunk size).
fn pixelate(img: &Image, block: i32) -> Result<Image> {
    if block <= 1 {
        return Ok(img.clone());
    }
    if block > MAX_SHRINK {
        return Err(Error::Processing(format!(
            "shrink: factor {block} is out of range"
        )));
    }
    let one = |frame: &Image| frame.shrink(block as f64, block as f64)?.zoom(block, block);
    let page_height = img.page_height();
    let pages = img.frames();
    if page_height <= 0 || pages <= 1 {
        return one(img);
    }
    let mut frames = Vec::with_capacity(pages as usize);
    for i in 0..pages {
        frames.push(one(&img.extract_area(
            0,
            i * page_height,
            img.width(),
            page_height,
        )?)?);
    }
    let refs: Vec<&Image> = frames.iter().collect();
    let joined = Image::arrayjoin(&refs, 1)?;
    let new_page_height = joined.height() / pages;
    crate::ops::multipage::set_pages(&joined, new_page_height)
}
