//! Intrinsic size with libvips 8.14 svgload / librsvg 2.54 semantics (72 dpi).

use resvg::usvg;
use svgtypes::{Length, LengthUnit};

use super::{SvgError, SvgLimits};

/// libvips renders at 72 dpi by default (`svgload` `dpi` option).
pub(crate) const DPI: f64 = 72.0;
/// librsvg's initial font-size, used for `em`/`ex` unless the root sets one.
const DEFAULT_FONT_SIZE: f64 = 12.0;

/// How the intrinsic size is obtained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Intrinsic {
    /// Known from attributes alone (width/height, possibly with the viewBox).
    Fixed(f64, f64),
    /// Relative width/height and no usable viewBox: librsvg/libvips fall back to the ink
    /// bounding box of the content (width and height of it, origin not included).
    FromBBox,
}

/// Computes the intrinsic size from the root element like
/// `rsvg_handle_get_intrinsic_size_in_pixels` + libvips' fallbacks.
pub(crate) fn intrinsic(doc: &roxmltree::Document) -> Result<Intrinsic, SvgError> {
    let root = doc.root_element();
    if root.tag_name().name() != "svg" {
        return Err(SvgError::Parse("root element is not <svg>".into()));
    }
    let font_size = root
        .attribute("font-size")
        .and_then(|v| v.parse::<Length>().ok())
        .and_then(|l| abs_px(l, DEFAULT_FONT_SIZE))
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(DEFAULT_FONT_SIZE);
    let width = length_attr(root, "width")?;
    let height = length_attr(root, "height")?;
    let vbox = root.attribute("viewBox").and_then(parse_viewbox);

    let w = width.and_then(|l| abs_px(l, font_size));
    let h = height.and_then(|l| abs_px(l, font_size));
    Ok(match (w, h, vbox) {
        (Some(w), Some(h), _) => Intrinsic::Fixed(w, h),
        (None, None, Some((vw, vh))) => Intrinsic::Fixed(vw, vh),
        (Some(w), None, Some((vw, vh))) => Intrinsic::Fixed(w, w * vh / vw),
        (None, Some(h), Some((vw, vh))) => Intrinsic::Fixed(h * vw / vh, h),
        _ => Intrinsic::FromBBox,
    })
}

/// Parses a `width`/`height` attribute. Missing → `None` (means 100%). Unparsable, NaN,
/// zero or negative → `SvgError::Parse` (libvips would silently fall back; we refuse).
fn length_attr(node: roxmltree::Node, name: &str) -> Result<Option<Length>, SvgError> {
    let Some(value) = node.attribute(name) else {
        return Ok(None);
    };
    let len: Length = value
        .trim()
        .parse()
        .map_err(|_| SvgError::Parse(format!("invalid {name}=\"{value}\"")))?;
    if !(len.number.is_finite() && len.number > 0.0) {
        return Err(SvgError::Parse(format!("{name}=\"{value}\" must be > 0")));
    }
    Ok(Some(len))
}

/// Converts an absolute length to pixels at 72 dpi; `None` for percentages.
fn abs_px(len: Length, font_size: f64) -> Option<f64> {
    let n = len.number;
    Some(match len.unit {
        LengthUnit::None | LengthUnit::Px => n,
        LengthUnit::In => n * DPI,
        LengthUnit::Cm => n * DPI / 2.54,
        LengthUnit::Mm => n * DPI / 25.4,
        LengthUnit::Pt => n * DPI / 72.0,
        LengthUnit::Pc => n * DPI / 6.0,
        LengthUnit::Em => n * font_size,
        LengthUnit::Ex => n * font_size / 2.0,
        LengthUnit::Percent => return None,
    })
}

/// A viewBox is usable only with finite, positive width and height (librsvg ignores others).
fn parse_viewbox(value: &str) -> Option<(f64, f64)> {
    let nums: Vec<f64> = value
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    match nums.as_slice() {
        [x, y, w, h] if [x, y, w, h].iter().all(|v| v.is_finite()) && *w > 0.0 && *h > 0.0 => {
            Some((*w, *h))
        }
        _ => None,
    }
}

/// Ink (stroke-inclusive) bounding-box size of the whole tree in user units, the libvips
/// fallback when neither absolute sizes nor a viewBox are present.
pub(crate) fn ink_bbox_size(tree: &usvg::Tree) -> Result<(f64, f64), SvgError> {
    let bbox = tree.root().abs_stroke_bounding_box();
    let (w, h) = (bbox.width() as f64, bbox.height() as f64);
    if w > 0.0 && h > 0.0 {
        Ok((w, h))
    } else {
        Err(SvgError::Parse(
            "SVG has no size: no width/height, viewBox or content".into(),
        ))
    }
}

/// libvips refuses natural sizes ≤ 0.5 px ("bad dimensions"); we also refuse non-finite ones.
pub(crate) fn validate(w: f64, h: f64) -> Result<(f64, f64), SvgError> {
    if !(w.is_finite() && h.is_finite()) {
        return Err(SvgError::Parse("SVG size is not finite".into()));
    }
    if w <= 0.5 || h <= 0.5 {
        return Err(SvgError::Parse(format!("bad dimensions {w}x{h}")));
    }
    Ok((w, h))
}

/// Same as [`validate`] for a pair.
pub(crate) fn validate_pair((w, h): (f64, f64)) -> Result<(f64, f64), SvgError> {
    validate(w, h)
}

/// Output pixel size (libvips `VIPS_ROUND_UINT`, at least 1) checked against the limits.
pub(crate) fn output_size(w: f64, h: f64, limits: &SvgLimits) -> Result<(u32, u32), SvgError> {
    let ow = (w + 0.5).floor().max(1.0);
    let oh = (h + 0.5).floor().max(1.0);
    if ow.is_nan() || ow > limits.max_width as f64 {
        return Err(SvgError::TooLarge {
            what: format!("rendered width {ow} (max_width)"),
            limit: limits.max_width as u64,
        });
    }
    if oh.is_nan() || oh > limits.max_height as f64 {
        return Err(SvgError::TooLarge {
            what: format!("rendered height {oh} (max_height)"),
            limit: limits.max_height as u64,
        });
    }
    if ow * oh > limits.max_pixels as f64 {
        return Err(SvgError::TooLarge {
            what: format!("rendered pixels {} (max_pixels)", ow * oh),
            limit: limits.max_pixels,
        });
    }
    Ok((ow as u32, oh as u32))
}
