//! What one save costs, charged to the call's budget before it starts:
//! CPU per pixel by format, quality and alpha, and the memory the encoders
//! hold. Encoders that compress a whole frame in one library call cannot
//! be interrupted, so these figures are what holds the budget there.

use super::export::{save, ExportParams};
use super::{gif_frames, quantise_probe};
use crate::budget::{Budget, Cost};
use crate::error::Result;
use crate::format::ImageFormat;
use crate::ops::limits::image_bytes;
use crate::options::Options;
use crate::vips::deadline::Reserved;
use crate::vips::Image;
use std::time::Duration;

/// Nanoseconds per output pixel of one save of `img` as `format` with
/// `p` at `quality`, and whether the encoder compresses whole frames in
/// memory in one library call that libvips cannot interrupt (everything
/// but JPEG, PNG and TIFF, which stream rows).
///
/// Measured in CPU time on the reference machine (2 cores), saving a
/// 1900x1263 photo stretched to 1000x1000 and 2000x2000, the decode and
/// resize taken off, rounded up, at each encoder's default quality: AVIF
/// 85-120 at imagor's speed 8 (a smooth image had given 50), growing to
/// 570 at speed 6, 2 650 at 4, 7 070 at 2 and 14 200 at 0; lossless AVIF
/// 2.4-3.9x lossy. WebP 110, lossless 720-820. GIF frames 100 (one frame
/// is quantised whole: [`quantises`]). HEIF 1 000-1 200 at 2.4-6 MP (1 800
/// at 0.6), JXL 670-830 (lossless 2 700-3 100), JPEG 2000 110-160; higher
/// qualities cost more ([`quality_factor`]). Encoders that cannot be
/// interrupted are what these guard: lossless WebP had been charged 30 ns
/// and ran 4 s of a 2 s budget; HEIF at `quality(90)` and JXL had been
/// charged 850 and 500 and ran 2-4x their charge.
fn encoder_cost(
    format: ImageFormat,
    img: &Image,
    p: &ExportParams,
    quality: i32,
    opts: &Options,
) -> (f64, bool) {
    use ImageFormat as F;
    // libheif codes alpha as a second image: HEIF with alpha measured
    // 1 400-1 540 ns a pixel against 770-820 without.
    let (alpha, heif_alpha) = if img.has_alpha() {
        (1.3, 1.9)
    } else {
        (1.0, 1.0)
    };
    let by_quality = if p.lossless {
        1.0
    } else {
        quality_factor(format, quality)
    };
    let (ns, whole_frames) = match format {
        // PNG streams rows (a palette is quantised: see `quantises`).
        F::Png => (15.0, false),
        F::Tiff => (3.0, false),
        F::Webp if p.lossless => (850.0 * alpha, true),
        F::Webp => (120.0 * alpha, true),
        F::Avif => {
            let lossless = if p.lossless { 4.0 } else { 1.0 };
            (avif_ns(opts.avif_speed) * lossless * heif_alpha, true)
        }
        F::Heif => (1300.0 * heif_alpha, true),
        // Frames after the first reuse its palette, and libvips stops
        // between frames at the deadline (one frame: see `quantises`).
        F::Gif => (150.0, true),
        F::Jxl if p.lossless => (3200.0, true),
        F::Jxl => (850.0 * alpha, true),
        F::Jp2 => (170.0 * alpha, true),
        _ => (4.0, false),
    };
    (ns * by_quality, whole_frames)
}

/// How much more than at its default quality an encoder spends at
/// `quality` (0: the default). Measured on the same photo (CPU per
/// pixel, libvips 8.14): AVIF at speed 8 from its default 50: 1.4-1.5x at
/// 80, 1.9-2.4x at 90, 2.3-2.75x at 95, 3.85x at 98, 4.05-5.4x at 100;
/// HEIF from 50: 2.2x at 80, 3.3x at 90, 3.0x at 100; WebP from 75: 1.3x
/// at 90, 1.6x at 95, 1.7-2.0x at 100. JXL and JPEG 2000 barely change;
/// JPEG, PNG and TIFF stream and are stopped at the deadline.
fn quality_factor(format: ImageFormat, quality: i32) -> f64 {
    use ImageFormat as F;
    let points: &[(f64, f64)] = match format {
        F::Avif => &[
            (50.0, 1.0),
            (80.0, 1.5),
            (90.0, 2.4),
            (95.0, 2.8),
            (98.0, 3.9),
            (100.0, 5.5),
        ],
        F::Heif => &[(50.0, 1.0), (80.0, 2.2), (90.0, 3.4), (100.0, 3.4)],
        F::Webp => &[(75.0, 1.0), (90.0, 1.3), (95.0, 1.6), (100.0, 2.0)],
        _ => return 1.0,
    };
    if quality <= 0 {
        return 1.0;
    }
    let q = f64::from(quality.min(100));
    let mut below = points[0];
    if q <= below.0 {
        return below.1;
    }
    for &(at, factor) in &points[1..] {
        if q <= at {
            return below.1 + (factor - below.1) * (q - below.0) / (at - below.0);
        }
        below = (at, factor);
    }
    below.1
}

