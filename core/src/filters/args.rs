//! Reading filter arguments once, with clear 400 errors.
//!
//! imagor reads every numeric argument with Go's `Atoi`/`ParseFloat` and
//! silently uses 0 when that fails. We keep its behaviour for empty
//! arguments (they mean "not given") and reject text that is not a number.

use crate::error::{Error, Result};

/// The arguments of one filter, split at top-level commas.
pub(crate) struct Args<'a> {
    name: &'a str,
    raw: &'a str,
    parts: Vec<String>,
}

impl<'a> Args<'a> {
    /// Split the raw argument text of filter `name`.
    pub(crate) fn new(name: &'a str, raw: &'a str) -> Self {
        Args {
            name,
            raw,
            parts: crate::path::split_args(raw),
        }
    }

    /// Number of arguments (an empty argument list has none).
    pub(crate) fn len(&self) -> usize {
        self.parts.len()
    }

    /// No arguments at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Argument `i` as text (`""` when absent).
    pub(crate) fn str(&self, i: usize) -> &str {
        self.parts.get(i).map_or("", String::as_str)
    }

    /// The whole raw argument text.
    pub(crate) fn raw(&self) -> &str {
        self.raw
    }

    /// A 400 naming this filter and argument.
    pub(crate) fn error(&self, what: &str) -> Error {
        Error::invalid_msg(format!("invalid {}({}): {what}", self.name, self.raw))
    }

    /// Argument `i` as an integer; empty or absent is `default`.
    pub(crate) fn int(&self, i: usize, default: i64) -> Result<i64> {
        parse_int(self.str(i), default)
            .ok_or_else(|| self.error(&format!("{:?} is not a number", self.str(i))))
    }

    /// Argument `i` as a float; empty or absent is `default`.
    pub(crate) fn float(&self, i: usize, default: f64) -> Result<f64> {
        parse_float(self.str(i), default)
            .ok_or_else(|| self.error(&format!("{:?} is not a number", self.str(i))))
    }
}

/// An integer as imagor reads it; a float is truncated toward zero;
/// empty text gives `default`; text that is not a number gives `None`.
pub(crate) fn parse_int(s: &str, default: i64) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(default);
    }
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let f = parse_float(s, f64::NAN)?;
    if f.is_finite() {
        Some(f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
    } else {
        None
    }
}

/// A finite float; empty text gives `default`; anything else `None`.
pub(crate) fn parse_float(s: &str, default: f64) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(default);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => None,
    }
}

/// Clamp an `i64` into `i32` (image sizes and offsets).
pub(crate) fn to_i32(v: i64) -> i32 {
    v.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_imagor_but_reject_text() {
        assert_eq!(parse_int("", 7), Some(7));
        assert_eq!(parse_int("-12", 0), Some(-12));
        assert_eq!(parse_int("90.7", 0), Some(90));
        assert_eq!(parse_int("abc", 0), None);
        assert_eq!(parse_float("0.5", 0.0), Some(0.5));
        assert_eq!(parse_float("inf", 0.0), None);
        let a = Args::new("blur", "5,abc");
        assert_eq!(a.len(), 2);
        assert_eq!(a.int(0, 0).ok(), Some(5));
        let e = a.float(1, 0.0).err().map(|e| e.status());
        assert_eq!(e, Some(400));
    }
}
