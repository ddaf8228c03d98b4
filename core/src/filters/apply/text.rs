//! Rendering `text()` and `label()` ([`TextOp`]) with Pango (libvips
//! `text`) under the resolution budget, colouring them, and placing them
//! like overlays.

use super::overlay::{composite_overlay, ensure_srgb};
use super::{check_auto_color, FilterCtx};
use crate::error::{Error, Result};
use crate::filters::overlay::Position;
use crate::filters::text::{TextOp, MAX_TEXT_BOX};
use crate::ops::color::get_color;
use crate::options::Options;
use crate::vips::{BandFormat, BlendMode, Extend, Image, TextOptions};

/// libvips' largest `dpi` and `spacing` of `text`; imagor passes larger
/// values, which libvips ignores.
const MAX_TEXT_PARAM: i64 = 1_000_000;

impl TextOp {
    /// Apply to `img`.
    pub(crate) fn apply(&self, img: &Image, cx: &mut FilterCtx<'_>) -> Result<Image> {
        let opts = cx.opts;
        match self {
            TextOp::Nothing => Ok(img.clone()),
            TextOp::Text(t) => {
                let width = t.width.resolve(img.width() as i64);
                let in_range = |v: i64| {
                    if (1..=MAX_TEXT_PARAM).contains(&v) {
                        v as i32
                    } else {
                        0
                    }
                };
                let (spacing, dpi) = (in_range(t.spacing), in_range(t.dpi));
                let px = font_pixels(&t.font, dpi);
                let area = text_area(&t.text, px, width, spacing);
                check_area(area, opts)?;
                charge_text(cx, area)?;
                let o = TextOptions {
                    font: &t.font,
                    width,
                    height: 0,
                    align: t.align,
                    justify: t.justify,
                    wrap: Some(t.wrap),
                    spacing,
                    dpi,
                };
                check_auto_color(img, &t.color, cx)?;
                let rendered = colorize(&Image::text(&t.text, &o)?, img, &t.color)?;
                draw(img, &rendered, &t.x, &t.y, t.alpha, t.blend)
            }
            TextOp::Label(l) => {
                if l.size > MAX_TEXT_BOX {
                    return Err(Error::Processing(format!(
                        "label: size {} is out of range",
                        l.size
                    )));
                }
                let height = l.size.max(0) as i32;
                // Autofit keeps the text inside LABEL_WIDTH x size.
                let px = if height > 0 {
                    height as f64
                } else {
                    font_pixels(&l.font, 0)
                };
                let area = text_area(&l.text, px, LABEL_WIDTH, 0);
                let area = if height > 0 {
                    area.min(LABEL_WIDTH as f64 * height as f64)
                } else {
                    area
                };
                check_area(area, opts)?;
                charge_text(cx, area)?;
                let o = TextOptions {
                    font: &l.font,
                    width: LABEL_WIDTH,
                    height,
                    ..TextOptions::default()
                };
                check_auto_color(img, &l.color, cx)?;
                let mut rendered = colorize(&Image::text(&l.text, &o)?, img, &l.color)?;
                if rendered.height() < height {
                    let w = rendered.width();
                    rendered = rendered.embed(0, 0, w, height, Extend::Black, None)?;
                }
                draw(img, &rendered, &l.x, &l.y, l.alpha, BlendMode::Over)
            }
        }
    }
}

/// `label()` renders into a box this wide (autofit to `size` high).
const LABEL_WIDTH: i32 = 9999;

/// Pango renders black text with coverage in alpha: set the colour, keep
/// the alpha.
fn colorize(text: &Image, img: &Image, color: &str) -> Result<Image> {
    let [r, g, b] = get_color(Some(img), color);
    text.linear(&[0.0, 0.0, 0.0, 1.0], &[r, g, b, 0.0])?
        .cast(BandFormat::UCHAR)
}

/// Give the base sRGB and alpha, then composite the text.
fn draw(
    img: &Image,
    text: &Image,
    x: &Position,
    y: &Position,
    alpha: f64,
    mode: BlendMode,
) -> Result<Image> {
    let mut base = ensure_srgb(img)?;
    if !base.has_alpha() {
        base = base.add_alpha()?;
    }
    composite_overlay(&base, text, x, y, alpha, mode)
}

/// The font size in pixels from a Pango description's trailing size
/// (`"sans bold 24"`: points at `dpi`, `"sans 30px"`: pixels); libvips'
/// default is 12 points at 72 dpi.
fn font_pixels(font: &str, dpi: i32) -> f64 {
    let dpi = if dpi > 0 { dpi as f64 } else { 72.0 };
    let last = font.split_whitespace().last().unwrap_or("");
    if let Some(px) = last.strip_suffix("px").and_then(|v| v.parse::<f64>().ok()) {
        return px.abs();
    }
    let pt = last
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .unwrap_or(12.0);
    pt.abs() * dpi / 72.0
}

/// Rough pixel area of rendered text: about 0.6 em per character and
/// 1.2 em per line, plus the extra line spacing.
fn text_area(text: &str, px: f64, wrap_width: i32, spacing: i32) -> f64 {
    let chars = text.chars().count() as f64;
    let line_width = chars * 0.6 * px;
    let wrap = if wrap_width > 0 {
        wrap_width as f64
    } else {
        f64::INFINITY
    };
    let wrapped = if wrap.is_finite() {
        line_width / wrap
    } else {
        0.0
    };
    let lines = (text.matches('\n').count() + 1) as f64 + wrapped;
    chars * 0.72 * px * px + lines * spacing as f64 * line_width.min(wrap)
}

/// Pango lays out and rasterises the text in one call libvips cannot
/// interrupt: charge its memory (4 bytes a pixel) and time to the budget.
fn charge_text(cx: &FilterCtx<'_>, area: f64) -> Result<()> {
    let what = "rendering text";
    cx.budget
        .charge_memory(what, (area.max(0.0) * 4.0) as u64)?;
    cx.budget
        .charge_time(what, crate::budget::Cost::per_pixel(area, 20.0))
}

/// Pango rasterises the whole text in memory (up to 32767 pixels a side,
/// 4 bytes a pixel) before anything is clipped to the canvas. Refuse text
/// whose estimated area exceeds the resolution limit, as any other image
/// over it would be (422). Normal text is orders of magnitude below;
/// `unlimited` lifts the check.
fn check_area(area: f64, opts: &Options) -> Result<()> {
    if !opts.unlimited && area > opts.max_resolution as f64 {
        return Err(Error::MaxResolutionExceeded);
    }
    Ok(())
}
