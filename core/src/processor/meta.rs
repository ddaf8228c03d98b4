//! imagor's `/meta` JSON: format, size, pages, bands, orientation, EXIF,
//! the regions detectors found, and the optional `avgcolor`, `blurhash`
//! and `thumbhash` extras.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::filters::{FilterOp, Parsed};
use crate::format::ImageFormat;
use crate::ops::color::{average_rgb, normalize_srgb};
use crate::vips::{BandFormat, Image, Interesting, Size};

/// The `/meta` answer, with imagor's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// `jpeg`, `png`, `gif`, ... (empty when unknown).
    pub format: String,
    /// MIME type of `format`.
    pub content_type: String,
    /// Width in pixels.
    pub width: i32,
    /// Height of one page (frame) in pixels.
    pub height: i32,
    /// EXIF orientation, 0 when absent.
    pub orientation: i32,
    /// Frames (GIF/WebP) or pages (PDF); 1 otherwise.
    pub pages: i32,
    /// Number of bands.
    pub bands: i32,
    /// EXIF tags as `name: value` (short form).
    pub exif: BTreeMap<String, String>,
    /// Regions the detectors found in the output image, in its pixels;
    /// only when the path asks for detection (`smart`, `draw_detections()`
    /// or `redact()`) and a detector is configured.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub detected_regions: Vec<MetaRegion>,
    /// Blurhash, with `blurhash(x,y)`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub blurhash: Option<String>,
    /// Base64 ThumbHash, with `thumbhash()`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub thumbhash: Option<String>,
    /// Average colour, with `avgcolor()`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub average_color: Option<AvgColor>,
    /// sharp-style details of the input (alpha, space, density, ICC,
    /// progressive, delays, loop, size): filled by the library's `meta()`,
    /// never part of imagor's `/meta` JSON. Flattened into the same object.
    #[serde(flatten, skip_serializing_if = "Option::is_none", default)]
    pub details: Option<super::details::MetaDetails>,
}

/// A detected region of `/meta`, in pixels of the output image (imagor's
/// `MetaRegion`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaRegion {
    /// Left edge.
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Right edge.
    pub right: i32,
    /// Bottom edge.
    pub bottom: i32,
    /// Detection confidence, when the detector gave one.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub score: f64,
    /// Class name, when the detector gave one.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Does the path ask for detection (imagor: `smart`, or a filter named
/// `draw_detections` or `redact`, disabled or not; not `redact_oval`)?
pub(crate) fn wants_detection(p: &crate::path::Params) -> bool {
    p.smart
        || p.filters
            .iter()
            .any(|f| f.name == "draw_detections" || f.name == "redact")
}

/// An RGB colour of `/meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgColor {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

/// Build the metadata of the processed image; `format` is the export
/// format as far as the filters chose it (or the source's).
pub(crate) fn metadata(
    img: &Image,
    format: Option<ImageFormat>,
    ops: &[Parsed],
    regions: &[crate::detector::Region],
) -> Result<Meta> {
    let pages = match format {
        Some(f) if f.supports_animation() => img.frames(),
        Some(ImageFormat::Pdf) => img.n_pages(),
        _ => 1,
    };
    let strip_exif = ops.iter().any(|f| f.op == FilterOp::StripExif);
    let exif = if strip_exif {
        BTreeMap::new()
    } else {
        short_exif(img)
    };
    // The extras read the pixels; an image streamed from a sequential load
    // can be read only once, so several extras share one rendered copy.
    let extras = ops
        .iter()
        .filter(|f| {
            matches!(
                f.op,
                FilterOp::AvgColor(_) | FilterOp::BlurHash(_) | FilterOp::ThumbHash(_)
            )
        })
        .count();
    let rendered;
    let img = if extras > 1 {
        rendered = img.copy_memory()?;
        &rendered
    } else {
        img
    };
    let mut meta = Meta {
        // imagor reports a source without a format (`color:`) as "unknown".
        format: format.map_or_else(|| "unknown".to_owned(), |f| f.meta_name().to_owned()),
        content_type: format
            .map(|f| f.content_type().to_owned())
            .unwrap_or_default(),
        width: img.width(),
        height: img.page_height(),
        orientation: img.orientation(),
        pages,
        bands: img.bands(),
        exif,
        detected_regions: regions
            .iter()
            .map(|r| {
                let (w, h) = (img.width() as f64, img.page_height() as f64);
                MetaRegion {
                    left: (r.left * w).round() as i32,
                    top: (r.top * h).round() as i32,
                    right: (r.right * w).round() as i32,
                    bottom: (r.bottom * h).round() as i32,
                    score: r.score,
                    name: r.name.clone(),
                }
            })
            .collect(),
        blurhash: None,
        thumbhash: None,
        average_color: None,
        details: None,
    };
    for f in ops {
        match &f.op {
            FilterOp::AvgColor(args) => {
                if !args.is_empty() {
                    return Err(Error::invalid_msg("avgcolor takes no arguments"));
                }
                let [r, g, b] = average_rgb(img)?;
                meta.average_color = Some(AvgColor {
                    r: r as u8,
                    g: g as u8,
                    b: b as u8,
                });
            }
            FilterOp::BlurHash(args) => {
                let parts = crate::path::split_args(args);
                if parts.len() != 2 {
                    return Err(Error::invalid_msg(
                        "blurhash requires exactly x and y components",
                    ));
                }
                let comp = |s: &str| s.parse::<u32>().ok().filter(|v| (1..=9).contains(v));
                let (Some(x), Some(y)) = (comp(&parts[0]), comp(&parts[1])) else {
                    return Err(Error::invalid_msg(
                        "blurhash x and y components must be between 1 and 9",
                    ));
                };
                meta.blurhash = Some(blurhash(img, x, y)?);
            }
            FilterOp::ThumbHash(args) => {
                if !args.is_empty() {
                    return Err(Error::invalid_msg("thumbhash takes no arguments"));
                }
                meta.thumbhash = Some(thumbhash(img)?);
            }
            _ => {}
        }
    }
    Ok(meta)
}

