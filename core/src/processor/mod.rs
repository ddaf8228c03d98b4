//! Processing: bytes + imagor path → image bytes (or `/meta` JSON).
//!
//! `pipeline` holds the ordered stages; `source` the input; `load`,
//! `geometry`, `export` and `meta` the work of each. The filters
//! (`crate::filters`) are read and run from here, never the other way
//! round: `image()` and `watermark()` reach back through the `Overlays`
//! trait that `Ctx` implements, and the image helpers both sides use live
//! in `crate::ops`.

#[cfg_attr(not(feature = "own-av1"), allow(dead_code))]
mod avif_items;
#[cfg(feature = "own-av1")]
mod avif_planes;
#[cfg(feature = "own-av1")]
mod avif_turns;
mod bmp;
mod decode;
mod decode_cost;
pub mod details;
mod export;
mod fixed_crop;
pub(crate) mod geometry;
mod gif_frames;
mod jpeg_markers;
pub(crate) mod load;
pub mod meta;
pub(crate) mod pipeline;
mod pixels;
mod png_chunks;
mod png_pixels;
mod quantise_probe;
mod save_cost;
mod source;
#[cfg(feature = "own-av1")]
mod still_avif;
#[cfg(feature = "own-jpeg")]
mod still_jpeg;
mod still_png;
mod still_webp;
#[cfg(test)]
mod test_images;
mod truncation;
#[cfg_attr(not(feature = "own-av1"), allow(dead_code))]
pub(crate) mod yuv;
#[cfg_attr(not(feature = "own-av1"), allow(dead_code))]
mod yuv_matrix;

use crate::error::Result;
use crate::format::ImageFormat;
use crate::options::Options;
use crate::path::Params;

pub use details::MetaDetails;
pub use load_fn::LoadFn;
pub use meta::{AvgColor, Meta, MetaRegion};
pub(crate) use pixels::run_to_pixels;
pub use pixels::Pixels;

pub(crate) use decode::loader_of as loader_name;
pub(crate) use export::saver_of as saver_name;
pub(crate) use source::Source;

mod load_fn {
    use crate::error::Result;

    /// Fetch the bytes of an image key (`gopher.png`): the hook overlays
    /// (`image()`, `watermark()`) and [`crate::Imagor::serve`] load through.
    pub type LoadFn<'a> = dyn Fn(&str) -> Result<Vec<u8>> + Send + Sync + 'a;
}

/// For the `avif_still` fuzz target only: our own decode of a plain still
/// AVIF (`Some((width, height, bands, pixel bytes))`), or `None` where the
/// file would go to libvips. Files over `max_pixels` are refused before
/// decoding, as the resolution guard refuses them in `process`.
#[cfg(all(feature = "fuzzing", feature = "own-av1"))]
#[doc(hidden)]
pub fn fuzz_still_avif(data: &[u8], max_pixels: u64) -> Option<(i32, i32, i32, usize)> {
    let still = avif_items::plain_still(data)?;
    if u64::from(still.width) * u64::from(still.height) > max_pixels {
        return None;
    }
    let rgb = still_avif::decode(data)?;
    Some((rgb.width, rgb.height, rgb.bands, rgb.pixels.len()))
}

/// The result of processing: encoded bytes and their content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The encoded image, or the `/meta` JSON.
    pub data: Vec<u8>,
    /// `image/webp`, `application/json`, ...
    pub content_type: String,
    /// The image format written; `None` for `/meta` JSON.
    pub format: Option<ImageFormat>,
}

/// What one pipeline run may use: options, a loader for overlays, and how
/// deep in nested `image()` overlays it is.
pub(crate) struct Ctx<'a> {
    /// Limits and defaults.
    pub opts: &'a Options,
    /// The call's time and memory budget.
    pub budget: &'a crate::budget::Budget,
    /// Loader for overlay sources; `None` means overlays answer 404.
    pub load: Option<&'a LoadFn<'a>>,
    /// Nesting depth of `image()` overlays (0 at the top).
    pub depth: u32,
    /// Region detectors (none: `smart` is attention, the detection filters
    /// do nothing).
    pub detectors: &'a crate::detector::Detectors,
}

/// imagor's request normalisation: a negative width or height means a flip.
pub(crate) fn normalize_flips(p: &mut Params) {
    if p.width < 0 {
        p.width = p.width.saturating_neg();
        p.h_flip = !p.h_flip;
    }
    if p.height < 0 {
        p.height = p.height.saturating_neg();
        p.v_flip = !p.v_flip;
    }
}

/// Process `source` (or a `color:` image) with `params`.
pub(crate) fn run(ctx: &Ctx<'_>, source: Option<&Source>, params: &Params) -> Result<Output> {
    let mut p = params.clone();
    normalize_flips(&mut p);
    let done = pipeline::load_and_process(ctx, source, &p)?;
    let mut export_params = export::ExportParams::new(&done.ops, ctx.opts, done.source_format);
    export_params.apply_animation_fallback(&done.img);
    if p.meta {
        let m = if meta::wants_detection(&p) && !ctx.detectors.is_empty() {
            // The probe reads the image, and so may the extras: hold it.
            let img = done.img.copy_memory()?;
            let regions = crate::detector::run::detect(
                ctx.detectors,
                &img,
                &p.image,
                ctx.opts.detector_probe_size,
                ctx.budget,
            )?;
            meta::metadata(&img, export_params.format, &done.ops, &regions)?
        } else {
            meta::metadata(&done.img, export_params.format, &done.ops, &[])?
        };
        let data = serde_json::to_vec(&m).map_err(|e| crate::Error::Internal(e.to_string()))?;
        return Ok(Output {
            data,
            content_type: "application/json".to_owned(),
            format: None,
        });
    }
    let (data, format) = export::export(&done.img, &export_params, ctx.opts, ctx.budget)
        .map_err(|e| decode_failure(e, ctx.opts, done.source_format))?;
    Ok(Output {
        data,
        content_type: format.content_type().to_owned(),
        format: Some(format),
    })
}

/// Pixels decode lazily, so with a strict `fail_on` a damaged source fails
/// while the result is written: say so, as a load failure would.
fn decode_failure(
    e: crate::Error,
    opts: &crate::Options,
    source: Option<crate::format::ImageFormat>,
) -> crate::Error {
    match (e, source) {
        (crate::Error::Processing(msg), Some(format)) if opts.fail_on != "none" => {
            crate::Error::UnsupportedFormat(format!(
                "unsupported format: the {} image could not be decoded (corrupt or truncated; \
                 fail_on={}): {msg}",
                format.name(),
                opts.fail_on
            ))
        }
        (e, _) => e,
    }
}
