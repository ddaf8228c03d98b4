//! Raw pixels out: the processed image as packed 8-bit sRGB samples, for
//! callers that hand the result to numpy, a canvas or their own encoder.

use super::{decode_failure, normalize_flips, pipeline, Ctx, Source};
use crate::error::{Error, Result};
use crate::path::Params;
use crate::vips::{BandFormat, Interpretation};

/// Packed 8-bit pixels, row by row: `bands` samples per pixel, 3 (RGB) or
/// 4 (RGBA), sRGB. An animation's frames are stacked top to bottom, each
/// `height / pages` rows high.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// `width * height * bands` bytes.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels, all frames together.
    pub height: u32,
    /// Samples per pixel: 3 or 4.
    pub bands: u32,
    /// Frames (1 for a still image).
    pub pages: u32,
}

/// Run the pipeline as [`super::run`] does, but stop before the encoder:
/// the result's pixels, converted to 8-bit sRGB(A). Output settings
/// (`format()`, `quality()`, ...) have nothing to act on and are ignored;
/// `meta/` paths are refused.
pub(crate) fn run_to_pixels(
    ctx: &Ctx<'_>,
    source: Option<&Source>,
    params: &Params,
) -> Result<Pixels> {
    if params.meta {
        return Err(Error::invalid_msg(
            "pixels: a meta/ path answers JSON, not pixels",
        ));
    }
    let mut p = params.clone();
    normalize_flips(&mut p);
    let done = pipeline::load_and_process(ctx, source, &p)?;
    let pages = done.img.frames().max(1) as u32;
    let mut img = crate::ops::color::normalize_srgb(&done.img);
    if img.bands() < 3 || img.interpretation() != Interpretation::SRGB {
        img = img.colourspace(Interpretation::SRGB)?;
    }
    if img.bands() > 4 {
        img = img.extract_band(0, 4)?;
    }
    if img.format() != BandFormat::UCHAR {
        img = img.cast(BandFormat::UCHAR)?;
    }
    let (width, height, bands) = (img.width() as u32, img.height() as u32, img.bands() as u32);
    let bytes = u64::from(width) * u64::from(height) * u64::from(bands);
    ctx.budget.charge_memory(
        &format!("writing {width}x{height} pixels of {bands} bands"),
        bytes,
    )?;
    crate::ops::limits::check_resolution(&img, ctx.opts)?;
    let data = img
        .write_to_memory()
        .map_err(|e| decode_failure(e, ctx.opts, done.source_format))?;
    Ok(Pixels {
        data,
        width,
        height,
        bands,
        pages,
    })
}
