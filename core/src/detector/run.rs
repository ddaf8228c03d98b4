//! Running the detectors on an image of the pipeline: the probe (imagor's
//! `detectRegions`), and the regions mapped back to pixels.

use super::{Detectors, Probe, Region};
use crate::budget::Budget;
use crate::error::Result;
use crate::ops::color::normalize_srgb;
use crate::vips::{BandFormat, Image, Interpretation};

/// The regions the detectors find in `img` (its first frame when
/// animated), in fractions of its width and frame height. The probe is a
/// copy at most `probe_size` pixels on each side, 8-bit sRGB(A), not
/// rotated by EXIF orientation (so the regions are in `img`'s own
/// coordinates). `img` is read once: callers that read it again must hold
/// it in memory (sequential sources can be read only once).
pub(crate) fn detect(
    detectors: &Detectors,
    img: &Image,
    image_key: &str,
    probe_size: i32,
    budget: &Budget,
) -> Result<Vec<Region>> {
    if detectors.is_empty() {
        return Ok(Vec::new());
    }
    let (width, height, bands, pixels) = probe(img, probe_size.max(1))?;
    budget.check()?;
    let probe = Probe {
        pixels: &pixels,
        width,
        height,
        bands,
        deadline: budget
            .time_left_ns()
            .map(|ns| std::time::Instant::now() + std::time::Duration::from_nanos(ns)),
    };
    let regions = detectors.detect(image_key, &probe)?;
    // A detector runs outside libvips, where the deadline cannot stop it:
    // a slow one still answers 408 once it returns.
    budget.check()?;
    Ok(regions)
}

/// `(width, height, bands, pixels)` of the probe.
fn probe(img: &Image, size: i32) -> Result<(u32, u32, u32, Vec<u8>)> {
    let first = if img.is_animated() {
        img.extract_area(0, 0, img.width(), img.page_height())?
    } else {
        img.clone()
    };
    // A box shrink by the whole factor first: thumbnail_image on a large
    // decoded image costs ~20x a box shrink (0.65 vs 0.03 s CPU for 12 MP),
    // and a probe needs no finer filter. thumbnail_image then brings the
    // small result to at most `size`. Each axis shrinks by the factor but
    // never below one pixel: libvips refuses a shrink that leaves an axis
    // empty (a 2x9000 or 9000x3 strip was a 406 `shrink failed` for every
    // request that probed it; imagor's probe is a plain thumbnail).
    let factor = (first.width().max(first.page_height()) / size).max(1);
    let (hshrink, vshrink) = (
        factor.min(first.width()).max(1),
        factor.min(first.page_height()).max(1),
    );
    let first = if factor > 1 {
        crate::vips::Call::new("shrink")
            .arg("in", crate::vips::Arg::Image(&first))
            .arg("hshrink", crate::vips::Arg::Double(hshrink as f64))
            .arg("vshrink", crate::vips::Arg::Double(vshrink as f64))
            .run()?
            .out()?
    } else {
        first
    };
    let shrunk = crate::vips::Call::new("thumbnail_image")
        .arg("in", crate::vips::Arg::Image(&first))
        .arg("width", crate::vips::Arg::Int(size.into()))
        .arg("height", crate::vips::Arg::Int(size.into()))
        .arg("size", crate::vips::Arg::Nick("down"))
        .arg("no-rotate", crate::vips::Arg::Bool(true))
        .run()?
        .out()?;
    let mut srgb = normalize_srgb(&shrunk);
    if srgb.bands() < 3 || srgb.interpretation() != Interpretation::SRGB {
        srgb = srgb.colourspace(Interpretation::SRGB)?;
    }
    if srgb.bands() > 4 {
        srgb = srgb.extract_band(0, 4)?;
    }
    let srgb = srgb.cast(BandFormat::UCHAR)?;
    let (w, h, b) = (srgb.width(), srgb.height(), srgb.bands());
    let pixels = srgb.write_to_memory()?;
    Ok((w as u32, h as u32, b as u32, pixels))
}

/// A region in whole pixels of a `w` x `h` image: `(left, top, width,
/// height)`, rounded as imagor does, clipped to the image; `None` when
/// nothing is left.
pub(crate) fn to_pixels(r: &Region, w: i32, h: i32) -> Option<(i32, i32, i32, i32)> {
    let (wf, hf) = (w as f64, h as f64);
    let mut left = (r.left * wf).round() as i32;
    let mut top = (r.top * hf).round() as i32;
    let mut rw = (r.right * wf).round() as i32 - left;
    let mut rh = (r.bottom * hf).round() as i32 - top;
    if rw <= 0 || rh <= 0 {
        return None;
    }
    if left < 0 {
        rw += left;
        left = 0;
    }
    if top < 0 {
        rh += top;
        top = 0;
    }
    rw = rw.min(w - left);
    rh = rh.min(h - top);
    (rw > 0 && rh > 0).then_some((left, top, rw, rh))
}
