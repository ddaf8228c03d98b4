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
