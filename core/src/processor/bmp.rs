//! BMP input. libvips has no BMP loader of its own (it would hand BMP to
//! ImageMagick, which we do not trust with untrusted bytes), and imagor's
//! fallback decodes BMP in Go with `golang.org/x/image/bmp`. This decodes
//! the same files the same way, and refuses what that decoder refuses:
//!
//! - headers: BITMAPINFOHEADER, V4 and V5 (40, 108, 124 bytes), one plane,
//!   no compression (BI_BITFIELDS only with the default masks);
//! - 1, 2, 4 and 8 bits per pixel through a palette, 24 and 32 bits;
//! - 32-bit alpha only with a V4 or V5 header, opaque otherwise;
//! - pixel data exactly after the header and palette, every row present,
//!   palette indices within the palette, at most 2^30 pixels.
//!
//! The pixels reach libvips as imagor hands them over: RGBA from Go's
//! `draw.Draw` onto an `image.RGBA`, so a 32-bit image's colours are
//! premultiplied by its alpha (and then read as straight alpha).
//!
//! A crate would decode more (RLE, 16-bit, OS/2): `image` did, at a minute
//! of CPU per release build, and zune-bmp 0.5 decoded 1- and 4-bit palettes
//! and 16-bit images wrongly. The subset here is what imagor serves.

use super::load::Loader;
use crate::error::{Error, Result};
use crate::vips::{BandFormat, Image, Interpretation};

/// The file header and the part of the info header before it ends.
const FILE_HEADER: usize = 14;
/// Go's decoder refuses images of more pixels than this, whatever the
/// limits (which also bounds the buffers when the limits are off).
const MAX_PIXELS: u64 = 1 << 30;

/// What the headers say about the pixels.
struct Header {
    width: usize,
    height: usize,
    top_down: bool,
    bits: u16,
    /// RGB entries, for 1 to 8 bits per pixel.
    palette: Vec<[u8; 3]>,
    /// 32 bits per pixel: the fourth byte is alpha (else padding).
    alpha: bool,
    /// Where the pixel rows start.
    offset: usize,
}

fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([data[at], data[at + 1]])
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// Parse the headers and palette, as `bmp.DecodeConfig`.
fn header(data: &[u8]) -> Result<Header> {
    if data.len() < FILE_HEADER + 4 || &data[..2] != b"BM" {
        return Err(Error::unsupported());
    }
    let offset = u32_at(data, 10) as usize;
    let info_len = u32_at(data, 14) as usize;
    if !matches!(info_len, 40 | 108 | 124) || data.len() < FILE_HEADER + info_len {
        return Err(Error::unsupported());
    }
    let width = i64::from(u32_at(data, 18) as i32);
    let mut height = i64::from(u32_at(data, 22) as i32);
    let top_down = height < 0;
    height = height.abs();
    if width < 0 || width as u64 * height as u64 > MAX_PIXELS {
        return Err(Error::unsupported());
    }
    let (planes, bits) = (u16_at(data, 26), u16_at(data, 28));
    let mut compression = u32_at(data, 30);
    // BI_BITFIELDS with the masks BI_RGB implies is BI_RGB.
    let default_masks = [0xff0000, 0xff00, 0xff, 0xff000000];
    if compression == 3
        && info_len > 40
        && (0..4).all(|i| u32_at(data, 54 + 4 * i) == default_masks[i])
    {
        compression = 0;
    }
    if planes != 1 || compression != 0 {
        return Err(Error::unsupported());
    }
    let rows_at = FILE_HEADER + info_len;
    let mut palette = Vec::new();
    match bits {
        1 | 2 | 4 | 8 => {
            let max = 1usize << bits;
            let colours = match u32_at(data, 46) as usize {
                0 => max,
                n if n > max => return Err(Error::unsupported()),
                n => n,
            };
            let table = data
                .get(rows_at..rows_at + colours * 4)
                .filter(|_| offset == rows_at + colours * 4)
                .ok_or_else(Error::unsupported)?;
            // Stored as BGRX.
            palette = table.chunks_exact(4).map(|c| [c[2], c[1], c[0]]).collect();
        }
        24 | 32 if offset == rows_at => {}
        _ => return Err(Error::unsupported()),
    }
    Ok(Header {
        width: width as usize,
        height: height as usize,
        top_down,
        bits,
        palette,
        alpha: bits == 32 && info_len > 40,
        offset,
    })
}

impl Header {
    /// Bytes per stored row: whole bytes, padded to four.
    fn stride(&self) -> usize {
        (self.width * self.bits as usize)
            .div_ceil(8)
            .next_multiple_of(4)
    }

    /// One stored row into RGBA.
    fn row(&self, stored: &[u8], out: &mut [u8]) -> Result<()> {
        match self.bits {
            24 => {
                for (o, s) in out.chunks_exact_mut(4).zip(stored.chunks_exact(3)) {
                    o.copy_from_slice(&[s[2], s[1], s[0], 255]);
                }
            }
            32 => {
                for (o, s) in out.chunks_exact_mut(4).zip(stored.chunks_exact(4)) {
                    let a = if self.alpha { s[3] } else { 255 };
                    o.copy_from_slice(&[
                        premultiply(s[2], a),
                        premultiply(s[1], a),
                        premultiply(s[0], a),
                        a,
                    ]);
                }
            }
            bits => {
                let per_byte = 8 / bits as usize;
                let mask = u8::MAX >> (8 - bits);
                for (x, o) in out.chunks_exact_mut(4).enumerate() {
                    let shift = 8 - bits as usize * (x % per_byte + 1);
                    let index = (stored[x / per_byte] >> shift) & mask;
                    let [r, g, b] = *self
                        .palette
                        .get(index as usize)
                        .ok_or_else(Error::unsupported)?;
                    o.copy_from_slice(&[r, g, b, 255]);
                }
            }
        }
        Ok(())
    }
}

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
    let h = header(data)?;
    let (w64, h64) = (h.width as u64, h.height as u64);
    if !opts.unlimited
        && (w64 > opts.max_width.max(0) as u64
            || h64 > opts.max_height.max(0) as u64
            || w64 * h64 > opts.max_resolution.max(0) as u64)
    {
        return Err(Error::MaxResolutionExceeded);
    }
    // Every row must be there (Go's decoder fails on a short read).
    let stride = h.stride();
    let rows = data
        .get(h.offset..)
        .and_then(|r| r.get(..stride * h.height))
        .ok_or_else(Error::unsupported)?;
    let what = format!("decoding the bmp image ({}x{})", h.width, h.height);
    // The RGBA pixels and libvips' copy of them.
    loader.budget.charge_memory(&what, w64 * h64 * 8)?;
    loader.budget.charge_time(
        &what,
        crate::budget::Cost::per_pixel((w64 * h64) as f64, 3.0),
    )?;
    let mut rgba = vec![0u8; h.width * h.height * 4];
    if h.width > 0 {
        for (y, stored) in rows.chunks_exact(stride).enumerate() {
            let out_y = if h.top_down { y } else { h.height - 1 - y };
            let out = &mut rgba[out_y * h.width * 4..][..h.width * 4];
            h.row(stored, out)?;
        }
    }
    Image::from_memory(&rgba, h.width as i32, h.height as i32, 4, BandFormat::UCHAR)?
        .copy_as(Some(Interpretation::SRGB))
}

/// A straight-alpha channel value as Go's `draw.Draw` stores it in an
/// `image.RGBA`: premultiplied, in 16-bit arithmetic.
fn premultiply(c: u8, a: u8) -> u8 {
    ((u32::from(c) * 0x101 * u32::from(a) / 0xff) >> 8) as u8
}
