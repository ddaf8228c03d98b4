//! Export: the output format and its settings from the filters, ICC and
//! metadata stripping, and the `max_bytes` quality search.

use super::save_cost::admit_save;
use crate::budget::Budget;
use crate::error::Result;
use crate::filters::{FilterOp, Parsed};
use crate::format::ImageFormat;
use crate::ops::color::normalize_srgb;
use crate::options::Options;
use crate::vips::{Arg, BandFormat, Call, Image, Interpretation, MemoryTarget};

/// Everything export needs, read from the filters (imagor's `exportParams`).
#[derive(Debug, Clone)]
pub(crate) struct ExportParams {
    /// Output format; `None` until a default is chosen.
    pub format: Option<ImageFormat>,
    fallback: Option<ImageFormat>,
    quality: i32,
    compression: i32,
    pub(super) bitdepth: i32,
    palette: bool,
    /// Convert to sRGB and drop the profile before saving.
    pub strip_color_profile: bool,
    /// Save without metadata.
    pub strip_metadata: bool,
    pub(super) lossless: bool,
    max_bytes: i64,
}

impl ExportParams {
    /// Read the export filters; the default format is the source's.
    pub(crate) fn new(ops: &[Parsed], opts: &Options, source: Option<ImageFormat>) -> Self {
        let mut e = ExportParams {
            format: None,
            fallback: None,
            quality: 0,
            compression: 0,
            bitdepth: 0,
            palette: false,
            strip_color_profile: opts.strip_color_profile,
            strip_metadata: opts.strip_metadata,
            lossless: false,
            max_bytes: 0,
        };
        for f in ops {
            match &f.op {
                FilterOp::Format(Some(fmt)) => e.format = Some(fmt.save_format()),
                FilterOp::FallbackFormat(Some(fmt)) => e.fallback = Some(fmt.save_format()),
                FilterOp::Quality(q) => e.quality = *q,
                FilterOp::AutoJpg => e.format = Some(ImageFormat::Jpeg),
                FilterOp::Palette => e.palette = true,
                FilterOp::Bitdepth(b) => e.bitdepth = *b,
                FilterOp::Compression(c) => e.compression = *c,
                FilterOp::MaxBytes(n) if *n > 0 => e.max_bytes = *n,
                FilterOp::StripMetadata => e.strip_metadata = true,
                FilterOp::StripIcc => e.strip_color_profile = true,
                FilterOp::Lossless => e.lossless = true,
                _ => {}
            }
        }
        if e.format.is_none() {
            e.format = source;
        }
        e
    }

    /// The settings of a plain quantising save as `format`: a PNG with a
    /// palette, a GIF (for timing the quantiser).
    pub(super) fn quantising(format: ImageFormat) -> Self {
        let mut e = ExportParams::new(&[], &Options::default(), Some(format));
        e.palette = format == ImageFormat::Png;
        e.strip_metadata = true;
        e
    }

    /// An animation kept for a format that cannot hold it switches to the
    /// fallback format when that one can (imagor's auto-format fallback).
    pub(crate) fn apply_animation_fallback(&mut self, img: &Image) {
        let Some(fallback) = self.fallback else {
            return;
        };
        if !img.is_animated() {
            return;
        }
        if self.format.is_some_and(ImageFormat::supports_animation)
            || !fallback.supports_animation()
        {
            return;
        }
        self.format = Some(fallback);
    }

    /// Is a PNG written with a palette? Not at 16 bits, which a palette
    /// cannot hold (ignored, as libvips 8.17 and later do).
    pub(super) fn png_palette(&self) -> bool {
        self.palette && self.bitdepth != 16
    }

    /// The format actually written: load-only and unknown formats save as
    /// JPEG.
    pub(crate) fn save_format(&self) -> ImageFormat {
        self.format
            .map_or(ImageFormat::Jpeg, ImageFormat::save_format)
    }
}