/// `exif-ifd0-Orientation` → `Orientation`, value cut before ` (`.
fn short_exif(img: &Image) -> BTreeMap<String, String> {
    img.exif_fields()
        .into_iter()
        .filter(|(tag, _)| tag.len() >= 10)
        .filter_map(|(tag, value)| {
            let name = tag.get(10..)?.to_owned();
            let short = value
                .find(" (")
                .map_or(value.as_str(), |i| &value[..i])
                .trim()
                .to_owned();
            (!short.is_empty()).then_some((name, short))
        })
        .collect()
}

/// sRGB 8-bit pixels of a small copy of the first frame, at most `size`
/// pixels on each side: `(w, h, bands, bytes)`.
fn small_rgb(img: &Image, size: i32, flatten: bool) -> Result<(usize, usize, usize, Vec<u8>)> {
    let first = if img.is_animated() {
        img.extract_area(0, 0, img.width(), img.page_height())?
    } else {
        img.clone()
    };
    let mut thumb = normalize_srgb(&first);
    if flatten && thumb.has_alpha() {
        thumb = thumb.flatten(&[0.0, 0.0, 0.0])?;
    }
    let thumb = thumb
        .thumbnail_image(size, size, Size::Down, Interesting::None)?
        .cast(BandFormat::UCHAR)?;
    let (w, h, bands) = (
        thumb.width() as usize,
        thumb.height() as usize,
        thumb.bands() as usize,
    );
    Ok((w, h, bands, thumb.write_to_memory()?))
}

/// Expand packed pixels to RGBA (opaque when there is no alpha band).
fn to_rgba(bands: usize, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / bands.max(1) * 4);
    for px in raw.chunks_exact(bands.max(1)) {
        match bands {
            1 => out.extend_from_slice(&[px[0], px[0], px[0], 255]),
            2 => out.extend_from_slice(&[px[0], px[0], px[0], px[1]]),
            3 => out.extend_from_slice(&[px[0], px[1], px[2], 255]),
            _ => out.extend_from_slice(&px[..4]),
        }
    }
    out
}

fn blurhash(img: &Image, x: u32, y: u32) -> Result<String> {
    let (w, h, bands, raw) = small_rgb(img, 64, true)?;
    let mut rgba = to_rgba(bands, &raw);
    for px in rgba.chunks_exact_mut(4) {
        px[3] = 255;
    }
    blurhash::encode(x, y, w as u32, h as u32, &rgba)
        .map_err(|e| Error::Internal(format!("blurhash: {e}")))
}

fn thumbhash(img: &Image) -> Result<String> {
    let (w, h, bands, raw) = small_rgb(img, 100, false)?;
    let rgba = to_rgba(bands, &raw);
    let hash = thumbhash::rgba_to_thumb_hash(w, h, &rgba);
    Ok(base64::engine::general_purpose::STANDARD.encode(hash))
}