/// Bytes an encoder holds beyond the frame it is given, measured as peak
/// RSS over a plain copy at 0.6, 2.4 and 6.1 MP: JXL 48-102 a pixel (its
/// XYB planes in float, several times over; lossless 78-83), AVIF 23 at
/// the default quality and 37-39 at 100, HEIF 18-25, lossless WebP 37. A
/// palette (GIF, PNG `palette()`) holds libimagequant's histogram, which
/// grows with the colours up to some 40 MB, and a few bytes a pixel: 20,
/// 58, 65 and 106 MB at 0.6, 2.4, 6.1 and 16 MP.
fn encoder_bytes(format: ImageFormat, p: &ExportParams, quantised: bool, pixels: u64) -> u64 {
    use ImageFormat as F;
    let per_pixel = match format {
        _ if quantised => {
            return pixels.saturating_mul(32).min(48 << 20) + pixels.saturating_mul(8);
        }
        F::Jxl => 100,
        F::Avif => 40,
        F::Heif => 25,
        F::Webp if p.lossless => 40,
        _ => 0,
    };
    pixels.saturating_mul(per_pixel)
}

/// What embedding `img`'s ICC profile costs the encoder of `format`
/// beyond the copy every saver makes: libjxl parses the profile and
/// entropy-codes it, in the call that encodes the frame. A 64x64 image
/// with a 4 MB profile grew to 186 MB saved as JPEG XL (94 MB as WebP),
/// with 10 MB 343 MB and 0.8 s, with 30 MB 901 MB and 2.1 s: 28-31 bytes
/// and 75 ns a byte of profile. `None` when there is nothing to speak of.
fn embedded_profile_cost(format: ImageFormat, img: &Image) -> Option<(u64, Cost)> {
    if format != ImageFormat::Jxl {
        return None;
    }
    let bytes = img.blob_len("icc-profile-data")? as u64;
    (bytes > 64 << 10).then(|| {
        (
            bytes.saturating_mul(JXL_PROFILE_BYTES),
            Cost::per_pixel(bytes as f64, JXL_PROFILE_NS),
        )
    })
}

/// The key of [`embedded_profile_cost`]'s memory in a call's budget (no
/// source's address).
const EMBEDDED_PROFILE: usize = usize::MAX;

/// Memory and CPU libjxl spends per byte of an ICC profile it embeds.
const JXL_PROFILE_BYTES: u64 = 32;
const JXL_PROFILE_NS: f64 = 80.0;

/// Does saving `img` as `format` quantise the whole image to a palette in
/// one call: a GIF of one frame, a PNG `palette()` or of colour at fewer
/// than 8 bits (which libvips palettises too)? Its cost is measured on a
/// sample ([`quantise_probe`]).
fn quantises(format: ImageFormat, img: &Image, p: &ExportParams) -> bool {
    match format {
        ImageFormat::Gif => img.frames() <= 1,
        ImageFormat::Png => {
            p.png_palette() || (p.bitdepth > 0 && p.bitdepth < 8 && img.bands() > 2)
        }
        _ => false,
    }
}

/// AVIF (libaom) per pixel at libvips' `speed` 0-9 (effort 9-0): measured
/// at 9, 8, 6, 4, 2 and 0 (see [`encoder_cost`]), between them
/// geometrically.
fn avif_ns(speed: i32) -> f64 {
    const BY_SPEED: [f64; 10] = [
        14_500.0, 10_200.0, 7_200.0, 4_400.0, 2_700.0, 1_250.0, 600.0, 270.0, 120.0, 60.0,
    ];
    BY_SPEED[speed.clamp(0, 9) as usize]
}

