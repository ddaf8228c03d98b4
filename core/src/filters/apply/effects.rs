//! Applying the effects ([`EffectOp`]): blur, sharpen, pixelate.

use super::FilterCtx;
use crate::error::{Error, Result};
use crate::filters::effects::EffectOp;
use crate::vips::{Arg, Call, Image};

/// libvips' largest `gaussblur` sigma. imagor passes bigger values through
/// and libvips refuses them (406); we refuse them the same way, before
/// libvips sees an out-of-range value.
pub(super) const MAX_BLUR_SIGMA: f64 = 1000.0;
/// The largest `sharpen` sigma of the libvips imagor 1.9 ships (8.18;
/// 8.14 allowed 10000). Bigger values are ignored by libvips, which then
/// sharpens with its default sigma (0.5); imagor's goldens show that.
const MAX_SHARPEN_SIGMA: f64 = 10.0;
/// libvips' largest `shrink` factor.
const MAX_SHRINK: i32 = 1_000_000;

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
                if (0.000001..=MAX_SHARPEN_SIGMA).contains(&sigma) {
                    call = call.arg("sigma", Arg::Double(sigma));
                }
                call.run()?.out()
            }
            EffectOp::Pixelate(block) => pixelate(img, block),
        }
    }
}

/// imagor's `pixelateMultiPageImage`: every frame shrunk by `block` (box
/// average) and zoomed back by pixel replication, so the frame size becomes
/// a multiple of `block` (libvips rounds the shrunk size).
pub(super) fn pixelate(img: &Image, block: i32) -> Result<Image> {
    if block <= 1 {
        return Ok(img.clone());
    }
    if block > MAX_SHRINK {
        return Err(Error::Processing(format!(
            "shrink: factor {block} is out of range"
        )));
    }
    // A block past a side is that side (imagor's shrink fails there, "image
    // has shrunk to nothing", a 500): the frame becomes its average colour
    // at its own size, as a block that covers it would make it.
    let one = |frame: &Image| {
        let (bw, bh) = (block.min(frame.width()), block.min(frame.page_height()));
        frame.shrink(bw as f64, bh as f64)?.zoom(bw, bh)
    };
    if img.page_height() <= 0 || img.frames() <= 1 {
        return one(img);
    }
    crate::ops::multipage::per_frame(img, one)
}
