//! The cost of quantising a whole image to a palette (a GIF of one frame,
//! a PNG `palette()` or colour at fewer than 8 bits), measured on a sample.
//!
//! libvips quantises the whole image in one call it cannot interrupt, and
//! what that costs depends on the content far more than on the size: CPU
//! per pixel of a 2000x2000 image, measured, was 60-75 ns for flat
//! graphics and gradients, 150-170 for noise and a scanned photo, 320-480
//! for photos, and 900 for a 1900x1263 photo (`jpg-24bit-icc-adobe-rgb`). No per-pixel figure both lets a large graphic through and
//! stops a large photo, so where it matters the saver is timed on four
//! tiles of the image and the whole is charged at that rate.

use std::time::Instant;

use crate::budget::{Budget, Cost};
use crate::error::Result;
use crate::vips::Image;

/// CPU per pixel of the busiest content measured (a photo, 1900x1263,
/// 880-960 ns), rounded up: an image that fits the time left even at this
/// rate is charged at it, without a sample. (500 let that photo's GIF run
/// 2.3 s of CPU on a 2 s budget.)
const BUSIEST_NS: f64 = 1000.0;
/// The flattest content measured: an image over the time left even at
/// this rate is refused without a sample.
const FLATTEST_NS: f64 = 60.0;
/// The whole's cost per pixel over the sample's, at most: the sample's
/// time includes the palette's set-up, so most images encode faster per
/// pixel whole (0.5-1.0x over eight images at 2000x2000 and 3000x3000),
/// but a photo rich in colours took 1.18x (2.13 s for 2.4 MP against
/// 0.68-0.82 s for a 1 MP sample). Dividing by 1.4, the middle of the
/// first eight, let that photo's palette PNG run 2.35 s of CPU on a 2 s
/// budget.
const WHOLE_OVER_SAMPLE: f64 = 1.25;
/// The side of each of the four tiles of the sample (512x512 in all).
const TILE: i32 = 256;

/// Charge the quantising save of `img` (`encode` saves an image as the
/// whole will be), at `alpha` times the rates for images with alpha. An
/// image that neither surely fits the time left nor surely does not is
/// first rendered to memory (the deadline stops that), which `img` then
/// holds, so that the sample and the save read the same pixels once.
pub(super) fn charge(
    img: &mut Image,
    alpha: f64,
    what: &str,
    budget: &Budget,
    encode: impl Fn(&Image) -> Result<()>,
) -> Result<()> {
    let Some(left) = budget.time_left_ns() else {
        return Ok(()); // No deadline: nothing to hold the work to.
    };
    let pixels = img.width().max(0) as f64 * img.height().max(0) as f64;
    let fits =
        |ns: f64| Cost::per_pixel(pixels, ns * alpha).duration().as_nanos() <= u128::from(left);
    // Too thin to cut four tiles from: charged as the busiest content.
    if fits(BUSIEST_NS) || img.width() < 2 || img.height() < 2 {
        return budget.charge_unstoppable_time(what, Cost::per_pixel(pixels, BUSIEST_NS * alpha));
    }
    if !fits(FLATTEST_NS) {
        // Refused: even flat content would not fit.
        return budget.charge_unstoppable_time(what, Cost::per_pixel(pixels, FLATTEST_NS * alpha));
    }
    *img = img.copy_memory()?;
    let sample = tiles(img)?;
    let sampled = sample.width() as f64 * sample.height() as f64;
    budget.charge_unstoppable_time(
        "sampling the palette's cost",
        Cost::per_pixel(sampled, BUSIEST_NS * alpha),
    )?;
    let started = Instant::now();
    encode(&sample)?;
    let per_pixel = started.elapsed().as_nanos() as f64 / sampled * WHOLE_OVER_SAMPLE;
    // Timed on the clock the deadline runs on, with the other calls of
    // the moment sharing the cores: not scaled again.
    budget.charge_time(what, Cost::per_pixel(pixels, per_pixel))
}

/// Four `TILE`-square tiles from the middles of the quarters of `img`,
/// joined two by two.
fn tiles(img: &Image) -> Result<Image> {
    let (w, h) = (img.width(), img.height());
    let (tw, th) = (TILE.min(w / 2), TILE.min(h / 2));
    let mut parts = Vec::with_capacity(4);
    for (qy, qx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let left = qx * (w / 2) + (w / 2 - tw) / 2;
        let top = qy * (h / 2) + (h / 2 - th) / 2;
        parts.push(img.extract_area(left, top, tw, th)?);
    }
    let refs: Vec<&Image> = parts.iter().collect();
    // One frame of its own size, whatever `img` said of its pages.
    Image::arrayjoin(&refs, 2)?.with_meta(|m| {
        m.remove("page-height");
        m.remove("n-pages");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_come_from_each_quarter_of_any_image_two_pixels_wide_or_more() {
        crate::vips::init().unwrap();
        for (w, h, want) in [
            (2000, 1000, (512, 512)),
            (2, 2, (2, 2)),
            (3, 1000, (2, 512)),
        ] {
            let img = Image::black(w, h, 3).unwrap();
            let sample = tiles(&img).unwrap();
            assert_eq!((sample.width(), sample.height()), want, "{w}x{h}");
        }
    }
}
