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

/// Refuse a forced (`stretch`) resize whose result would be over the size
/// limits before any work: its result is exactly `width` x `height` (each
/// frame), which [`check_resolution`] would refuse once made, and making
/// it can run inside libvips where no deadline reaches (see
/// [`charge_thumbnail_copy`]).
pub(crate) fn refuse_oversized_stretch(
    width: i32,
    height: i32,
    size: crate::vips::Size,
    opts: &Options,
) -> Result<()> {
    if opts.unlimited || size != crate::vips::Size::Force || width <= 0 || height <= 0 {
        return Ok(());
    }
    if width > opts.max_width
        || height > opts.max_height
        || width as i64 * height as i64 > opts.max_resolution
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
/// crops (or auto-rotates), inside one call that our deadline cannot
/// interrupt (its images are libvips' own): charge that copy to the call's
/// budget before it starts.
///
/// The copy holds the image resized to cover the `width` x `height` box
/// (to fit it when only rotating), before the crop: a 100x68 source asked
/// for 9000x9000 is resized to 13235x9000 first. Memory is that image with
/// the bands and depth of `img`; time is its pixels at the resize's cost
/// (upscaling interpolates each of them; the decode is charged apart).
pub(crate) fn charge_thumbnail_copy(
    img: &Image,
    width: i32,
    height: i32,
    crop: crate::vips::Interesting,
    size: crate::vips::Size,
) -> Result<()> {
    use crate::vips::Interesting;
    if crop == Interesting::None && img.orientation() <= 1 {
        return Ok(());
    }
    let resized = Resized::of(img, width, height, crop, size);
    let frames = img.frames().max(1) as f64;
    let pixels = resized.width.round().max(1.0) * resized.page_height.round().max(1.0) * frames;
    let (hs, vs) = (resized.h_shrink, resized.v_shrink);
    let bytes_per_pixel =
        image_bytes(img) as f64 / (img.width().max(1) as f64 * img.height().max(1) as f64);
    let budget = crate::budget::current();
    let what = "resizing and cropping the image in memory";
    budget.charge_memory(what, (pixels * bytes_per_pixel.max(1.0)) as u64)?;
    let per_band = if hs < 1.0 || vs < 1.0 {
        THUMBNAIL_UPSCALE_NS
    } else {
        THUMBNAIL_REDUCE_NS
    };
    // With alpha, libvips premultiplies and resizes in float.
    let alpha = if img.has_alpha() { ALPHA_FACTOR } else { 1.0 };
    let ns = per_band * img.bands().max(1) as f64 * alpha;
    budget.charge_unstoppable_time(what, crate::budget::Cost::per_pixel(pixels, ns))
}

/// A frame of `img` as libvips' `thumbnail_image` resizes it, before any
/// crop: its shrink factors and size (unrounded).
struct Resized {
    h_shrink: f64,
    v_shrink: f64,
    width: f64,
    page_height: f64,
}

impl Resized {
    fn of(
        img: &Image,
        width: i32,
        height: i32,
        crop: crate::vips::Interesting,
        size: crate::vips::Size,
    ) -> Resized {
        use crate::vips::{Interesting, Size};
        let (mut w, mut h) = (img.width().max(1) as f64, img.page_height().max(1) as f64);
        if (5..=8).contains(&img.orientation()) {
            std::mem::swap(&mut w, &mut h);
        }
        // libvips' thumbnail_calculate_shrink: one factor for both axes (the
        // smaller, to cover, when cropping), unless forced.
        let (mut hs, mut vs) = (w / width.max(1) as f64, h / height.max(1) as f64);
        if size != Size::Force {
            let common = if crop == Interesting::None {
                hs.max(vs)
            } else {
                hs.min(vs)
            };
            (hs, vs) = (common, common);
        }
        let clamp = |s: f64| match size {
            Size::Up => s.min(1.0),
            Size::Down => s.max(1.0),
            _ => s,
        };
        let (hs, vs) = (clamp(hs), clamp(vs));
        Resized {
            h_shrink: hs,
            v_shrink: vs,
            width: w / hs,
            page_height: h / vs,
        }
    }
}

/// The largest coordinate libvips accepts (`VIPS_MAX_COORD`).
const VIPS_MAX_COORD: f64 = 10_000_000.0;

/// Refuse a resize of an animation whose frames, stacked, would be over
/// the size limits (or past what libvips can address at all) before any
/// work: [`check_resolution`] would refuse the result once made, and an
/// upscale of thousands of frames fails inside libvips with a bare
/// `thumbnail_image failed`. The size is a lower bound (libvips rounds),
/// so nothing the result check would pass is refused.
pub(crate) fn refuse_oversized_result(
    img: &Image,
    width: i32,
    height: i32,
    crop: crate::vips::Interesting,
    size: crate::vips::Size,
    opts: &Options,
) -> Result<()> {
    let resized = Resized::of(img, width, height, crop, size);
    let (mut w, mut page_h) = (resized.width.floor(), resized.page_height.floor());
    if crop != crate::vips::Interesting::None {
        w = w.min(width.max(1) as f64);
        page_h = page_h.min(height.max(1) as f64);
    }
    let stacked = page_h * img.frames().max(1) as f64;
    if w > VIPS_MAX_COORD || stacked > VIPS_MAX_COORD {
        return Err(Error::MaxResolutionExceeded);
    }
    if !opts.unlimited
        && (w > opts.max_width as f64
            || page_h > opts.max_height as f64
            || w * stacked > opts.max_resolution as f64)
    {
        return Err(Error::MaxResolutionExceeded);
    }
    Ok(())
}

/// Resizing inside `thumbnail`, per resized pixel and band (on the
/// reference machine, rounded up): measured 45-50 ns a pixel upscaling
/// (and rotating) three-band JPEGs to 13-34 MP, 27 ns reducing 9000x9000
/// to 8999x8999.
const THUMBNAIL_UPSCALE_NS: f64 = 16.0;
/// See [`THUMBNAIL_UPSCALE_NS`].
const THUMBNAIL_REDUCE_NS: f64 = 9.0;
/// An image with alpha costs more per band: measured 61-100 ns a pixel
/// upscaling a rotated RGBA PNG to 13-44 MP (the estimate was 40, and
/// 65535x665 ran 3.9 s past a 2 s deadline).
const ALPHA_FACTOR: f64 = 1.5;
