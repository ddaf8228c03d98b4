//! Running parsed filters on an image: the single dispatch of
//! [`FilterOp::apply`], the state one pipeline level shares with its filters
//! ([`FilterCtx`]), and what overlay filters need from that pipeline
//! ([`Overlays`]).
//!
//! The specs live in the parent module and never touch libvips; this is
//! where they meet the image. The pipeline implements [`Overlays`] and hands
//! it in through [`FilterCtx`], so nothing here imports the processor.

mod color;
mod cost;
mod detections;
mod effects;
mod fill;
mod overlay;
mod shape;
mod text;

use super::FilterOp;
use crate::error::Result;
use crate::ops::keep_alive::KeepAlive;
use crate::options::Options;
use crate::vips::Image;
pub(crate) use cost::{check_output_size, cost, depth};
use fill::fill;

impl FilterOp {
    /// Run the filter on `img`. Ops that only steer loading or export
    /// return the image unchanged.
    pub(crate) fn apply(&self, img: Image, cx: &mut FilterCtx<'_>) -> Result<Image> {
        match self {
            FilterOp::Fill(color) => {
                check_auto_color(&img, &color.0, cx)?;
                fill(&img, cx, color)
            }
            FilterOp::BackgroundColor(c) => {
                check_auto_color(&img, c, cx)?;
                fill::background_color(&img, c)
            }
            FilterOp::Padding { color, sides } => fill::padding(&img, cx, color, *sides),
            FilterOp::StripIcc => fill::strip_icc(&img),
            FilterOp::StripExif => fill::strip_exif(&img),
            FilterOp::Color(op) => op.apply(&img, cx),
            FilterOp::Effect(op) => op.apply(&img, cx),
            FilterOp::Detection(op) => op.apply(&img, cx),
            FilterOp::Shape(op) => op.apply(&img, cx),
            FilterOp::Text(op) => op.apply(&img, cx),
            FilterOp::Overlay(op) => op.apply(&img, cx),
            _ => Ok(img),
        }
    }
}

/// An `auto` colour averages every pixel of the image: refuse canvases over
/// the resolution limits (422, as export would) before reading them.
pub(crate) fn check_auto_color(img: &Image, color: &str, cx: &FilterCtx<'_>) -> Result<()> {
    let first = color.split(',').next().unwrap_or("");
    if first.trim_start_matches('#').eq_ignore_ascii_case("auto") {
        crate::ops::limits::check_resolution(img, cx.opts)?;
    }
    Ok(())
}

/// What overlay filters need from the pipeline that runs them: the
/// pipeline implements this and hands it to [`FilterCtx`], so the filters
/// never import it.
pub(crate) trait Overlays {
    /// Run a nested imagor path one level deeper (`image()`), with f-tokens
    /// resolved against the parent size; the result and its chain of
    /// intermediate images.
    fn nested(
        &self,
        path: &str,
        parent_width: i32,
        parent_height: i32,
    ) -> Result<(Image, KeepAlive)>;

    /// Load a watermark image key, sized to `fit` (w, h) or only shrunk to
    /// the limits, with at most `frames` frames (the base's: the composite
    /// keeps no overlay frame past them).
    fn watermark(&self, key: &str, fit: Option<(i32, i32)>, frames: i32) -> Result<Image>;
}

/// State one level of the pipeline shares with its filters.
pub(crate) struct FilterCtx<'a> {
    /// Limits and defaults.
    pub opts: &'a Options,
    /// The call's time and memory budget.
    pub budget: &'a crate::budget::Budget,
    /// The pipeline running these filters: nested `image()` paths and
    /// watermark loading.
    pub overlays: &'a dyn Overlays,
    /// An odd number of 90° rotations happened at this level (swaps the
    /// `fill` box).
    pub rotate90: bool,
    /// The box `fill` pads to (the requested or computed size).
    pub fill_width: i32,
    /// See `fill_width`.
    pub fill_height: i32,
    /// The path's padding: left, top, right, bottom.
    pub padding: [i32; 4],
    /// Every image this level produced (see [`KeepAlive`]).
    pub keep: KeepAlive,
    /// Region detectors for `redact()` and `draw_detections()`.
    pub detectors: &'a crate::detector::Detectors,
}
