//! Applying the detector-driven filters ([`DetectionOp`]): imagor's
//! `redactFilter`, `redactOvalFilter` and `drawDetectionsFilter`.
//!
//! The image is held in memory first: the detectors' probe reads it once
//! and the filter reads it again (a sequentially loaded source can be read
//! only once). Regions are drawn or composited one after the other; every
//! [`CUT_EVERY`] regions the result is rendered to memory so that libvips'
//! pipeline depth stays bounded whatever the number of regions.

use super::effects::{pixelate, MAX_BLUR_SIGMA};
use super::overlay::ensure_srgb;
use super::FilterCtx;
use crate::detector::{run, Region};
use crate::error::{Error, Result};
use crate::filters::{DetectionOp, RedactMode};
use crate::ops::color::get_color;
use crate::ops::limits::{check_resolution, image_bytes};
use crate::vips::{Arg, BlendMode, Call, Image};

/// Regions drawn between two renders to memory.
const CUT_EVERY: usize = 32;

/// imagor's `detectionPalette`: one colour per class name, chosen by the
/// FNV-32a hash of the name.
const PALETTE: [&str; 12] = [
    "ff3333", "33aaff", "aa33ff", "ffaa00", "33ff66", "ff33aa", "00cccc", "ffff33", "ff6600",
    "0066ff", "66ff00", "cc0066",
];

impl DetectionOp {
    /// Apply to `img`: nothing without detectors or regions; `redact` and
    /// `redact_oval` leave animations alone, as in imagor.
    pub(crate) fn apply(&self, img: &Image, cx: &mut FilterCtx<'_>) -> Result<Image> {
        if cx.detectors.is_empty() {
            return Ok(img.clone());
        }
        if matches!(self, DetectionOp::Redact { .. }) && img.is_animated() {
            return Ok(img.clone());
        }
        check_resolution(img, cx.opts)?;
        cx.budget
            .charge_memory("holding the image for detection", image_bytes(img))?;
        let img = img.copy_memory()?;
        let regions = run::detect(
            cx.detectors,
            &img,
            "",
            cx.opts.detector_probe_size,
            cx.budget,
        )?;
        if regions.is_empty() {
            return Ok(img);
        }
        match self {
            DetectionOp::Draw => draw(&img, &regions),
            DetectionOp::Redact { mode, oval } => redact(&img, &regions, mode, *oval),
        }
    }
}

/// FNV-32a, as imagor's `paletteColorForName`.
fn palette_color(name: &str) -> &'static str {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    PALETTE[(h % PALETTE.len() as u32) as usize]
}

/// An RGB colour padded with 255 (opaque) to the image's bands.
fn ink(rgb: [f64; 3], bands: i32) -> Vec<f64> {
    let mut c = rgb.to_vec();
    while (c.len() as i32) < bands {
        c.push(255.0);
    }
    c.truncate(bands.max(1) as usize);
    c
}

/// libvips' `draw_rect` with `fill`: the pixels of the box replaced by
/// `ink`, done as an `insert` of a solid block.
fn fill_rect(img: &Image, ink: &[f64], l: i32, t: i32, w: i32, h: i32) -> Result<Image> {
    let ones = vec![1.0; ink.len()];
    let block = Image::black(w, h, ink.len() as i32)?
        .linear(&ones, ink)?
        .cast(img.format())?
        .copy_as(Some(img.interpretation()))?;
    Call::new("insert")
        .arg("main", Arg::Image(img))
        .arg("sub", Arg::Image(&block))
        .arg("x", Arg::Int(l.into()))
        .arg("y", Arg::Int(t.into()))
        .run()?
        .out()
}

/// Every [`CUT_EVERY`] regions, render to memory.
fn maybe_cut(img: Image, done: usize) -> Result<Image> {
    if done.is_multiple_of(CUT_EVERY) {
        img.copy_memory()
    } else {
        Ok(img)
    }
}

