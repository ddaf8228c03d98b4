//! Effects: blur, sharpen, pixelate. They are applied in
//! `apply/effects.rs`.

use super::args::{to_i32, Args};
use crate::error::Result;

/// A parsed filter of this family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EffectOp {
    /// `blur(radius)` (sigma = radius / 2) or `blur(radius, sigma)`; 0 or
    /// less does nothing. Animations are left alone, as in imagor.
    Blur(f64),
    /// `sharpen(amount)` or `sharpen(_, amount[, _])`: libvips' `sharpen`
    /// with sigma `1 + 2 * amount`, `x1 = 1`, `m2 = 2`; not on animations.
    Sharpen(f64),
    /// `pixelate(block)`: box-shrink then pixel-replicate by `block`
    /// (default 10), frame by frame.
    Pixelate(i32),
}

/// Parse `name(args)` if it belongs to this family.
pub(crate) fn parse(name: &str, a: &Args<'_>) -> Result<Option<EffectOp>> {
    let op = match name {
        "blur" => EffectOp::Blur(match a.len() {
            2 => a.float(1, 0.0)?,
            1 => a.float(0, 0.0)? / 2.0,
            _ => 0.0,
        }),
        "sharpen" => {
            let amount = match a.len() {
                1 => a.float(0, 0.0)?,
                2 | 3 => a.float(1, 0.0)?,
                _ => 0.0,
            };
            EffectOp::Sharpen(1.0 + amount * 2.0)
        }
        "pixelate" => {
            let block = if a.is_empty() { 0 } else { a.int(0, 0)? };
            EffectOp::Pixelate(if block > 0 { to_i32(block) } else { 10 })
        }
        _ => return Ok(None),
    };
    Ok(Some(op))
}
