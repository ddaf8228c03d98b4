//! imagor's filters, parsed once into typed operations.
//!
//! [`FilterOp::parse`] turns each raw `name(args)` of a path into a typed
//! op (a 400 for malformed arguments); the pipeline reads the ops that steer
//! loading and export, and [`FilterOp::apply`] runs the image filters in URL
//! order. Each family of image filters lives in its own file.
//!
//! This module holds the specs: what each filter means, parsed, with no
//! image work. Applying them to an image is [`apply`]'s job, one file per
//! family there too; what `image()` and `watermark()` need from the
//! pipeline comes in through [`apply::Overlays`], so the filters never
//! import the processor.

pub(crate) mod apply;
pub(crate) mod args;
mod color;
mod detections;
mod effects;
mod fill;
mod markup;
mod overlay;
mod shape;
mod text;

use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::options::Options;
use crate::path::Filter;

use args::{to_i32, Args};
pub(crate) use detections::{DetectionOp, RedactMode};
pub(crate) use fill::FillColor;
pub(crate) use overlay::resolve_full_dimensions;

/// A focal region in source pixels (or 0..1 fractions until resolved).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FocalRect {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

/// One filter of a path, with its arguments read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterOp {
    // Read by the loader and the exporter; nothing to do in the filter pass.
    /// `format(name)`; unknown names are ignored, as imagor does.
    Format(Option<ImageFormat>),
    /// `fallback_format(name)`.
    FallbackFormat(Option<ImageFormat>),
    /// `quality(n)`.
    Quality(i32),
    /// `autojpg()`.
    AutoJpg,
    /// `palette()`.
    Palette,
    /// `bitdepth(n)`.
    Bitdepth(i32),
    /// `compression(n)`.
    Compression(i32),
    /// `max_bytes(n)`.
    MaxBytes(i64),
    /// `strip_metadata()`.
    StripMetadata,
    /// `lossless()`.
    Lossless,
    /// `max_frames(n)`.
    MaxFrames(i32),
    /// `stretch()`.
    Stretch,
    /// `upscale()`.
    Upscale,
    /// `no_upscale()`.
    NoUpscale,
    /// `page(n)`.
    Page(i32),
    /// `dpi(n)`.
    Dpi(i32),
    /// `orient(angle)`.
    Orient(i32),
    /// `focal(AxB:CxD)` / `focal(X,Y)`; `None` when unusable.
    Focal(Option<FocalRect>),

    // Image filters, applied in URL order.
    /// `fill(color)`: pad to the requested box.
    Fill(FillColor),
    /// `background_color(color)`: flatten alpha onto a colour.
    BackgroundColor(String),
    /// `padding(color, left[, top[, right, bottom]])`.
    Padding {
        /// Colour argument.
        color: String,
        /// Left, top, right, bottom.
        sides: [i32; 4],
    },
    /// `strip_icc()`: to sRGB, drop the profile.
    StripIcc,
    /// `strip_exif()`: drop EXIF and other metadata, keep the profile.
    StripExif,
    /// Colour filters ([`color`]).
    Color(color::ColorOp),
    /// Effects ([`effects`]).
    Effect(effects::EffectOp),
    /// Detector-driven filters ([`detections`]).
    Detection(detections::DetectionOp),
    /// Shape filters ([`shape`]).
    Shape(shape::ShapeOp),
    /// Text ([`text`]).
    Text(text::TextOp),
    /// Overlays ([`overlay`]).
    Overlay(overlay::OverlayOp),

    // `/meta` extras.
    /// `avgcolor()`.
    AvgColor(String),
    /// `blurhash(x, y)` (raw args, validated in `/meta`).
    BlurHash(String),
    /// `thumbhash()`.
    ThumbHash(String),

    /// Server-only filters (`attachment`, `expire`, `max_age`, `preview`,
    /// `raw`): parsed and passed through untouched by `process()`.
    Utility(String),
    /// A name imagor does not know: skipped, as imagor does.
    Unknown(String),
}

