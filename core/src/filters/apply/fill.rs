//! Applying `fill`, `padding`, `background_color`, `strip_icc` and
//! `strip_exif`.

use super::FilterCtx;
use crate::error::Result;
use crate::filters::FillColor;
use crate::ops::color::{get_color, is_black, is_white, normalize_srgb};
use crate::ops::multipage;
use crate::vips::{BlendMode, Extend, Image, Interesting, Interpretation, Size};

/// `fill(color)`: centre the image in the requested box plus the path's
/// padding, filling the rest with a colour, transparency or a blurred copy.
pub(crate) fn fill(img: &Image, cx: &FilterCtx<'_>, color: &FillColor) -> Result<Image> {
    let (w, h) = (cx.fill_width, cx.fill_height);
    fill_box(img, cx, w, h, cx.padding, color)
}

/// `padding(color, l, t, r, b)`: fill around the current size.
pub(crate) fn padding(
    img: &Image,
    cx: &FilterCtx<'_>,
    color: &str,
    sides: [i32; 4],
) -> Result<Image> {
    fill_box(
        img,
        cx,
        img.width(),
        img.page_height(),
        sides,
        &FillColor::parse(color),
    )
}

fn fill_box(
    img: &Image,
    cx: &FilterCtx<'_>,
    mut w: i32,
    mut h: i32,
    mut pad: [i32; 4],
    color: &FillColor,
) -> Result<Image> {
    if cx.rotate90 {
        std::mem::swap(&mut w, &mut h);
        pad = [pad[1], pad[0], pad[3], pad[2]];
    }
    let [pl, pt, pr, pb] = pad;
    let left = (w - img.width()) / 2 + pl;
    let top = (h - img.page_height()) / 2 + pt;
    let width = w.saturating_add(pl).saturating_add(pr);
    let height = h.saturating_add(pt).saturating_add(pb);
    let blur = color.0 == "blur" && !cx.opts.disable_blur && !img.is_animated();
    if blur {
        let background = img
            .thumbnail_image(width, height, Size::Force, Interesting::None)?
            .gaussblur(50.0)?;
        return background.composite2(img, BlendMode::Over, left, top);
    }
    let c = get_color(Some(img), &color.0);
    let mut img = img.clone();
    if img.has_alpha() && !color.is_transparent() {
        img = img.flatten(&c)?;
    }
    if color.is_transparent() {
        if img.bands() < 3 {
            img = img.colourspace(Interpretation::SRGB)?;
        }
        if !img.has_alpha() {
            img = img.add_alpha()?;
        }
        multipage::embed(&img, left, top, width, height, Extend::Black, None)
    } else if is_black(&c) {
        multipage::embed(&img, left, top, width, height, Extend::Black, None)
    } else if is_white(&c) {
        multipage::embed(&img, left, top, width, height, Extend::White, None)
    } else {
        multipage::embed(&img, left, top, width, height, Extend::Background, Some(&c))
    }
}

/// `background_color(color)`: flatten transparency onto a colour.
pub(crate) fn background_color(img: &Image, color: &str) -> Result<Image> {
    if color.is_empty() || !img.has_alpha() {
        return Ok(img.clone());
    }
    img.flatten(&get_color(Some(img), color))
}

/// `strip_icc()`: convert to sRGB through the profile, then drop it.
pub(crate) fn strip_icc(img: &Image) -> Result<Image> {
    normalize_srgb(img).with_meta(|m| m.remove("icc-profile-data"))
}

/// Fields `strip_exif` keeps: colour and animation.
const KEPT_BY_STRIP_EXIF: &[&str] = &[
    "icc-profile-data",
    "orientation",
    "n-pages",
    "page-height",
    "delay",
    "loop",
    "palette-bit-depth",
];

/// `strip_exif()`: drop EXIF, XMP, IPTC and comments; reset the resolution
/// to 72 dpi; keep the ICC profile, orientation and animation fields.
pub(crate) fn strip_exif(img: &Image) -> Result<Image> {
    let copy = crate::vips::Call::new("copy")
        .arg("in", crate::vips::Arg::Image(img))
        .arg("xres", crate::vips::Arg::Double(72.0 / 25.4))
        .arg("yres", crate::vips::Arg::Double(72.0 / 25.4))
        .run()?
        .out()?;
    copy.with_meta(|m| {
        for field in m.fields() {
            if !KEPT_BY_STRIP_EXIF.contains(&field.as_str()) {
                m.remove(&field);
            }
        }
    })
}
