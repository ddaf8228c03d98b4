//! Overlays: `image()` and `watermark()`, and the placement and compositing
//! they share with `text()` and `label()` (imagor's `compositeOverlay`).
//!
//! Here: the ops, placement arguments ([`Position`]) and the text helpers
//! `text()` shares (unescaping, base64url, f-tokens). Loading and
//! compositing are in `apply/overlay.rs`.

use super::args::{parse_float, parse_int, Args};
use crate::error::Result;
use crate::path::{H_ALIGN_LEFT, H_ALIGN_RIGHT, V_ALIGN_BOTTOM, V_ALIGN_TOP};
use crate::vips::BlendMode;

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OverlayOp {
    /// No image argument: imagor does nothing.
    Nothing,
    /// `image(imagorpath[, x[, y[, alpha[, blend_mode]]]])`: run a nested
    /// imagor path and composite the result. The path is query-unescaped;
    /// `f`/`full` sizes (`fxf`, `f-50xf-50`) are the parent's current size.
    /// Nesting is limited by [`crate::Options::max_overlay_depth`] (4 by
    /// default): a deeper `image()` is a 400.
    Image {
        /// The nested path, unescaped, f-tokens not yet resolved.
        path: String,
        /// Horizontal placement.
        x: Position,
        /// Vertical placement.
        y: Position,
        /// Transparency in percent (0 keeps the overlay as is).
        alpha: f64,
        /// How the overlay is blended.
        blend: BlendMode,
    },
    /// `watermark(image, x, y, alpha[, w_ratio, h_ratio])`: load an image
    /// key (`b64:` base64url allowed), optionally sized to a percentage of
    /// the base (`none` keeps that side), and composite it. Animated bases
    /// take every frame of an animated watermark.
    Watermark {
        /// The image key, unescaped and decoded.
        image: String,
        /// Horizontal placement.
        x: Position,
        /// Vertical placement.
        y: Position,
        /// Transparency in percent.
        alpha: f64,
        /// Width and height in percent of the base; `None` for a side
        /// means the base's full size. Absent: the watermark's own size.
        ratio: Option<(Option<i64>, Option<i64>)>,
    },
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<OverlayOp>> {
    let op = match name {
        "image" | "watermark" if a.is_empty() => OverlayOp::Nothing,
        "image" => OverlayOp::Image {
            path: unescape(a.str(0)),
            x: Position::parse(a, 1, Axis::X)?,
            y: Position::parse(a, 2, Axis::Y)?,
            alpha: a.float(3, 0.0)?,
            blend: blend_mode(a.str(4)),
        },
        "watermark" => {
            let mut image = unescape(a.str(0));
            if let Some(decoded) = image.strip_prefix("b64:").and_then(b64url_decode) {
                image = String::from_utf8_lossy(&decoded).into_owned();
            }
            // imagor reads x and y only when both are given.
            let (x, y) = if a.len() >= 3 {
                (
                    Position::parse(a, 1, Axis::X)?,
                    Position::parse(a, 2, Axis::Y)?,
                )
            } else {
                (Position::default(), Position::default())
            };
            let ratio_arg = |i: usize| -> Result<Option<i64>> {
                Ok(if a.str(i) == "none" {
                    None
                } else {
                    Some(a.int(i, 0)?)
                })
            };
            let ratio = if a.len() >= 6 {
                Some((ratio_arg(4)?, ratio_arg(5)?))
            } else {
                None
            };
            OverlayOp::Watermark {
                image,
                x,
                y,
                alpha: a.float(3, 0.0)?,
                ratio,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(op))
}

/// Which side of the canvas a [`Position`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Axis {
    /// Horizontal: `left`, `right`, `l-N`, `r-N`.
    X,
    /// Vertical: `top`, `bottom`, `t-N`, `b-N`.
    Y,
}

/// How a placement argument reads (imagor's `parseOverlayPosition`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum Place {
    /// 0: an empty argument, `left` for x, `top` for y, or a keyword of the
    /// other axis (imagor reads that as a number, 0).
    #[default]
    Origin,
    /// Pixels from the near edge (`20`); negative counts from the far edge.
    Pixels(i64),
    /// `left-N` / `l-N` / `top-N` / `t-N`: N pixels past the near edge.
    PastNear(i64),
    /// `right-N` / `r-N` / `bottom-N` / `b-N`: N pixels past the far edge.
    PastFar(i64),
    /// `center`.
    Center,
    /// `right` for x, `bottom` for y: flush with the far edge.
    Far,
    /// `repeat`: tile across the canvas.
    Repeat,
    /// `0.15` / `-0.1`: a fraction of the canvas.
    Fraction(f64),
    /// `10p`: percent of the canvas (integer arithmetic).
    Percent(i64),
}

/// One overlay coordinate: x or y of `image`, `watermark`, `text`, `label`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Position {
    place: Place,
    /// A negative result counts from the far edge (not for `center` or the
    /// keyword offsets of this axis, exactly as imagor decides it).
    from_far_if_negative: bool,
}