impl FilterOp {
    /// Read the arguments of one raw filter.
    pub(crate) fn parse(filter: &Filter) -> Result<FilterOp> {
        let name = filter.name.as_str();
        let a = Args::new(name, &filter.args);
        let int = |d: i64| a.int(0, d).map(to_i32);
        Ok(match name {
            "format" => FilterOp::Format(ImageFormat::from_name(&filter.args)),
            "fallback_format" => FilterOp::FallbackFormat(ImageFormat::from_name(&filter.args)),
            "quality" => FilterOp::Quality(in_range(&a, int(0)?, 0..=100, "0 (default) to 100")?),
            "autojpg" => FilterOp::AutoJpg,
            "palette" => FilterOp::Palette,
            "bitdepth" => {
                let depth = int(0)?;
                if ![0, 1, 2, 4, 8, 16].contains(&depth) {
                    return Err(a.error("must be 1, 2, 4, 8 or 16"));
                }
                FilterOp::Bitdepth(depth)
            }
            "compression" => FilterOp::Compression(in_range(&a, int(0)?, 0..=9, "0 to 9")?),
            "max_bytes" => FilterOp::MaxBytes(a.int(0, 0)?),
            "strip_metadata" => FilterOp::StripMetadata,
            "lossless" => FilterOp::Lossless,
            "max_frames" => FilterOp::MaxFrames(int(0)?),
            "stretch" => FilterOp::Stretch,
            "upscale" => FilterOp::Upscale,
            "no_upscale" => FilterOp::NoUpscale,
            "page" => FilterOp::Page(int(0)?),
            "dpi" => FilterOp::Dpi(int(0)?),
            "orient" => FilterOp::Orient(int(0)?),
            "focal" => FilterOp::Focal(parse_focal(&a)?),
            "fill" => FilterOp::Fill(FillColor::parse(&filter.args)),
            "background_color" => FilterOp::BackgroundColor(a.str(0).to_owned()),
            "padding" => parse_padding(&a)?,
            "strip_icc" => FilterOp::StripIcc,
            "strip_exif" => FilterOp::StripExif,
            "avgcolor" => FilterOp::AvgColor(filter.args.clone()),
            "blurhash" => FilterOp::BlurHash(filter.args.clone()),
            "thumbhash" => FilterOp::ThumbHash(filter.args.clone()),
            "attachment" | "expire" | "max_age" | "preview" | "raw" => {
                FilterOp::Utility(name.to_owned())
            }
            _ => return parse_family(name, &a),
        })
    }

    /// Filters that need the full-resolution image: they disable
    /// shrink-on-load (imagor's `thumbnailNotSupported`).
    pub(crate) fn needs_full_image(&self) -> bool {
        match self {
            FilterOp::Fill(c) => c.is_auto(),
            FilterOp::BackgroundColor(c) => c.split(',').next() == Some("auto"),
            FilterOp::Orient(n) => *n > 0,
            FilterOp::MaxBytes(n) => *n > 0,
            FilterOp::Focal(_) => true,
            _ => false,
        }
    }
}

/// One enabled filter of a path.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// Position in the path (for `max_filter_ops`).
    pub index: usize,
    /// The filter's name.
    pub name: String,
    /// The typed operation.
    pub op: FilterOp,
}

/// Names whose filters need the whole, unshrunk image (imagor's list).
const FULL_IMAGE_FILTERS: &[&str] = &["trim", "focal", "rotate", "draw_detections"];

impl Parsed {
    /// This filter disables shrink-on-load.
    pub(crate) fn needs_full_image(&self) -> bool {
        FULL_IMAGE_FILTERS.contains(&self.name.as_str()) || self.op.needs_full_image()
    }
}

