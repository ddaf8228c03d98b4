//! Filling and padding: `fill`, `padding`, `background_color`, and the
//! metadata strippers `strip_icc` and `strip_exif`. Only `fill`'s argument
//! needs a type of its own (`padding` is read in `mod.rs`); all of them are
//! applied in `apply/fill.rs`.

/// The argument of `fill(...)`, kept as written: `blur`, `none`,
/// `transparent`, `auto` or a colour.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FillColor(pub String);

impl FillColor {
    /// Keep the raw argument (imagor compares it literally).
    pub(crate) fn parse(raw: &str) -> FillColor {
        FillColor(raw.to_owned())
    }

    /// `fill(auto)`: the average colour, which needs the full image.
    pub(crate) fn is_auto(&self) -> bool {
        self.0.split(',').next() == Some("auto")
    }

    /// `fill(none)` or `fill(transparent)`: pad with transparency.
    pub(crate) fn is_transparent(&self) -> bool {
        self.0 == "none" || self.0 == "transparent"
    }
}
