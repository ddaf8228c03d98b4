//! Applying `image()` and `watermark()`, and the compositing they share
//! with `text()` and `label()` (imagor's `compositeOverlay`). The nested
//! pipeline and the watermark loading come from [`super::Overlays`].

use super::FilterCtx;
use crate::error::Result;
use crate::filters::args::to_i32;
use crate::filters::overlay::{OverlayOp, Position};
use crate::ops::multipage;
use crate::vips::{BlendMode, Extend, Image, Interpretation};

/// libvips' largest image dimension (`VIPS_MAX_COORD`); larger sizes are
/// out of range for its operations.
const VIPS_MAX_COORD: i64 = 10_000_000;

impl OverlayOp {
    /// Apply to `img`.
    pub(crate) fn apply(&self, img: &Image, cx: &mut FilterCtx<'_>) -> Result<Image> {
        match self {
            OverlayOp::Nothing => Ok(img.clone()),
            OverlayOp::Image {
                path,
                x,
                y,
                alpha,
                blend,
            } => {
                let (overlay, chain) = cx.overlays.nested(path, img.width(), img.page_height())?;
                cx.keep.append(chain);
                composite_overlay(img, &overlay, x, y, *alpha, *blend)
            }
            OverlayOp::Watermark {
                image,
                x,
                y,
                alpha,
                ratio,
            } => {
                let fit = watermark_fit(img, *ratio);
                let overlay = cx.overlays.watermark(image, fit, img.frames())?;
                composite_overlay(img, &overlay, x, y, *alpha, BlendMode::Over)
            }
        }
    }
}

/// The box `watermark()` is sized to: its ratio of the base `img` (up or
/// down); `None` without a ratio or when a side comes out empty.
fn watermark_fit(img: &Image, ratio: Option<(Option<i64>, Option<i64>)>) -> Option<(i32, i32)> {
    let side = |pct: Option<i64>, full: i32| match pct {
        None => full as i64,
        Some(p) => (full as i64).saturating_mul(p) / 100,
    };
    let (rw, rh) = ratio?;
    let (w, h) = (side(rw, img.width()), side(rh, img.page_height()));
    (w > 0 && h > 0).then(|| (w.min(VIPS_MAX_COORD) as i32, h.min(VIPS_MAX_COORD) as i32))
}

/// Convert one- and two-band images to sRGB (imagor's `ensureCompositeSRGB`).
pub(super) fn ensure_srgb(img: &Image) -> Result<Image> {
    if img.bands() < 3 {
        img.colourspace(Interpretation::SRGB)
    } else {
        Ok(img.clone())
    }
}

/// imagor's `compositeOverlay`: sRGB with alpha, alpha multiplier, place
/// (and tile) the overlay, clip it to the canvas, skip it when fully
/// outside, repeat its frames to cover the base's, and blend with
/// `composite2`.
pub(super) fn composite_overlay(
    img: &Image,
    overlay: &Image,
    x: &Position,
    y: &Position,
    alpha: f64,
    mode: BlendMode,
) -> Result<Image> {
    let img = ensure_srgb(img)?;
    let mut overlay = ensure_srgb(overlay)?;
    // The composite keeps the base's frames: an overlay's frames past them
    // are never seen. Drop them before the per-frame tiling and embedding
    // below, which would render every one at the base's size.
    let frames = img.frames();
    if overlay.frames() > frames {
        let ph = overlay.page_height();
        // Its animation fields go too: a base without them (a still image)
        // takes the overlay's in the composite.
        overlay = overlay
            .extract_area(0, 0, overlay.width(), ph.saturating_mul(frames))?
            .with_meta(|m| {
                if frames > 1 {
                    m.set_int("n-pages", frames);
                } else {
                    m.remove("page-height");
                    m.remove("n-pages");
                    m.remove("delay");
                    m.remove("loop");
                }
            })?;
    }
    if !overlay.has_alpha() {
        overlay = overlay.add_alpha()?;
    }
    if alpha > 0.0 {
        let m = 1.0 - alpha / 100.0;
        if m != 1.0 {
            overlay = overlay.linear(&[1.0, 1.0, 1.0, m], &[0.0; 4])?;
        }
    }
    let (w, h) = (img.width() as i64, img.page_height() as i64);
    let (mut ow, mut oh) = (overlay.width() as i64, overlay.page_height() as i64);
    let (x, across) = x.resolve(w, ow);
    let (y, down) = y.resolve(h, oh);
    if across.saturating_mul(down) > 1 {
        let (tw, th) = (
            to_i32(across.saturating_mul(ow)),
            to_i32(down.saturating_mul(oh)),
        );
        overlay = multipage::embed(&overlay, 0, 0, tw, th, Extend::Repeat, None)?;
        ow = overlay.width() as i64;
        oh = overlay.page_height() as i64;
    }
    if x >= w || y >= h || x.saturating_add(ow) <= 0 || y.saturating_add(oh) <= 0 {
        return Ok(img);
    }
    // The visible part of the overlay, and where it lands.
    let (mut left, mut top, mut vw, mut vh, mut ex, mut ey) = (0, 0, ow, oh, x, y);
    if x + ow > w {
        vw = w - x;
    }
    if y + oh > h {
        vh = h - y;
    }
    if x < 0 {
        left = -x;
        vw = ow + x;
        ex = 0;
    }
    if y < 0 {
        top = -y;
        vh = oh + y;
        ey = 0;
    }
    if left > 0 || top > 0 || vw < ow || vh < oh {
        if vw <= 0 || vh <= 0 {
            return Ok(img);
        }
        overlay = multipage::extract_area(&overlay, left as i32, top as i32, vw as i32, vh as i32)?;
    }
    overlay = multipage::embed(
        &overlay,
        ex as i32,
        ey as i32,
        w as i32,
        h as i32,
        Extend::Black,
        None,
    )?;
    let (frames, overlay_frames) = (img.frames(), overlay.frames());
    if frames > overlay_frames {
        let copies = (frames + overlay_frames - 1) / overlay_frames;
        overlay = overlay.replicate(1, copies)?;
    }
    img.composite2(&overlay, mode, 0, 0)
}
