//! BMP input. libvips has no BMP loader of its own (it would hand BMP to
//! ImageMagick, which we do not trust with untrusted bytes), so BMP is
//! decoded in Rust by the `image` crate, as imagor's fallback decodes it in
//! Go: to RGBA, after checking the header against the limits.

use std::io::Cursor;

use image::codecs::bmp::BmpDecoder;
use image::{DynamicImage, ImageDecoder};

use super::load::Loader;
use crate::error::{Error, Result};
use crate::vips::{BandFormat, Image, Interpretation};

/// Decode a BMP into a 4-band sRGB image.
pub(crate) fn decode(data: &[u8], loader: &Loader<'_>) -> Result<Image> {
    let opts = loader.opts;
    // imagor's estimateMaxBMPFileSize: a file larger than the biggest
    // allowed 32-bit bitmap is refused before parsing.
    if !opts.unlimited {
        let max = (54.0 + opts.max_resolution as f64 * 4.0) * 1.2;
        if data.len() as f64 > max {
            return Err(Error::MaxResolutionExceeded);
        }
    }
    let decoder = BmpDecoder::new(Cursor::new(data)).map_err(|_| Error::unsupported())?;
    let (w, h) = decoder.dimensions();
    if !opts.unlimited
        && (w as i64 > opts.max_width as i64
            || h as i64 > opts.max_height as i64
            || w as i64 * h as i64 > opts.max_resolution)
    {
        return Err(Error::MaxResolutionExceeded);
    }
    let what = format!("decoding the bmp image ({w}x{h})");
    let bytes = w as u64 * h as u64 * 4;
    loader.budget.charge_memory(&what, bytes)?;
    loader.budget.charge_time(
        &what,
        crate::budget::Cost::per_pixel((w as u64 * h as u64) as f64, 3.0),
    )?;
    let rgba = DynamicImage::from_decoder(decoder)
        .map_err(|_| Error::unsupported())?
        .into_rgba8();
    let (w, h) = (rgba.width() as i32, rgba.height() as i32);
    Image::from_memory(rgba.as_raw(), w, h, 4, BandFormat::UCHAR)?
        .copy_as(Some(Interpretation::SRGB))
}
