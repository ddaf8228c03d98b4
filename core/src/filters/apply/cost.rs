//! What each filter costs, so the budget can refuse a chain that would not
//! finish in time before libvips starts on it.
//!
//! Costs are nanoseconds per pixel of the image the filter works on (all
//! frames), measured on the reference machine and rounded down
//! (`core/examples/calibrate_budget.rs`); most filters are one pass, blur
//! and sharpen grow with the width of their Gaussian mask, overlays with
//! the canvas they are composited on. Text is charged by its own area when
//! it is rendered.

use crate::budget::Cost;
use crate::filters::color::ColorOp;
use crate::filters::effects::EffectOp;
use crate::filters::shape::ShapeOp;
use crate::filters::{DetectionOp, FilterOp, RedactMode};
use crate::vips::Image;

/// Width of libvips' Gaussian mask for `sigma` (`min_ampl` 0.2, both
/// sides): about 3.6 sigma, at least 1.
pub(crate) fn gauss_mask_width(sigma: f64) -> f64 {
    if sigma.is_nan() || sigma <= 0.0 {
        return 1.0;
    }
    2.0 * (1.8 * sigma).ceil() + 1.0
}

/// A separable Gaussian blur of `sigma`, per pixel: two passes over the
/// mask. libvips blurs 8-bit images in integer arithmetic, vectorised up to
/// a mask of about 110 taps; other formats (and wider masks) take the
/// slower path. Measured on the reference machine, per tap of the mask:
/// 8-bit photos 0.16-0.31 ns up to 109 taps, 0.57-1.22 ns from 127 to 361
/// taps; float images 2.2 ns.
pub(crate) fn blur_ns(sigma: f64, eight_bit: bool) -> f64 {
    let taps = gauss_mask_width(sigma.min(1000.0));
    let per_tap = match (eight_bit, taps <= 111.0) {
        (true, true) => 0.4,
        (true, false) => 1.25,
        (false, _) => 2.5,
    };
    per_tap * taps
}

/// Refuse, before any cost is estimated, a filter whose output canvas is
/// over the resolution limits (422, as imagor answers at export):
/// `padding` is the filter that grows the canvas by its arguments.
pub(crate) fn check_output_size(
    op: &FilterOp,
    img: &Image,
    opts: &crate::options::Options,
) -> crate::error::Result<()> {
    if let FilterOp::Padding { sides, .. } = op {
        if opts.unlimited {
            return Ok(());
        }
        let [l, t, r, b] = sides.map(|v| v.max(0) as i64);
        let w = img.width() as i64 + l + r;
        let h = img.page_height() as i64 + t + b;
        let frames = img.frames().max(1) as i64;
        if w > opts.max_width as i64
            || h > opts.max_height as i64
            || w.saturating_mul(h).saturating_mul(frames) > opts.max_resolution
        {
            return Err(crate::error::Error::MaxResolutionExceeded);
        }
    }
    Ok(())
}

/// A blurred fill, per pixel of the canvas it covers: the image resized
/// to the canvas, blurred with sigma 50 (a 181-pixel mask) and composited
/// in floating point. Measured 1100-1200 ns from 1000x1000 to 3000x3000.
const FILL_BLUR_NS: f64 = 900.0;

