//! Text: imagor's `text()` and thumbor's `label()`, rendered with Pango
//! (libvips `text`), coloured, and placed like overlays.
//!
//! Text arguments are query-unescaped, then a `b64:` prefix means
//! base64url. Fonts are Pango descriptions with `-` for spaces
//! (`sans-bold-24`).

use super::apply::FilterCtx;
use super::args::{parse_float, parse_int, Args};
use super::overlay::{
    self, b64url_decode, blend_mode, composite_overlay, full_dim_token, unescape, Axis, Position,
};
use crate::error::{Error, Result};
use crate::ops::color::get_color;
use crate::options::Options;
use crate::vips::{BandFormat, BlendMode, Extend, Image, TextOptions, TextWrap};

/// libvips' largest `width`/`height` of `text` and of an image side.
const MAX_TEXT_BOX: i64 = 10_000_000;
/// libvips' largest `dpi` and `spacing` of `text`; imagor passes larger
/// values, which libvips ignores.
const MAX_TEXT_PARAM: i64 = 1_000_000;

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TextOp {
    /// No text (or only spaces): imagor does nothing.
    Nothing,
    /// `text(text, x, y, font, color, alpha, blend_mode, width, align,
    /// justify, wrap, spacing, dpi)`.
    Text(Box<TextSpec>),
    /// `label(text, x, y, size, color, alpha, font)`.
    Label(Box<LabelSpec>),
}

/// The arguments of `text()`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextSpec {
    text: String,
    x: Position,
    y: Position,
    /// Pango font description (`sans 20` by default).
    font: String,
    /// Colour argument, resolved against the image (`auto`).
    color: String,
    alpha: f64,
    blend: BlendMode,
    width: TextWidth,
    /// `low`, `centre` or `high`.
    align: &'static str,
    justify: bool,
    wrap: TextWrap,
    spacing: i64,
    dpi: i64,
}

/// The arguments of `label()`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelSpec {
    text: String,
    x: Position,
    y: Position,
    /// Text height in pixels (autofit box height).
    size: i64,
    color: String,
    alpha: f64,
    /// Pango font family (`sans` by default).
    font: String,
}

/// imagor's `parseTextWidth`: the wrap width, relative to the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TextWidth {
    /// Pixels; 0 means unconstrained.
    Pixels(i64),
    /// `f`, `full`, `f-N`: the canvas width plus the (negative) offset.
    Full(i64),
    /// `80p`.
    Percent(i64),
    /// `0.8`.
    Fraction(f64),
}

impl TextWidth {
    fn parse(a: &Args<'_>, i: usize) -> Result<TextWidth> {
        let arg = a.str(i);
        let bad = || a.error(&format!("{arg:?} is not a width"));
        Ok(if let Some((_, offset)) = full_dim_token(arg) {
            TextWidth::Full(offset)
        } else if let Some(p) = arg.strip_suffix('p') {
            TextWidth::Percent(parse_int(p, 0).ok_or_else(bad)?)
        } else if arg.strip_prefix('-').unwrap_or(arg).starts_with("0.") {
            TextWidth::Fraction(parse_float(arg, 0.0).ok_or_else(bad)?)
        } else {
            TextWidth::Pixels(parse_int(arg, 0).ok_or_else(bad)?)
        })
    }

    /// Pixels on a canvas `canvas` wide; libvips ignores values outside
    /// its range, so they mean "unconstrained" (0).
    fn resolve(self, canvas: i64) -> i32 {
        let w = match self {
            TextWidth::Pixels(n) => n,
            TextWidth::Full(offset) => canvas.saturating_add(offset),
            TextWidth::Percent(p) => p.saturating_mul(canvas) / 100,
            TextWidth::Fraction(f) => (f * canvas as f64) as i64,
        };
        if (1..=MAX_TEXT_BOX).contains(&w) {
            w as i32
        } else {
            0
        }
    }
}

/// imagor's `decodeTextArg`; the text ends at a NUL byte, as in C.
fn decode_text(arg: &str) -> String {
    let mut s = unescape(arg);
    if let Some(decoded) = s.strip_prefix("b64:").and_then(b64url_decode) {
        s = String::from_utf8_lossy(&decoded).into_owned();
    }
    truncate_at_nul(s)
}

/// imagor's `parseFontArg`: unescaped, `-` read as a space.
fn decode_font(arg: &str) -> String {
    truncate_at_nul(unescape(arg).replace('-', " "))
}

fn truncate_at_nul(mut s: String) -> String {
    if let Some(i) = s.find('\0') {
        s.truncate(i);
    }
    s
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<TextOp>> {
    if name != "text" && name != "label" {
        return Ok(None);
    }
    let text = decode_text(a.str(0));
    if text.trim().is_empty() {
        return Ok(Some(TextOp::Nothing));
    }
    let x = Position::parse(a, 1, Axis::X)?;
    let y = Position::parse(a, 2, Axis::Y)?;
    let n = a.len();
    if name == "label" {
        return Ok(Some(TextOp::Label(Box::new(LabelSpec {
            text,
            x,
            y,
            size: if n > 3 { a.int(3, 0)? } else { 20 },
            color: a.str(4).to_owned(),
            alpha: a.float(5, 0.0)?,
            font: if n > 6 {
                decode_font(a.str(6))
            } else {
                "sans".to_owned()
            },
        }))));
    }
    let align = match a.str(8).to_ascii_lowercase().as_str() {
        "centre" | "center" => "centre",
        "high" | "right" => "high",
        _ => "low",
    };
    let wrap = match a.str(10).to_ascii_lowercase().as_str() {
        "char" => TextWrap::Char,
        "wordchar" | "word_char" => TextWrap::WordChar,
        "none" => TextWrap::None,
        _ => TextWrap::Word,
    };
    Ok(Some(TextOp::Text(Box::new(TextSpec {
        text,
        x,
        y,
        font: if n > 3 {
            decode_font(a.str(3))
        } else {
            "sans 20".to_owned()
        },
        color: a.str(4).to_owned(),
        alpha: a.float(5, 0.0)?,
        blend: blend_mode(a.str(6)),
        width: TextWidth::parse(a, 7)?,
        align,
        justify: matches!(a.str(9), "true" | "1"),
        wrap,
        spacing: a.int(11, 0)?,
        dpi: a.int(12, 0)?,
    }))))
}

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
                check_area(text_area(&t.text, px, width, spacing), opts)?;
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
                super::apply::check_auto_color(img, &t.color, cx)?;
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
                let o = TextOptions {
                    font: &l.font,
                    width: LABEL_WIDTH,
                    height,
                    ..TextOptions::default()
                };
                super::apply::check_auto_color(img, &l.color, cx)?;
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
    let mut base = overlay::ensure_srgb(img)?;
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
