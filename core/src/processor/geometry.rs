//! Geometry before the filters: manual crop, trim, the fit / stretch /
//! cover resize with focal points and alignment, and flips (imagor's
//! `applyTransformations` up to the filter loop).

use super::load::animated_thumbnail_with_crop;
use crate::error::Result;
use crate::filters::FocalRect;
use crate::ops::limits::check_resolution;
use crate::ops::multipage;
use crate::ops::trim::find_trim;
use crate::options::Options;
use crate::path::{Params, H_ALIGN_LEFT, H_ALIGN_RIGHT, V_ALIGN_BOTTOM, V_ALIGN_TOP};
use crate::vips::{Direction, Image, Interesting, Size};

/// How the image arrived at this stage.
pub(crate) struct Resize {
    /// Already resized while loading.
    pub thumbnail: bool,
    /// `stretch` (from the path or a filter).
    pub stretch: bool,
    /// Enlarging is allowed.
    pub upscale: bool,
}

/// Crop, trim, resize and flip. Returns the image and the box `fill` pads to.
pub(crate) fn transform(
    img: Image,
    p: &Params,
    how: &Resize,
    focal: &[FocalRect],
    opts: &Options,
) -> Result<(Image, i32, i32)> {
    let mut img = img;
    let orig_w = img.width() as f64;
    let orig_h = img.page_height() as f64;

    // Manual crop: fractions below 1 are relative to the loaded size.
    let (mut crop_left, mut crop_top, mut crop_right, mut crop_bottom) = (0.0, 0.0, 0.0, 0.0);
    if p.crop_right > 0.0 || p.crop_left > 0.0 || p.crop_bottom > 0.0 || p.crop_top > 0.0 {
        crop_left = p.crop_left.max(0.0);
        crop_top = p.crop_top.max(0.0);
        crop_right = p.crop_right;
        crop_bottom = p.crop_bottom;
        if p.crop_left < 1.0 && p.crop_top < 1.0 && p.crop_right <= 1.0 && p.crop_bottom <= 1.0 {
            crop_left = (crop_left * orig_w).round();
            crop_top = (crop_top * orig_h).round();
            crop_right = (crop_right * orig_w).round();
            crop_bottom = (crop_bottom * orig_h).round();
        }
        if crop_right == 0.0 {
            crop_right = orig_w - 1.0;
        }
        if crop_bottom == 0.0 {
            crop_bottom = orig_h - 1.0;
        }
        crop_right = crop_right.min(orig_w - 1.0);
        crop_bottom = crop_bottom.min(orig_h - 1.0);
    }
    // Trim narrows the crop to the non-background box.
    if p.trim {
        if let Some((l, t, w, h)) = find_trim(&img, &p.trim_by, p.trim_tolerance) {
            crop_left = crop_left.max(l as f64);
            crop_top = crop_top.max(t as f64);
            crop_right = if crop_right > 0.0 {
                crop_right.min((l + w) as f64)
            } else {
                (l + w) as f64
            };
            crop_bottom = if crop_bottom > 0.0 {
                crop_bottom.min((t + h) as f64)
            } else {
                (t + h) as f64
            };
        }
    }
    if crop_right > crop_left && crop_bottom > crop_top {
        img = multipage::extract_area(
            &img,
            crop_left as i32,
            crop_top as i32,
            (crop_right - crop_left) as i32,
            (crop_bottom - crop_top) as i32,
        )?;
    }

    let mut w = p.width.clamp(0, i32::MAX as i64) as i32;
    let mut h = p.height.clamp(0, i32::MAX as i64) as i32;
    let (mut img_w, mut img_h) = (img.width(), img.page_height());
    // thumbnail_image will auto-rotate by EXIF orientation: size as it will be.
    if img.orientation() > 4 {
        std::mem::swap(&mut img_w, &mut img_h);
    }
    let img_aspect = img_w as f64 / img_h as f64;
    if p.adaptive_fit_in && w > 0 && h > 0 && (img_aspect > 1.0) != (w as f64 / h as f64 > 1.0) {
        std::mem::swap(&mut w, &mut h);
    }
    if w == 0 && h == 0 {
        w = img_w;
        h = img_h;
    } else if w == 0 {
        w = mul_div(img_w, h, img_h);
        if !how.upscale && w > img_w {
            w = img_w;
        }
    } else if h == 0 {
        h = mul_div(img_h, w, img_w);
        if !how.upscale && h > img_h {
            h = img_h;
        }
    }
    if !how.thumbnail {
        if p.fit_in && p.full_fit_in && w > 0 && h > 0 {
            // full-fit-in covers the box: the other side grows to the image's
            // aspect, and that grown box is also what `fill` pads to.
            if img_aspect < w as f64 / h as f64 {
                h = (w as f64 / img_aspect).ceil() as i32;
            } else {
                w = (h as f64 * img_aspect).ceil() as i32;
            }
        }
        img = resize(
            img,
            p,
            how,
            focal,
            (w, h),
            (img_w, img_h),
            (crop_left, crop_top),
            opts,
        )?;
    }
    if p.h_flip {
        img = img.flip(Direction::Horizontal)?;
    }
    if p.v_flip {
        img = crate::ops::multipage::flip_vertical(&img)?;
    }
    Ok((img, w, h))
}