impl Position {
    /// Read argument `i` of `a` for `axis`. Keywords are read as imagor does;
    /// a malformed number is a 400.
    pub(super) fn parse(a: &Args<'_>, i: usize, axis: Axis) -> Result<Position> {
        let arg = a.str(i);
        let bad = || a.error(&format!("{arg:?} is not a position"));
        let int = |s: &str| parse_int(s, 0).ok_or_else(bad);
        // Go's TrimPrefix(TrimPrefix(arg, long), short).
        let strip = |long: &str, short: &str| {
            (arg.starts_with(long) || arg.starts_with(short)).then(|| {
                let rest = arg.strip_prefix(long).unwrap_or(arg);
                rest.strip_prefix(short).unwrap_or(rest)
            })
        };
        let (near, far) = match axis {
            Axis::X => (H_ALIGN_LEFT, H_ALIGN_RIGHT),
            Axis::Y => (V_ALIGN_TOP, V_ALIGN_BOTTOM),
        };
        let place = if arg.is_empty() {
            Place::Origin
        } else if let Some(n) = strip("left-", "l-") {
            Place::PastNear(int(n)?)
        } else if let Some(n) = strip("right-", "r-") {
            Place::PastFar(int(n)?)
        } else if let Some(n) = strip("top-", "t-") {
            Place::PastNear(int(n)?)
        } else if let Some(n) = strip("bottom-", "b-") {
            Place::PastFar(int(n)?)
        } else if arg == "center" {
            Place::Center
        } else if arg == far {
            Place::Far
        } else if arg == near || is_other_axis_keyword(arg) {
            Place::Origin
        } else if arg == "repeat" {
            Place::Repeat
        } else if arg.strip_prefix('-').unwrap_or(arg).starts_with("0.") {
            Place::Fraction(parse_float(arg, 0.0).ok_or_else(bad)?)
        } else if let Some(p) = arg.strip_suffix('p') {
            Place::Percent(int(p)?)
        } else {
            Place::Pixels(int(arg)?)
        };
        let keyword_prefixes: &[&str] = match axis {
            Axis::X => &["left-", "l-", "right-", "r-"],
            Axis::Y => &["top-", "t-", "bottom-", "b-"],
        };
        let from_far_if_negative =
            arg != "center" && !keyword_prefixes.iter().any(|p| arg.starts_with(p));
        Ok(Position {
            place,
            from_far_if_negative,
        })
    }

    /// The coordinate on a canvas of `canvas` pixels for an overlay of
    /// `size`, and how many tiles `repeat` needs (1 otherwise).
    pub(crate) fn resolve(&self, canvas: i64, size: i64) -> (i64, i64) {
        let (pos, repeat) = match self.place {
            Place::Origin => (0, 1),
            Place::Pixels(n) => (n, 1),
            Place::PastNear(n) => (n.saturating_neg(), 1),
            Place::PastFar(n) => ((canvas - size).saturating_add(n), 1),
            Place::Center => ((canvas - size) / 2, 1),
            Place::Far => (canvas - size, 1),
            Place::Repeat => (0, canvas / size.max(1) + 1),
            Place::Fraction(f) => ((f * canvas as f64) as i64, 1),
            Place::Percent(p) => (p.saturating_mul(canvas) / 100, 1),
        };
        if pos < 0 && self.from_far_if_negative {
            (pos.saturating_add(canvas - size), repeat)
        } else {
            (pos, repeat)
        }
    }
}