/// Strip as asked, then save; with `max_bytes`, lower the quality until the
/// output fits (never below ~10, never for lossless or PNG). Every save is
/// charged to the call's budget first.
pub(crate) fn export(
    img: &Image,
    params: &ExportParams,
    opts: &Options,
    budget: &Budget,
) -> Result<(Vec<u8>, ImageFormat)> {
    let mut img = img.clone();
    if params.strip_color_profile || params.strip_metadata {
        img = normalize_srgb(&img).with_meta(|m| m.remove("icc-profile-data"))?;
    }
    if profile_mismatch(&img) {
        img = img.with_meta(|m| m.remove("icc-profile-data"))?;
    }
    let format = params.save_format();
    if format == ImageFormat::Jpeg
        && img
            .blob_len("icc-profile-data")
            .is_some_and(|n| n > JPEG_MAX_PROFILE)
    {
        // Too long for the 255 APP2 segments a JPEG's profile may span:
        // libvips 8.14 numbered the segments past 255 from 0 again, and
        // wrote a profile no reader puts back together (a 30 MB one read
        // back as 6.5 MB of other bytes). The pixels go to sRGB through
        // it instead, as strip_icc() does.
        img = normalize_srgb(&img).with_meta(|m| m.remove("icc-profile-data"))?;
    }
    if format == ImageFormat::Jxl
        && img
            .blob_len("icc-profile-data")
            .is_some_and(|n| n > JXL_MAX_PROFILE)
    {
        // libjxl 0.7 (Debian 12) writes a profile past 64 KiB (of
        // zeros; past 128 KiB of any bytes) that its own decoder refuses
        // ("Corrupted stream" in its ICC codec): the whole file was
        // unreadable. The pixels go to sRGB through it, as for JPEG above.
        img = normalize_srgb(&img).with_meta(|m| m.remove("icc-profile-data"))?;
    }
    let mut quality = params.quality;
    loop {
        crate::ops::limits::check_resolution(&img, opts)?;
        // Held over the save: an animation stops early enough for the
        // frame in hand to end by the deadline.
        let _reserved = admit_save(&mut img, format, params, quality, opts, budget)?;
        let buf = save(&img, format, params, quality, opts)?;
        // GIF has no quality: imagor's search saves the same bytes again
        // until the quality runs out, and answers them; so do we, at once.
        let searching = params.max_bytes > 0
            && !params.lossless
            && (quality > 10 || quality == 0)
            && !matches!(format, ImageFormat::Png | ImageFormat::Gif);
        if searching && buf.len() as i64 > params.max_bytes {
            if quality == 0 {
                quality = 80;
            }
            let delta = buf.len() as f64 / params.max_bytes as f64;
            quality = if delta > 3.0 {
                quality * 25 / 100
            } else if delta > 1.5 {
                quality * 50 / 100
            } else {
                quality * 75 / 100
            };
            continue;
        }
        return Ok((buf, format));
    }
}

/// The longest ICC profile a JPEG holds: 255 APP2 segments of 65 519
/// bytes after their `ICC_PROFILE` header and numbers.
const JPEG_MAX_PROFILE: usize = 255 * 65_519;

/// The longest ICC profile a JPEG XL file gets that libjxl reads back.
const JXL_MAX_PROFILE: usize = 64 << 10;