/// `a * b / c` in 64 bits, as Go's int arithmetic, saturating to i32.
fn mul_div(a: i32, b: i32, c: i32) -> i32 {
    if c == 0 {
        return 0;
    }
    (a as i64 * b as i64 / c as i64).clamp(0, i32::MAX as i64) as i32
}

#[allow(clippy::too_many_arguments)]
fn resize(
    img: Image,
    p: &Params,
    how: &Resize,
    focal: &[FocalRect],
    (w, h): (i32, i32),
    (img_w, img_h): (i32, i32),
    (crop_left, crop_top): (f64, f64),
    opts: &Options,
) -> Result<Image> {
    let img_aspect = img_w as f64 / img_h as f64;
    if p.fit_in {
        if how.upscale || w < img_w || h < img_h {
            return img.thumbnail_image(w, h, Size::Both, Interesting::None);
        }
        return Ok(img);
    }
    if how.stretch {
        if how.upscale || (w < img_w && h < img_h) {
            return img.thumbnail_image(w, h, Size::Force, Interesting::None);
        }
        return Ok(img);
    }
    if !(how.upscale || w < img_w || h < img_h) {
        return Ok(img);
    }
    if w == img_w && h == img_h && focal.is_empty() && !p.smart && is_plain(&img) {
        // A cover resize to the image's own size changes nothing, but
        // libvips would still copy the whole image to memory to crop it.
        return Ok(img);
    }
    let interest = if p.smart {
        Interesting::Attention
    } else if w as f64 / h as f64 > img_aspect {
        match p.v_align.as_str() {
            V_ALIGN_TOP => Interesting::Low,
            V_ALIGN_BOTTOM => Interesting::High,
            _ => Interesting::Centre,
        }
    } else {
        match p.h_align.as_str() {
            H_ALIGN_LEFT => Interesting::Low,
            H_ALIGN_RIGHT => Interesting::High,
            _ => Interesting::Centre,
        }
    };
    let out = if !focal.is_empty() {
        let (fx, fy) = focal_point(focal);
        focal_thumbnail(
            &img,
            w,
            h,
            img_aspect,
            (fx - crop_left) / img.width() as f64,
            (fy - crop_top) / img.page_height() as f64,
            opts,
        )?
    } else if interest == Interesting::None || img.height() == img.page_height() {
        crate::ops::limits::charge_thumbnail_copy(&img, w, h, interest, Size::Both)?;
        img.thumbnail_image(w, h, Size::Both, interest)?
    } else {
        animated_thumbnail_with_crop(&img, w, h, interest, Size::Both, opts)?
    };
    check_resolution(&out, opts)?;
    Ok(out)
}

/// 8-bit sRGB or greyscale, upright: what libvips' `thumbnail` returns
/// unchanged when the size does not change.
fn is_plain(img: &Image) -> bool {
    use crate::vips::{BandFormat, Interpretation};
    img.format() == BandFormat::UCHAR
        && matches!(
            img.interpretation(),
            Interpretation::SRGB | Interpretation::B_W
        )
        && img.orientation() <= 1
}

/// Weighted centre of the focal regions (imagor's `parseFocalPoint`).
fn focal_point(rects: &[FocalRect]) -> (f64, f64) {
    let area = |f: &FocalRect| (f.right - f.left) * (f.bottom - f.top);
    let total: f64 = rects.iter().map(area).sum();
    rects.iter().fold((0.0, 0.0), |(x, y), f| {
        let r = area(f) / total;
        (
            x + (f.left + f.right) / 2.0 * r,
            y + (f.top + f.bottom) / 2.0 * r,
        )
    })
}

/// Cover-resize, then crop the `w` x `h` window centred on the focal point
/// (fractions `fx`, `fy` of the image), kept inside the image.
fn focal_thumbnail(
    img: &Image,
    w: i32,
    h: i32,
    img_aspect: f64,
    fx: f64,
    fy: f64,
    opts: &Options,
) -> Result<Image> {
    let resized = if w as f64 / h as f64 > img_aspect {
        img.thumbnail_image(w, opts.max_height, Size::Both, Interesting::None)?
    } else {
        img.thumbnail_image(opts.max_width, h, Size::Both, Interesting::None)?
    };
    // An image too thin to cover the box within the size limits (4000x1
    // to 100x100 grows to 16383x4) is cropped to what there is, as a cover
    // crop of thin frames is ([`animated_thumbnail_with_crop`]); it was a
    // bare 406 `extract_area failed`, as in imagor.
    let (w, h) = (w.min(resized.width()), h.min(resized.page_height()));
    let left = (resized.width() as f64 * fx - w as f64 / 2.0)
        .min((resized.width() - w) as f64)
        .max(0.0);
    let top = (resized.page_height() as f64 * fy - h as f64 / 2.0)
        .min((resized.page_height() - h) as f64)
        .max(0.0);
    multipage::extract_area(&resized, left as i32, top as i32, w, h)
}