/// `draw_detections()`: a one-pixel outline per region (libvips'
/// `draw_rect` without fill), on the first frame of an animation.
fn draw(img: &Image, regions: &[Region]) -> Result<Image> {
    let mut img = ensure_srgb(img)?;
    let (w, h, bands) = (img.width(), img.page_height(), img.bands());
    for (i, r) in regions.iter().enumerate() {
        let Some((l, t, rw, rh)) = run::to_pixels(r, w, h) else {
            continue;
        };
        let ink = ink(get_color(None, palette_color(&r.name)), bands);
        img = fill_rect(&img, &ink, l, t, rw, 1)?;
        img = fill_rect(&img, &ink, l, t + rh - 1, rw, 1)?;
        img = fill_rect(&img, &ink, l, t, 1, rh)?;
        img = fill_rect(&img, &ink, l + rw - 1, t, 1, rh)?;
        img = maybe_cut(img, i + 1)?;
    }
    Ok(img)
}

/// `redact()` / `redact_oval()` over every region.
fn redact(img: &Image, regions: &[Region], mode: &RedactMode, oval: bool) -> Result<Image> {
    let mut img = if oval { ensure_srgb(img)? } else { img.clone() };
    let (w, h) = (img.width(), img.page_height());
    for (i, r) in regions.iter().enumerate() {
        let Some(rect) = run::to_pixels(r, w, h) else {
            continue;
        };
        img = redact_one(&img, rect, mode, oval)?;
        img = maybe_cut(img, i + 1)?;
    }
    Ok(img)
}

/// An ellipse filling a `w` x `h` box, rendered by libvips' SVG loader as
/// imagor does (integer centre and radii, as Go's `w/2`).
fn ellipse(w: i32, h: i32, fill: &str) -> Result<Image> {
    let (rx, ry) = (w / 2, h / 2);
    let svg = format!(
        r#"<svg viewBox="0 0 {w} {h}"><ellipse cx="{rx}" cy="{ry}" rx="{rx}" ry="{ry}" fill="{fill}"/></svg>"#
    );
    Image::svg(svg.as_bytes())
}

/// imagor's `applyRedactRegion` for one box.
fn redact_one(
    img: &Image,
    (l, t, w, h): (i32, i32, i32, i32),
    mode: &RedactMode,
    oval: bool,
) -> Result<Image> {
    let patch = match mode {
        RedactMode::Color(c) => {
            let rgb = get_color(Some(img), c);
            if !oval {
                return fill_rect(img, &ink(rgb, img.bands()), l, t, w, h);
            }
            let [r, g, b] = rgb.map(|v| v as i32);
            let shape = ellipse(w, h, &format!("rgb({r},{g},{b})"))?;
            return img.composite2(&shape, BlendMode::Over, l, t);
        }
        RedactMode::Pixelate(block) => {
            // A block larger than the box would shrink it to nothing.
            let block = (*block).min(w).min(h);
            pixelate(&img.extract_area(l, t, w, h)?, block)?
        }
        RedactMode::Blur(sigma) => {
            if *sigma > MAX_BLUR_SIGMA {
                return Err(Error::Processing(format!(
                    "gaussblur: sigma {sigma} is out of range 0..{MAX_BLUR_SIGMA}"
                )));
            }
            img.extract_area(l, t, w, h)?.gaussblur(*sigma)?
        }
    };
    let patch = if oval {
        let with_alpha = if patch.has_alpha() {
            patch
        } else {
            patch.add_alpha()?
        };
        let mask = ellipse(with_alpha.width(), with_alpha.height(), "#fff")?;
        with_alpha.composite2(&mask, BlendMode::DestIn, 0, 0)?
    } else {
        patch
    };
    img.composite2(&patch, BlendMode::Over, l, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_is_imagors() {
        // FNV-32a("") = 0x811c9dc5 -> 2166136261 % 12 = 1.
        assert_eq!(palette_color(""), "33aaff");
        // Same name, same colour; the palette has 12 entries.
        assert_eq!(palette_color("face"), palette_color("face"));
        let h = 0x811c_9dc5u32;
        let face = b"face"
            .iter()
            .fold(h, |h, b| (h ^ *b as u32).wrapping_mul(0x0100_0193));
        assert_eq!(palette_color("face"), PALETTE[(face % 12) as usize]);
    }
}
