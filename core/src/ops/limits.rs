//! The resolution limits of [`Options`], checked before work that reads or
//! renders every pixel (loading, `trim`, `auto` colours, memory cuts).

use crate::error::{Error, Result};
use crate::options::Options;
use crate::vips::Image;

/// Refuse images over the size limits (imagor's `CheckResolution`;
/// the pixel count covers every loaded frame).
pub(crate) fn check_resolution(img: &Image, opts: &Options) -> Result<()> {
    if !opts.unlimited
        && (img.width() > opts.max_width
            || img.page_height() > opts.max_height
            || img.width() as i64 * img.height() as i64 > opts.max_resolution)
    {
        return Err(Error::MaxResolutionExceeded);
    }
    Ok(())
}

/// Bytes the pixels of `img` take in memory (all frames).
pub(crate) fn image_bytes(img: &Image) -> u64 {
    let bytes_per_band: u64 = match img.format() {
        crate::vips::BandFormat::UCHAR | crate::vips::BandFormat::CHAR => 1,
        crate::vips::BandFormat::USHORT | crate::vips::BandFormat::SHORT => 2,
        crate::vips::BandFormat::DOUBLE => 8,
        _ => 4,
    };
    img.width().max(0) as u64
        * img.height().max(0) as u64
        * img.bands().max(0) as u64
        * bytes_per_band
}

/// libvips' `thumbnail` renders its resized result into memory when it
/// crops (or auto-rotates): charge that copy of a `width` x `height` result
/// with the bands of `img` to the call's budget.
pub(crate) fn charge_thumbnail_copy(
    img: &Image,
    width: i32,
    height: i32,
    crop: crate::vips::Interesting,
) -> Result<()> {
    if crop == crate::vips::Interesting::None && img.orientation() <= 1 {
        return Ok(());
    }
    let frames = img.frames().max(1) as u64;
    let bytes = width.max(1) as u64 * height.max(1) as u64 * frames * img.bands().max(1) as u64;
    crate::budget::current().charge_memory("cropping the resized image in memory", bytes)
}
