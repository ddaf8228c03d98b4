//! Text: imagor's `text()` and thumbor's `label()`, rendered with Pango
//! (libvips `text`), coloured, and placed like overlays.
//!
//! Text arguments are query-unescaped, then a `b64:` prefix means
//! base64url. Fonts are Pango descriptions with `-` for spaces
//! (`sans-bold-24`). Rendering and placing are in `apply/text.rs`.

use super::args::{parse_float, parse_int, Args};
use super::overlay::{b64url_decode, blend_mode, full_dim_token, unescape, Axis, Position};
use crate::error::Result;
use crate::vips::{BlendMode, TextWrap};

/// libvips' largest `width`/`height` of `text` and of an image side.
pub(crate) const MAX_TEXT_BOX: i64 = 10_000_000;

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
    /// The text, decoded.
    pub(crate) text: String,
    /// Horizontal placement.
    pub(crate) x: Position,
    /// Vertical placement.
    pub(crate) y: Position,
    /// Pango font description (`sans 20` by default).
    pub(crate) font: String,
    /// Colour argument, resolved against the image (`auto`).
    pub(crate) color: String,
    /// Transparency in percent.
    pub(crate) alpha: f64,
    /// How the text is blended.
    pub(crate) blend: BlendMode,
    /// Wrap width.
    pub(crate) width: TextWidth,
    /// `low`, `centre` or `high`.
    pub(crate) align: &'static str,
    /// Justify the lines.
    pub(crate) justify: bool,
    /// Where lines may break.
    pub(crate) wrap: TextWrap,
    /// Extra line spacing (libvips `spacing`).
    pub(crate) spacing: i64,
    /// Rendering resolution (libvips `dpi`).
    pub(crate) dpi: i64,
}

/// The arguments of `label()`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelSpec {
    /// The text, decoded.
    pub(crate) text: String,
    /// Horizontal placement.
    pub(crate) x: Position,
    /// Vertical placement.
    pub(crate) y: Position,
    /// Text height in pixels (autofit box height).
    pub(crate) size: i64,
    /// Colour argument, resolved against the image (`auto`).
    pub(crate) color: String,
    /// Transparency in percent.
    pub(crate) alpha: f64,
    /// Pango font family (`sans` by default).
    pub(crate) font: String,
}

/// imagor's `parseTextWidth`: the wrap width, relative to the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TextWidth {
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
    pub(crate) fn resolve(self, canvas: i64) -> i32 {
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
    super::markup::check(&text).map_err(|m| a.error(&m))?;
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
