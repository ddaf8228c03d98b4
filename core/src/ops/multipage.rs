//! Geometry on animated images. libvips stores the frames of an animation
//! stacked vertically (`page-height` each); cropping, padding or rotating
//! must act on every frame, then restack them.

use crate::error::Result;
use crate::vips::{Angle, Extend, Image};

/// Split into frames, apply `f` to each, join them again and record the new
/// page height.
fn per_frame(img: &Image, f: impl Fn(&Image) -> Result<Image>) -> Result<Image> {
    let page_height = img.page_height();
    let frames = img.frames();
    let mut out = Vec::with_capacity(frames as usize);
    for i in 0..frames {
        let frame = img.extract_area(0, i * page_height, img.width(), page_height)?;
        out.push(f(&frame)?);
    }
    let refs: Vec<&Image> = out.iter().collect();
    let joined = Image::arrayjoin(&refs, 1)?;
    let new_page_height = out.first().map_or(page_height, Image::height);
    joined.with_meta(|m| m.set_int("page-height", new_page_height))
}

/// `extract_area` on every frame.
pub(crate) fn extract_area(
    img: &Image,
    left: i32,
    top: i32,
    width: i32,
    height: i32,
) -> Result<Image> {
    if !img.is_animated() {
        return img.extract_area(left, top, width, height);
    }
    per_frame(img, |frame| frame.extract_area(left, top, width, height))
}

/// `embed` on every frame.
pub(crate) fn embed(
    img: &Image,
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    extend: Extend,
    background: Option<&[f64]>,
) -> Result<Image> {
    // libvips wants as many background values as bands (alpha included).
    let bg: Option<Vec<f64>> = background.map(|c| {
        let mut v: Vec<f64> = c
            .iter()
            .copied()
            .take(img.bands().max(1) as usize)
            .collect();
        while v.len() < img.bands() as usize {
            v.push(if v.len() == 3 { 255.0 } else { 0.0 });
        }
        v
    });
    let bg = bg.as_deref();
    if !img.is_animated() {
        return img.embed(x, y, width, height, extend, bg);
    }
    per_frame(img, |frame| frame.embed(x, y, width, height, extend, bg))
}

/// `rot` on every frame.
pub(crate) fn rotate(img: &Image, angle: Angle) -> Result<Image> {
    if angle == Angle::D0 {
        return Ok(img.clone());
    }
    if !img.is_animated() {
        return img.rot(angle);
    }
    per_frame(img, |frame| frame.rot(angle))
}

/// imagor's `getAngle`: `orient`/`rotate` degrees are counter-clockwise.
pub(crate) fn angle_for(degrees: i32) -> Angle {
    match degrees {
        90 => Angle::D270,
        180 => Angle::D180,
        270 => Angle::D90,
        _ => Angle::D0,
    }
}

/// Replace the frame height and count after frames were rebuilt by hand.
pub(crate) fn set_pages(img: &Image, page_height: i32) -> Result<Image> {
    let pages = if page_height > 0 {
        img.height() / page_height
    } else {
        1
    };
    img.with_meta(|m| {
        m.set_int("page-height", page_height);
        m.set_int("n-pages", pages.max(1));
    })
}
