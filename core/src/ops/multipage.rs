//! Geometry on animated images. libvips stores the frames of an animation
//! stacked vertically (`page-height` each); cropping, padding or rotating
//! must act on every frame, then restack them.

use crate::error::Result;
use crate::ops::limits::image_bytes;
use crate::vips::{Angle, Direction, Extend, Image};

/// Frames transformed together before they are rendered to memory.
const FRAMES_PER_BATCH: i32 = 64;

/// Split into frames, apply `f` to each, join them again and record the new
/// page height.
///
/// Linear in the number of frames. A lazy pipeline per frame on one shared
/// source makes libvips walk a list that grows with the frames on every
/// request (thousands of frames took minutes), and rendering each frame on
/// its own pays a thread-pool start per frame; so frames are transformed in
/// batches of [`FRAMES_PER_BATCH`], each batch rendered to memory before the
/// next starts. The batches in memory are charged to the call's memory
/// budget and the deadline is checked between them.
pub(crate) fn per_frame(img: &Image, f: impl Fn(&Image) -> Result<Image>) -> Result<Image> {
    let page_height = img.page_height();
    let frames = img.frames();
    let budget = crate::budget::current();
    let mut batches = Vec::with_capacity((frames / FRAMES_PER_BATCH + 1) as usize);
    let mut new_page_height = page_height;
    let lazy = img.memory_bytes().is_none();
    let mut first = 0;
    while first < frames {
        budget.check()?;
        let last = (first + FRAMES_PER_BATCH).min(frames);
        // A lazy input is rendered a batch of frames at a time, top down,
        // before the frames are taken apart: frames pulled from it one by
        // one, on libvips' threads at once, read a sequentially loaded
        // animation out of order (threads waiting on each other: 300
        // frames of 30x30 resized from a GIF took 2.5 s where one pass
        // takes 0.5 s).
        let band = img.extract_area(
            0,
            first * page_height,
            img.width(),
            (last - first) * page_height,
        )?;
        let (band, held) = if lazy {
            let bytes = image_bytes(&band);
            budget.charge_memory("reading the frames of the animation", bytes)?;
            (band.copy_memory()?, bytes)
        } else {
            (band, 0)
        };
        let mut out = Vec::with_capacity((last - first) as usize);
        for i in 0..last - first {
            let frame = band.extract_area(0, i * page_height, img.width(), page_height)?;
            out.push(f(&frame)?);
        }
        new_page_height = out.first().map_or(page_height, Image::height);
        let rendered = {
            let refs: Vec<&Image> = out.iter().collect();
            let batch = Image::arrayjoin(&refs, 1)?;
            budget.charge_memory("holding the frames of the animation", image_bytes(&batch))?;
            batch.copy_memory()?
        };
        batches.push(rendered);
        drop(out);
        drop(band);
        budget.release_memory(held);
        first = last;
    }
    let joined = match batches.len() {
        1 => batches.pop().ok_or_else(crate::error::Error::internal)?,
        _ => {
            let refs: Vec<&Image> = batches.iter().collect();
            let grid = Image::arrayjoin(&refs, 1)?;
            // arrayjoin gives every cell the size of the largest image: a
            // last batch of fewer frames comes back padded with black
            // frames up to a whole batch. Keep only the frames there are.
            let height = new_page_height.saturating_mul(frames);
            if grid.height() > height {
                grid.extract_area(0, 0, grid.width(), height)?
            } else {
                grid
            }
        }
    };
    joined.with_meta(|m| m.set_int("page-height", new_page_height))
}

/// A vertical flip of the whole stack of frames, as libvips flips any
/// image. An animation is rendered to memory first (charged to the call's
/// budget, [`per_frame`]): a flip reads its input bottom up, and libvips serves that from
/// a lazily decoded and resized stack of thousands of frames by walking
/// caches that grow with it, in time quadratic in its height where no
/// deadline stops it (a 1 MB GIF of 4000 frames flipped by `10x-10` ran
/// 16 s of a 2 s budget).
pub(crate) fn flip_vertical(img: &Image) -> Result<Image> {
    if !img.is_animated() {
        return img.flip(Direction::Vertical);
    }
    // Rendered in batches of frames, top down, as any per-frame work (one
    // copy of the whole stack ran as slowly as the flip).
    per_frame(img, |frame| Ok(frame.clone()))?.flip(Direction::Vertical)
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
    if (left, top, width, height) == (0, 0, img.width(), img.page_height()) {
        return Ok(img.clone());
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