/// Charge one save of `img` as `format` at `quality` to the budget (a
/// quantising save may first render `img` to memory to sample it). An
/// animation that libvips encodes frame by frame is held to stop early
/// enough for the frame in hand to end by the deadline, while the guard
/// returned lives.
pub(super) fn admit_save(
    img: &mut Image,
    format: ImageFormat,
    p: &ExportParams,
    quality: i32,
    opts: &Options,
    budget: &Budget,
) -> Result<Option<Reserved>> {
    let pixels = img.width().max(0) as f64 * img.height().max(0) as f64;
    let (ns, whole_frames) = encoder_cost(format, img, p, quality, opts);
    let what = format!(
        "encoding {}x{} as {}",
        img.width(),
        img.height(),
        format.name()
    );
    let quantised = quantises(format, img, p);
    let alpha = if img.has_alpha() { 1.3 } else { 1.0 };
    if format == ImageFormat::Tiff {
        // TIFF streams its strips, but uncompressed into libvips' growing
        // memory buffer, which is then copied out: the whole output twice
        // over at its peak. An RGBA 8100x8100 TIFF took 510 MB more than
        // the process held before, with nothing charged (and as much with
        // `max_memory` at 64 MiB).
        budget.charge_memory(&what, image_bytes(img).saturating_mul(2))?;
    }
    if whole_frames || quantised {
        // The frame in memory, and the encoder's own buffers (at least as
        // much again).
        let frame = image_bytes(img);
        let mut own = encoder_bytes(format, p, quantised, pixels as u64);
        if format == ImageFormat::Gif && !quantised {
            // An animation: the quantiser's buffers for one frame at a time,
            // and the saver's RGBA frame, previous frame and indices (9
            // bytes a pixel). Two 1000x1000 frames had been charged 11 MiB
            // and grew the process by 46 MiB more than a refusal did.
            let frame_pixels = (pixels / img.frames().max(1) as f64) as u64;
            own = encoder_bytes(format, p, true, frame_pixels)
                .saturating_add(frame_pixels.saturating_mul(9));
        }
        budget.charge_memory(&what, frame.saturating_add(own.max(frame)))?;
    }
    if let Some((bytes, cost)) = embedded_profile_cost(format, img) {
        let what = format!("{what} with its ICC profile");
        // Once for the call: each try of a `max_bytes` search embeds the
        // same profile (charged per try, a 2 MB one was refused).
        budget.charge_memory_once(EMBEDDED_PROFILE, &what, bytes)?;
        budget.charge_unstoppable_time(&what, cost)?;
    }
    if quantised {
        quantise_probe::charge(img, alpha, &what, budget, opts, |sample| {
            save(sample, format, p, quality, opts).map(drop)
        })?;
        return Ok(None);
    }
    // Animated GIF and WebP pay a palette or encoder set-up per frame.
    let frames = img.frames().max(1) as f64;
    let per_frame = match format {
        ImageFormat::Gif | ImageFormat::Webp if frames > 1.0 => Cost::per_pixel(frames, 100_000.0),
        _ => Cost::default(),
    };
    let cost = Cost::per_pixel(pixels, ns) + per_frame;
    // An animated GIF and WebP are encoded frame by frame, and libvips
    // stops between frames at the deadline: only a single frame is
    // unstoppable.
    let stops_between_frames =
        frames > 1.0 && matches!(format, ImageFormat::Gif | ImageFormat::Webp);
    if !(whole_frames && stops_between_frames) {
        return if whole_frames {
            budget.charge_unstoppable_time(&what, cost).map(|()| None)
        } else {
            budget.charge_time(&what, cost).map(|()| None)
        };
    }
    budget.charge_time(&what, cost)?;
    // The frame in hand when the deadline passes runs to its end. A GIF
    // quantises each frame (keeping an earlier palette when close), at a
    // cost its colours bound; WebP encodes each at its rate.
    let frame = match format {
        ImageFormat::Gif => gif_frames::costliest_frame_ns(img, alpha, budget, opts)?,
        _ => pixels / frames * ns,
    };
    let frame = budget.unstoppable(Cost::per_pixel(1.0, frame));
    let left = budget.time_left_ns().map(Duration::from_nanos);
    if left.is_some_and(|left| frame.duration() > left) {
        let what = format!(
            "encoding a {}x{} frame as {}",
            img.width(),
            img.page_height(),
            format.name()
        );
        // Refused: the first frame alone would not end in time.
        return budget.charge_time(&what, frame).map(|()| None);
    }
    Ok(budget.stop_early(frame.duration()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_qualities_cost_more_from_each_encoders_default() {
        use ImageFormat as F;
        for f in [F::Avif, F::Heif, F::Webp] {
            assert_eq!(quality_factor(f, 0), 1.0, "{f:?} default");
            let mut last = 1.0;
            for q in [1, 50, 75, 80, 85, 90, 95, 98, 100, 1000] {
                let now = quality_factor(f, q);
                assert!(now >= last, "{f:?} {q}: {now} < {last}");
                last = now;
            }
        }
        assert_eq!(quality_factor(F::Avif, 50), 1.0);
        assert!((quality_factor(F::Avif, 85) - 1.95).abs() < 1e-9);
        assert_eq!(quality_factor(F::Avif, 100), 5.5);
        assert_eq!(quality_factor(F::Webp, 100), 2.0);
        assert_eq!(quality_factor(F::Jxl, 100), 1.0);
        assert_eq!(quality_factor(F::Jpeg, 100), 1.0);
    }
}
