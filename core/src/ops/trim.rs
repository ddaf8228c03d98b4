//! The trim search shared by the path's `trim` and the `trim()` filter.

use crate::path::TRIM_BY_BOTTOM_RIGHT;
use crate::vips::{Image, Interpretation};

/// The box outside which the image is background (imagor's `findTrim`):
/// the reference colour is the top-left (or bottom-right) pixel, alpha is
/// flattened onto magenta, animations are not trimmed.
pub(crate) fn find_trim(img: &Image, by: &str, tolerance: i64) -> Option<(i32, i32, i32, i32)> {
    if img.is_animated() {
        return None;
    }
    let mut tmp = img.copy_as(Some(Interpretation::SRGB)).ok()?;
    if tmp.has_alpha() {
        tmp = tmp.flatten(&[255.0, 0.0, 255.0]).ok()?;
    }
    let (x, y) = if by == TRIM_BY_BOTTOM_RIGHT {
        (tmp.width() - 1, tmp.page_height() - 1)
    } else {
        (0, 0)
    };
    let tolerance = if tolerance == 0 { 1 } else { tolerance };
    let background = tmp.getpoint(x, y).ok()?;
    tmp.find_trim(tolerance as f64, &background).ok()
}