/// Parse every filter of a path, in order. Disabled filters are dropped (or
/// refused with `strict_filters`); indices are kept for `max_filter_ops`.
pub(crate) fn parse_all(filters: &[Filter], opts: &Options) -> Result<Vec<Parsed>> {
    let mut out = Vec::with_capacity(filters.len());
    for (i, f) in filters.iter().enumerate() {
        if opts.is_filter_disabled(&f.name) {
            if opts.strict_filters {
                return Err(Error::invalid_msg(format!("filter {} is disabled", f.name)));
            }
            continue;
        }
        let op = FilterOp::parse(f)?;
        if opts.strict_filters {
            if let FilterOp::Unknown(name) = &op {
                return Err(Error::invalid_msg(format!("unknown filter {name}")));
            }
            if opts.max_filter_ops > 0 && i >= opts.max_filter_ops as usize {
                return Err(Error::invalid_msg(format!(
                    "more than {} filters",
                    opts.max_filter_ops
                )));
            }
        }
        out.push(Parsed {
            index: i,
            name: f.name.clone(),
            op,
        });
    }
    Ok(out)
}

/// A value libvips would ignore with a warning when out of range is a 400
/// naming the filter instead.
fn in_range(
    a: &Args<'_>,
    v: i32,
    range: std::ops::RangeInclusive<i32>,
    expected: &str,
) -> Result<i32> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(a.error(&format!("must be {expected}")))
    }
}

/// Image filters of the families, or `Unknown`.
fn parse_family(name: &str, a: &Args<'_>) -> Result<FilterOp> {
    if let Some(op) = color::parse(name, a)? {
        return Ok(FilterOp::Color(op));
    }
    if let Some(op) = effects::parse(name, a)? {
        return Ok(FilterOp::Effect(op));
    }
    if let Some(op) = detections::parse(name, a)? {
        return Ok(FilterOp::Detection(op));
    }
    if let Some(op) = shape::parse(name, a)? {
        return Ok(FilterOp::Shape(op));
    }
    if let Some(op) = text::parse(name, a)? {
        return Ok(FilterOp::Text(op));
    }
    if let Some(op) = overlay::parse(name, a)? {
        return Ok(FilterOp::Overlay(op));
    }
    Ok(FilterOp::Unknown(name.to_owned()))
}

fn parse_padding(a: &Args<'_>) -> Result<FilterOp> {
    if a.len() < 2 {
        return Ok(FilterOp::Unknown(String::new()));
    }
    let left = to_i32(a.int(1, 0)?);
    let (mut top, mut right, mut bottom) = (left, left, left);
    if a.len() > 2 {
        top = to_i32(a.int(2, 0)?);
        bottom = top;
    }
    if a.len() > 4 {
        right = to_i32(a.int(3, 0)?);
        bottom = to_i32(a.int(4, 0)?);
    }
    Ok(FilterOp::Padding {
        color: a.str(0).to_owned(),
        sides: [left, top, right, bottom],
    })
}

/// `focal(AxB:CxD)` (a region) or `focal(X,Y)` / `focal(XxY)` (a point);
/// separators `x`, `,` and `:` are interchangeable as in imagor.
fn parse_focal(a: &Args<'_>) -> Result<Option<FocalRect>> {
    let nums: Vec<&str> = a
        .raw()
        .split(['x', ',', ':'])
        .filter(|s| !s.is_empty())
        .collect();
    let num = |s: &str| args::parse_float(s, 0.0).ok_or_else(|| a.error("not a number"));
    Ok(match nums.len() {
        4 => Some(FocalRect {
            left: num(nums[0])?,
            top: num(nums[1])?,
            right: num(nums[2])?,
            bottom: num(nums[3])?,
        }),
        2 => {
            let (x, y) = (num(nums[0])?, num(nums[1])?);
            Some(FocalRect {
                left: x,
                top: y,
                right: f64::NAN,
                bottom: f64::NAN,
            })
        }
        _ => None,
    })
}