/// One save call with imagor's settings for each format.
pub(super) fn save(
    img: &Image,
    format: ImageFormat,
    p: &ExportParams,
    quality: i32,
    opts: &Options,
) -> Result<Vec<u8>> {
    use ImageFormat as F;
    fn q(c: Call<'_>, quality: i32) -> Call<'_> {
        if quality > 0 {
            c.arg("Q", Arg::Int(quality.into()))
        } else {
            c
        }
    }
    fn lossless(c: Call<'_>, on: bool) -> Call<'_> {
        if on {
            c.arg("lossless", Arg::Bool(true))
        } else {
            c
        }
    }
    if !crate::vips::has_operation(saver_of(format)) {
        return Err(crate::formats::unsupported(format, "save"));
    }
    let wide = match format {
        F::Png => sixteen_bits(img, p)?,
        _ => None,
    };
    let img = wide.as_ref().unwrap_or(img);
    // PNG is written into a target that stops it at the deadline between
    // two writes of compressed bytes (see `MemoryTarget`); the other
    // streaming savers compress a strip in a few milliseconds.
    let target = match format {
        F::Png => Some(MemoryTarget::new()?),
        _ => None,
    };
    let mut c = match &target {
        Some(t) => Call::new("pngsave_target").arg("target", Arg::Target(t)),
        None => Call::new(saver_of(format)),
    }
    .arg("in", Arg::Image(img));
    match format {
        F::Png => {
            c = q(c, quality);
            if p.png_palette() {
                c = c.arg("palette", Arg::Bool(true));
            } else {
                // Adaptive row filtering (libpng's choice per row), as
                // Pillow (thumbor) and most encoders do. On the system
                // libvips (zlib), at level 3 unless `compression()` says
                // otherwise: over the bench corpus at 512x512, 368 KiB and
                // 44 ms per image, against 654 KiB / 37 ms for libvips'
                // default (no filter, level 6: imagor's output) and 366 KiB
                // / 134 ms for level 6 with filtering (zlib's lazy matching
                // buys nothing on filtered rows). The bundled libvips links
                // zlib-ng, whose level 6 costs what its level 3 does for
                // 1.5% fewer bytes, so it keeps the default. A deliberate
                // difference (README); pixels are the same. Palette images
                // compress best unfiltered.
                c = c.arg("filter", Arg::Nick("all"));
                if p.compression == 0 && crate::formats::FLAVOUR == "system" {
                    c = c.arg("compression", Arg::Int(3));
                }
            }
            if p.bitdepth > 0 {
                c = c.arg("bitdepth", Arg::Int(p.bitdepth.into()));
            }
            if p.compression > 0 {
                c = c.arg("compression", Arg::Int(p.compression.into()));
            }
        }
        F::Webp => c = lossless(q(c, quality), p.lossless).arg("effort", Arg::Int(4)),
        F::Jxl => c = lossless(q(c, jxl_quality(quality)), p.lossless),
        F::Jp2 => c = lossless(q(c, quality), p.lossless),
        F::Tiff => c = q(c, quality),
        F::Gif => {}
        F::Avif => {
            c = lossless(q(c, quality), p.lossless)
                .arg("compression", Arg::Nick("av1"))
                .arg("effort", Arg::Int((9 - opts.avif_speed).into()));
        }
        F::Heif => c = lossless(q(c, quality), p.lossless),
        _ => {
            if opts.mozjpeg {
                c = c
                    .arg("Q", Arg::Int(75))
                    .arg("optimize-coding", Arg::Bool(true))
                    .arg("interlace", Arg::Bool(true))
                    .arg_if_supported("optimize-scans", Arg::Bool(true))
                    .arg_if_supported("trellis-quant", Arg::Bool(true))
                    .arg_if_supported("quant-table", Arg::Int(3));
            }
            c = q(c, quality);
        }
    }
    let strip = p.strip_metadata || (opts.mozjpeg && format == F::Jpeg);
    if strip {
        c = c
            .arg_if_supported("keep", Arg::Int(0))
            .arg_if_supported("strip", Arg::Bool(true));
    }
    // libheif's saver exists whatever encoders it has: only when a save
    // fails is the (once per process) encoder probe consulted, so the
    // working path never pays for it.
    let out = c.run().map_err(|e| match format {
        F::Avif | F::Heif if !crate::formats::can_save(format) => {
            crate::formats::unsupported(format, "save")
        }
        _ => e,
    })?;
    match target {
        Some(t) => Ok(t.into_bytes()),
        None => Ok(out.blob("buffer")?.as_slice().to_vec()),
    }
}

/// The `Q` a JPEG XL save is given for `quality` (0: libvips' default).
/// libvips 8.14 turns `Q` into a butteraugli distance, 6.4 + 2.5^((30 -
/// Q) / 5) / 6.25 below 30, which passes libjxl's limit of 25 below 5:
/// libjxl then refused the distance, printed `Distance has to be in
/// [0.0..25.0]` on stderr and encoded at its default distance of 1, so
/// `quality(1)` to `quality(4)` (or a `max_bytes` search reaching them)
/// gave 4-40x the bytes of `quality(5)`. They get the most loss libjxl
/// takes instead.
fn jxl_quality(quality: i32) -> i32 {
    if quality > 0 {
        quality.max(5)
    } else {
        quality
    }
}

/// Does `img` carry an ICC profile of another colour space than its
/// pixels (a CMYK profile on the sRGB pixels libvips converted a CMYK
/// source to, an RGB profile on grey)? Such a profile only misleads, and
/// is dropped before saving, as libvips 8.17 and later do. libvips 8.14
/// wrote the 1.2 MB CMYK profile into WebP, AVIF and TIFF output (wrong
/// colours wherever it is honoured), and its JPEG XL encoder aborted the
/// process on such an image with alpha.
fn profile_mismatch(img: &Image) -> bool {
    let Some(profile) = img.get_blob("icc-profile-data") else {
        return false;
    };
    let Some(space) = profile.get(16..20) else {
        return true; // Too short to be a profile.
    };
    let expected: &[u8] = if img.interpretation() == Interpretation::CMYK {
        b"CMYK"
    } else if img.bands() <= 2 {
        b"GRAY"
    } else {
        b"RGB "
    };
    space != expected
}

/// `img` as 16-bit samples when a PNG of `bitdepth(16)` is asked for and
/// they are 8-bit, as libvips 8.17 and later convert them (the same
/// pixels).
///
/// The savers of earlier libvips (8.14 here) write such a PNG by reading
/// each 8-bit row as if it held 16-bit samples: twice its length, past the
/// end of libvips' buffer, so the last rows of every strip were other heap
/// bytes (a different image on every call) and some calls crashed.
fn sixteen_bits(img: &Image, p: &ExportParams) -> Result<Option<Image>> {
    if p.bitdepth != 16 || img.format() != BandFormat::UCHAR {
        return Ok(None);
    }
    if img.bands() > 2 {
        return img.colourspace(Interpretation::RGB16).map(Some);
    }
    // libvips 8.14 widens a grey image's alpha by 256 where 8.17 widens
    // it by 257, as it does every other band: the grey band alone goes
    // through `colourspace`, the alpha is widened here.
    let grey = img
        .extract_band(0, 1)?
        .colourspace(Interpretation::GREY16)?;
    if img.bands() == 1 {
        return Ok(Some(grey));
    }
    let alpha = img
        .extract_band(1, 1)?
        .linear(&[257.0], &[0.0])?
        .cast(BandFormat::USHORT)?;
    Image::bandjoin(&[&grey, &alpha])?
        .copy_as(Some(Interpretation::GREY16))
        .map(Some)
}

/// The libvips buffer saver of `format` (load-only formats save as JPEG).
pub(crate) fn saver_of(format: ImageFormat) -> &'static str {
    use ImageFormat as F;
    match format {
        F::Png => "pngsave_buffer",
        F::Webp => "webpsave_buffer",
        F::Jxl => "jxlsave_buffer",
        F::Tiff => "tiffsave_buffer",
        F::Gif => "gifsave_buffer",
        F::Avif | F::Heif => "heifsave_buffer",
        F::Jp2 => "jp2ksave_buffer",
        _ => "jpegsave_buffer",
    }
}