/// Estimated work of `op` on `img`; `fill_box` is the width and height
/// `fill` pads to (before the path's padding, which `padding` adds too).
pub(crate) fn cost(op: &FilterOp, img: &Image, fill_box: (i32, i32), padding: [i32; 4]) -> Cost {
    let pixels = img.width().max(0) as f64 * img.height().max(0) as f64;
    let still = !img.is_animated();
    let eight_bit = img.format() == crate::vips::BandFormat::UCHAR;
    let frames = img.frames().max(1) as f64;
    let canvas = |w: i32, h: i32, [l, t, r, b]: [i32; 4]| {
        let grow = |v: i32, a: i32, b: i32| v.max(0) as f64 + a.max(0) as f64 + b.max(0) as f64;
        grow(w, l, r) * grow(h, t, b) * frames
    };
    let ns = match op {
        FilterOp::Color(c) => match c {
            ColorOp::Nothing => 0.0,
            ColorOp::Hue(_)
            | ColorOp::Saturation(_)
            | ColorOp::Modulate(_)
            | ColorOp::ToColorspace(_) => 60.0,
            _ => 8.0,
        },
        FilterOp::Effect(e) => match *e {
            EffectOp::Blur(sigma) if still && sigma > 0.0 => blur_ns(sigma, eight_bit),
            EffectOp::Sharpen(sigma) if still && sigma > 0.0 => {
                // Sharpen works in LAB around a mask of at most sigma 10.
                40.0 + 4.0 * gauss_mask_width(sigma.min(10.0))
            }
            EffectOp::Pixelate(_) => 15.0,
            _ => 0.0,
        },
        FilterOp::Detection(d) => match d {
            // At most the whole image blurred, pixelated or filled.
            DetectionOp::Redact {
                mode: RedactMode::Blur(sigma),
                ..
            } if still => blur_ns(*sigma, eight_bit) + 8.0,
            DetectionOp::Redact { .. } if still => 20.0,
            DetectionOp::Redact { .. } => 0.0,
            DetectionOp::Draw => 10.0,
        },
        FilterOp::Shape(s) => match s {
            ShapeOp::Nothing => 0.0,
            ShapeOp::Rotate(_) => 1.0,
            ShapeOp::Trim { .. } => 10.0,
            _ => 20.0,
        },
        FilterOp::Fill(color) if color.0 == "blur" && still => {
            let covered = canvas(fill_box.0, fill_box.1, padding).max(pixels);
            return Cost::per_pixel(covered, FILL_BLUR_NS);
        }
        FilterOp::Fill(_) | FilterOp::BackgroundColor(_) => 8.0,
        FilterOp::Padding { sides, color } => {
            let ns = if color == "blur" && still {
                FILL_BLUR_NS
            } else {
                5.0
            };
            return Cost::per_pixel(canvas(img.width(), img.page_height(), *sides), ns);
        }
        FilterOp::StripIcc => 20.0,
        // Compositing over the whole canvas (the overlay's own pipeline is
        // charged when it runs).
        FilterOp::Overlay(_) => 20.0,
        FilterOp::Text(_) => 10.0,
        _ => 0.0,
    };
    Cost::per_pixel(pixels, ns)
}

/// How many plain filters `op` counts for before the pipeline renders to
/// memory ([`crate::ops::keep_alive::KeepAlive::deepen`]): filters that
/// read their input twice (`sharpen` blends the blurred and the original
/// lightness, `fill(blur)` and a blurred `redact` composite the image over
/// a blurred copy of itself) or through a wide window (`blur`) multiply
/// the work of the lazy chain before them.
pub(crate) fn depth(op: &FilterOp, img: &Image) -> usize {
    let still = !img.is_animated();
    match op {
        FilterOp::Effect(EffectOp::Sharpen(sigma)) if still && *sigma > 0.0 => 8,
        FilterOp::Effect(EffectOp::Blur(sigma)) if still && *sigma > 0.0 => 4,
        FilterOp::Fill(color) if color.0 == "blur" && still => 16,
        FilterOp::Detection(DetectionOp::Redact {
            mode: RedactMode::Blur(_),
            ..
        }) if still => 16,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_grow_with_sigma() {
        assert_eq!(gauss_mask_width(0.0), 1.0);
        assert_eq!(gauss_mask_width(10.0), 37.0);
        for eight_bit in [true, false] {
            assert!(blur_ns(1000.0, eight_bit) > 100.0 * blur_ns(5.0, eight_bit));
            assert_eq!(blur_ns(1e9, eight_bit), blur_ns(1000.0, eight_bit));
            assert!(blur_ns(30.0, eight_bit) < blur_ns(35.0, eight_bit));
        }
        // The vectorised 8-bit path is the cheap one.
        assert!(blur_ns(20.0, true) * 4.0 < blur_ns(20.0, false));
    }
}