/// `top`/`bottom` given for x, or `left`/`right` for y: imagor reads them
/// as a number, which is 0.
fn is_other_axis_keyword(arg: &str) -> bool {
    [H_ALIGN_LEFT, H_ALIGN_RIGHT, V_ALIGN_TOP, V_ALIGN_BOTTOM].contains(&arg)
}

/// imagor's `blendModeMap`; unknown names blend normally.
pub(super) fn blend_mode(name: &str) -> BlendMode {
    match name.to_ascii_lowercase().as_str() {
        "multiply" => BlendMode::Multiply,
        "color-burn" => BlendMode::ColourBurn,
        "darken" => BlendMode::Darken,
        "screen" => BlendMode::Screen,
        "color-dodge" => BlendMode::ColourDodge,
        "lighten" => BlendMode::Lighten,
        "add" => BlendMode::Add,
        "overlay" => BlendMode::Overlay,
        "soft-light" => BlendMode::SoftLight,
        "hard-light" => BlendMode::HardLight,
        "difference" => BlendMode::Difference,
        "exclusion" => BlendMode::Exclusion,
        "mask" => BlendMode::DestIn,
        "mask-out" => BlendMode::DestOut,
        _ => BlendMode::Over,
    }
}

/// Go's `url.QueryUnescape`, keeping the text when it is malformed.
pub(super) fn unescape(s: &str) -> String {
    crate::path::query_unescape(s).unwrap_or_else(|| s.to_owned())
}

/// Go's `base64.RawURLEncoding` (no padding, line breaks skipped, loose
/// trailing bits).
pub(super) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    use base64::alphabet::URL_SAFE;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine;
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true);
    let clean: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    GeneralPurpose::new(&URL_SAFE, config).decode(clean).ok()
}

/// A `f`, `full`, `f-N` or `full-N` size token (with an optional leading
/// `-` for a flip): `(flip, offset)`.
pub(super) fn full_dim_token(token: &str) -> Option<(bool, i64)> {
    let (flip, rest) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let suffix = rest
        .strip_prefix("full")
        .or_else(|| rest.strip_prefix('f'))?;
    if suffix.is_empty() {
        return Some((flip, 0));
    }
    let digits = suffix.strip_prefix('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let offset = digits.parse::<i64>().map_or(i64::MIN, |v| -v);
    Some((flip, offset))
}

/// One side of a `WxH` segment: `-?` then an f-token or digits.
fn is_dim_side(s: &str) -> bool {
    full_dim_token(s).is_some()
        || s.strip_prefix('-')
            .unwrap_or(s)
            .bytes()
            .all(|b| b.is_ascii_digit())
}

fn resolve_full_dim(token: &str, parent: i32) -> String {
    match full_dim_token(token) {
        Some((flip, offset)) => {
            let v = (parent as i64).saturating_add(offset);
            format!("{}{v}", if flip { "-" } else { "" })
        }
        None => token.to_owned(),
    }
}

/// imagor's `resolveFullDimensions`: in the first `WxH` segment before
/// `filters:`, replace f-tokens by the parent's size (minus the offset).
pub(crate) fn resolve_full_dimensions(path: &str, parent_w: i32, parent_h: i32) -> String {
    let mut start = 0;
    let ends = path.match_indices('/').map(|(i, _)| i).chain([path.len()]);
    for i in ends {
        let seg = &path[start..i];
        if seg.starts_with("filters:") {
            break;
        }
        if let Some((w, h)) = seg.split_once('x') {
            if is_dim_side(w) && is_dim_side(h) {
                let (nw, nh) = (resolve_full_dim(w, parent_w), resolve_full_dim(h, parent_h));
                if nw != w || nh != h {
                    return format!("{}{nw}x{nh}{}", &path[..start], &path[i..]);
                }
                break;
            }
        }
        start = i + 1;
    }
    path.to_owned()
}
