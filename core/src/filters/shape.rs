//! Shape filters: rotate, round_corner, crop, trim, proportion. They are
//! applied in `apply/shape.rs`.

use super::args::{to_i32, Args};
use crate::error::Result;

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ShapeOp {
    /// The filter's arguments were missing or unusable: imagor does nothing.
    Nothing,
    /// `rotate(degrees)`: 90, 180 or 270 counter-clockwise, every frame;
    /// other angles do nothing.
    Rotate(i32),
    /// `round_corner(rx[, ry[, color]])`: clip the corners with an SVG
    /// rounded rectangle (every frame); with a colour the result is
    /// flattened onto it. A negative radius draws square corners.
    RoundCorner {
        /// Horizontal radius.
        rx: i64,
        /// Vertical radius.
        ry: i64,
        /// Background to flatten onto (only with three arguments).
        color: Option<String>,
    },
    /// `crop(left, top, width, height)`: pixels, or 0..1 fractions of the
    /// current size; clamped to the image, every frame.
    Crop([f64; 4]),
    /// `trim([tolerance[, top-left|bottom-right]])`: cut the border of the
    /// reference corner's colour (not on animations).
    Trim {
        /// Colour distance still counted as background (0 means 1).
        tolerance: i64,
        /// Which corner gives the background colour.
        by: String,
    },
    /// `proportion(p)`: scale by `p` (a fraction up to 1, else a percentage
    /// up to 100).
    Proportion(f64),
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<ShapeOp>> {
    let op = match name {
        "rotate" | "round_corner" | "proportion" if a.is_empty() => ShapeOp::Nothing,
        "rotate" => ShapeOp::Rotate(to_i32(a.int(0, 0)?)),
        "round_corner" => parse_round_corner(a)?,
        "crop" if a.len() < 4 => ShapeOp::Nothing,
        "crop" => ShapeOp::Crop([
            a.float(0, 0.0)?,
            a.float(1, 0.0)?,
            a.float(2, 0.0)?,
            a.float(3, 0.0)?,
        ]),
        "trim" => ShapeOp::Trim {
            tolerance: a.int(0, 0)?,
            by: a.str(1).to_owned(),
        },
        "proportion" => ShapeOp::Proportion(a.float(0, 0.0)?),
        _ => return Ok(None),
    };
    Ok(Some(op))
}

/// imagor's `roundCorner` arguments: the first is query-unescaped; a colour
/// is read only when there are exactly three.
fn parse_round_corner(a: &Args<'_>) -> Result<ShapeOp> {
    let first = crate::path::query_unescape(a.str(0)).unwrap_or_else(|| a.str(0).to_owned());
    let rx = super::args::parse_int(&first, 0).ok_or_else(|| a.error("radius is not a number"))?;
    let ry = if a.len() > 1 { a.int(1, 0)? } else { rx };
    let color = (a.len() == 3).then(|| a.str(2).to_owned());
    Ok(ShapeOp::RoundCorner { rx, ry, color })
}
