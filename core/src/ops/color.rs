//! Colours as imagor reads them (`fill(yellow)`, `ff0`, `#ff000080`,
//! `auto`, `transparent`), average colour, and generated `color:` images.

use crate::error::Result;
use crate::vips::{BandFormat, Image, Interesting, Interpretation, Size};

/// SVG 1.1 / CSS3 colour keywords (the table Go's `colornames` holds).
const NAMED: &[(&str, [u8; 3])] = &[
    ("aliceblue", [240, 248, 255]),
    ("antiquewhite", [250, 235, 215]),
    ("aqua", [0, 255, 255]),
    ("aquamarine", [127, 255, 212]),
    ("azure", [240, 255, 255]),
    ("beige", [245, 245, 220]),
    ("bisque", [255, 228, 196]),
    ("black", [0, 0, 0]),
    ("blanchedalmond", [255, 235, 205]),
    ("blue", [0, 0, 255]),
    ("blueviolet", [138, 43, 226]),
    ("brown", [165, 42, 42]),
    ("burlywood", [222, 184, 135]),
    ("cadetblue", [95, 158, 160]),
    ("chartreuse", [127, 255, 0]),
    ("chocolate", [210, 105, 30]),
    ("coral", [255, 127, 80]),
    ("cornflowerblue", [100, 149, 237]),
    ("cornsilk", [255, 248, 220]),
    ("crimson", [220, 20, 60]),
    ("cyan", [0, 255, 255]),
    ("darkblue", [0, 0, 139]),
    ("darkcyan", [0, 139, 139]),
    ("darkgoldenrod", [184, 134, 11]),
    ("darkgray", [169, 169, 169]),
    ("darkgreen", [0, 100, 0]),
    ("darkgrey", [169, 169, 169]),
    ("darkkhaki", [189, 183, 107]),
    ("darkmagenta", [139, 0, 139]),
    ("darkolivegreen", [85, 107, 47]),
    ("darkorange", [255, 140, 0]),
    ("darkorchid", [153, 50, 204]),
    ("darkred", [139, 0, 0]),
    ("darksalmon", [233, 150, 122]),
    ("darkseagreen", [143, 188, 143]),
    ("darkslateblue", [72, 61, 139]),
    ("darkslategray", [47, 79, 79]),
    ("darkslategrey", [47, 79, 79]),
    ("darkturquoise", [0, 206, 209]),
    ("darkviolet", [148, 0, 211]),
    ("deeppink", [255, 20, 147]),
    ("deepskyblue", [0, 191, 255]),
    ("dimgray", [105, 105, 105]),
    ("dimgrey", [105, 105, 105]),
    ("dodgerblue", [30, 144, 255]),
    ("firebrick", [178, 34, 34]),
    ("floralwhite", [255, 250, 240]),
    ("forestgreen", [34, 139, 34]),
    ("fuchsia", [255, 0, 255]),
    ("gainsboro", [220, 220, 220]),
    ("ghostwhite", [248, 248, 255]),
    ("gold", [255, 215, 0]),
    ("goldenrod", [218, 165, 32]),
    ("gray", [128, 128, 128]),
    ("green", [0, 128, 0]),
    ("greenyellow", [173, 255, 47]),
    ("grey", [128, 128, 128]),
    ("honeydew", [240, 255, 240]),
    ("hotpink", [255, 105, 180]),
    ("indianred", [205, 92, 92]),
    ("indigo", [75, 0, 130]),
    ("ivory", [255, 255, 240]),
    ("khaki", [240, 230, 140]),
    ("lavender", [230, 230, 250]),
    ("lavenderblush", [255, 240, 245]),
    ("lawngreen", [124, 252, 0]),
    ("lemonchiffon", [255, 250, 205]),
    ("lightblue", [173, 216, 230]),
    ("lightcoral", [240, 128, 128]),
    ("lightcyan", [224, 255, 255]),
    ("lightgoldenrodyellow", [250, 250, 210]),
    ("lightgray", [211, 211, 211]),
    ("lightgreen", [144, 238, 144]),
    ("lightgrey", [211, 211, 211]),
    ("lightpink", [255, 182, 193]),
    ("lightsalmon", [255, 160, 122]),
    ("lightseagreen", [32, 178, 170]),
    ("lightskyblue", [135, 206, 250]),
    ("lightslategray", [119, 136, 153]),
    ("lightslategrey", [119, 136, 153]),
    ("lightsteelblue", [176, 196, 222]),
    ("lightyellow", [255, 255, 224]),
    ("lime", [0, 255, 0]),
    ("limegreen", [50, 205, 50]),
    ("linen", [250, 240, 230]),
    ("magenta", [255, 0, 255]),
    ("maroon", [128, 0, 0]),
    ("mediumaquamarine", [102, 205, 170]),
    ("mediumblue", [0, 0, 205]),
    ("mediumorchid", [186, 85, 211]),
    ("mediumpurple", [147, 112, 219]),
    ("mediumseagreen", [60, 179, 113]),
    ("mediumslateblue", [123, 104, 238]),
    ("mediumspringgreen", [0, 250, 154]),
    ("mediumturquoise", [72, 209, 204]),
    ("mediumvioletred", [199, 21, 133]),
    ("midnightblue", [25, 25, 112]),
    ("mintcream", [245, 255, 250]),
    ("mistyrose", [255, 228, 225]),
    ("moccasin", [255, 228, 181]),
    ("navajowhite", [255, 222, 173]),
    ("navy", [0, 0, 128]),
    ("oldlace", [253, 245, 230]),
    ("olive", [128, 128, 0]),
    ("olivedrab", [107, 142, 35]),
    ("orange", [255, 165, 0]),
    ("orangered", [255, 69, 0]),
    ("orchid", [218, 112, 214]),
    ("palegoldenrod", [238, 232, 170]),
    ("palegreen", [152, 251, 152]),
    ("paleturquoise", [175, 238, 238]),
    ("palevioletred", [219, 112, 147]),
    ("papayawhip", [255, 239, 213]),
    ("peachpuff", [255, 218, 185]),
    ("peru", [205, 133, 63]),
    ("pink", [255, 192, 203]),
    ("plum", [221, 160, 221]),
    ("powderblue", [176, 224, 230]),
    ("purple", [128, 0, 128]),
    ("red", [255, 0, 0]),
    ("rosybrown", [188, 143, 143]),
    ("royalblue", [65, 105, 225]),
    ("saddlebrown", [139, 69, 19]),
    ("salmon", [250, 128, 114]),
    ("sandybrown", [244, 164, 96]),
    ("seagreen", [46, 139, 87]),
    ("seashell", [255, 245, 238]),
    ("sienna", [160, 82, 45]),
    ("silver", [192, 192, 192]),
    ("skyblue", [135, 206, 235]),
    ("slateblue", [106, 90, 205]),
    ("slategray", [112, 128, 144]),
    ("slategrey", [112, 128, 144]),
    ("snow", [255, 250, 250]),
    ("springgreen", [0, 255, 127]),
    ("steelblue", [70, 130, 180]),
    ("tan", [210, 180, 140]),
    ("teal", [0, 128, 128]),
    ("thistle", [216, 191, 216]),
    ("tomato", [255, 99, 71]),
    ("turquoise", [64, 224, 208]),
    ("violet", [238, 130, 238]),
    ("wheat", [245, 222, 179]),
    ("white", [255, 255, 255]),
    ("whitesmoke", [245, 245, 245]),
    ("yellow", [255, 255, 0]),
    ("yellowgreen", [154, 205, 50]),
];

/// A colour keyword's RGB value.
pub(crate) fn named(name: &str) -> Option<[u8; 3]> {
    NAMED
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| NAMED[i].1)
}

/// One hex digit, as imagor reads it: anything that is not `0-9a-f` is 0.
fn hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => 0,
    }
}

/// `rgb`, `rrggbb` or `rrggbbaa` (lower-case), lenient as imagor: a
/// non-hex character counts as 0.
pub(crate) fn parse_hex(s: &str) -> Option<[u8; 4]> {
    let b = s.as_bytes();
    let pair = |i: usize| hex_digit(b[i]) << 4 | hex_digit(b[i + 1]);
    match b.len() {
        8 => Some([pair(0), pair(2), pair(4), pair(6)]),
        6 => Some([pair(0), pair(2), pair(4), 255]),
        3 => Some([
            hex_digit(b[0]) * 17,
            hex_digit(b[1]) * 17,
            hex_digit(b[2]) * 17,
            255,
        ]),
        _ => None,
    }
}

/// A colour argument as RGB (imagor's `getColor`): a keyword, hex, or
/// `auto` (the image's average colour); anything else is black.
pub(crate) fn get_color(img: Option<&Image>, arg: &str) -> [f64; 3] {
    let first = arg.split(',').next().unwrap_or("").to_ascii_lowercase();
    let name = first.strip_prefix('#').unwrap_or(&first);
    if name == "auto" {
        if let Some(Ok(rgb)) = img.map(average_rgb) {
            return rgb;
        }
        return [0.0; 3];
    }
    if let Some(c) = named(name) {
        return c.map(f64::from);
    }
    if let Some(c) = parse_hex(name) {
        return [c[0], c[1], c[2]].map(f64::from);
    }
    [0.0; 3]
}

/// A colour with alpha (imagor's `getColorRGBA`); `transparent` and
/// `none` are fully transparent. `None` when not a colour at all.
pub(crate) fn get_color_rgba(arg: &str) -> Option<[f64; 4]> {
    let lower = arg.trim().to_ascii_lowercase();
    let name = lower.strip_prefix('#').unwrap_or(&lower);
    if name.is_empty() {
        return None;
    }
    if name == "transparent" || name == "none" {
        return Some([0.0; 4]);
    }
    if let Some(c) = named(name) {
        return Some([c[0], c[1], c[2], 255].map(f64::from));
    }
    parse_hex(name).map(|c| c.map(f64::from))
}

/// A `color:<spec>` image key, parsed. `None` for ordinary image keys.
pub(crate) fn parse_color_image(image: &str) -> Option<[f64; 4]> {
    let prefix = image.get(..6)?;
    if !prefix.eq_ignore_ascii_case("color:") {
        return None;
    }
    get_color_rgba(&image[6..])
}

/// A solid sRGB image, with an alpha band when the colour is translucent.
pub(crate) fn color_image(width: i32, height: i32, c: [f64; 4]) -> Result<Image> {
    let rgb = Image::black(width, height, 3)?
        .linear(&[1.0, 1.0, 1.0], &c[..3])?
        .cast(BandFormat::UCHAR)?
        .copy_as(Some(Interpretation::SRGB))?;
    if c[3] >= 255.0 {
        return Ok(rgb);
    }
    let alpha = Image::black(width, height, 1)?
        .linear(&[1.0], &[c[3]])?
        .cast(BandFormat::UCHAR)?;
    Image::bandjoin(&[&rgb, &alpha])
}

/// Convert to sRGB for colour-accurate reads: through the embedded ICC
/// profile when there is one, else by interpretation (imagor's
/// `normalizeSrgb`). Failures leave the image as it was.
pub(crate) fn normalize_srgb(img: &Image) -> Image {
    let mut out = img.clone();
    if out.has_field("icc-profile-data") {
        let depth = if out.interpretation() == Interpretation::RGB16 {
            16
        } else {
            0
        };
        if let Ok(t) = out.icc_transform("srgb", crate::vips::Intent::Perceptual, depth) {
            out = t;
        }
    }
    if out.interpretation() != Interpretation::SRGB {
        if let Ok(t) = out.colourspace(Interpretation::SRGB) {
            out = t;
        }
    }
    out
}

/// Average RGB over the image, transparent areas counted as white
/// (imagor's `avgColorRGB`).
pub(crate) fn average_rgb(img: &Image) -> Result<[f64; 3]> {
    let mut thumb = normalize_srgb(img);
    if thumb.has_alpha() {
        thumb = thumb.flatten(&[255.0, 255.0, 255.0])?;
    }
    let thumb = thumb.thumbnail_image(64, 64, Size::Down, Interesting::None)?;
    let stats = thumb.stats()?;
    let mut out = [0.0; 3];
    for (band, slot) in out.iter_mut().enumerate() {
        let v = stats.getpoint(4, band as i32 + 1)?;
        *slot = v.first().copied().unwrap_or(0.0).round();
    }
    Ok(out)
}

/// Pure black (imagor's `isBlack`).
pub(crate) fn is_black(c: &[f64; 3]) -> bool {
    c.iter().all(|v| *v == 0.0)
}

/// Pure white (imagor's `isWhite`).
pub(crate) fn is_white(c: &[f64; 3]) -> bool {
    c.iter().all(|v| *v == 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(NAMED.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(NAMED.len(), 147);
        assert_eq!(named("yellow"), Some([255, 255, 0]));
    }

    #[test]
    fn colours_parse_like_imagor() {
        assert_eq!(get_color(None, "FFO"), [255.0, 255.0, 0.0]);
        assert_eq!(get_color(None, "#ff0000"), [255.0, 0.0, 0.0]);
        assert_eq!(get_color(None, "nope"), [0.0, 0.0, 0.0]);
        assert_eq!(get_color_rgba("ff000080"), Some([255.0, 0.0, 0.0, 128.0]));
        assert_eq!(get_color_rgba("none"), Some([0.0; 4]));
        assert_eq!(get_color_rgba("blah"), None);
        assert_eq!(
            parse_color_image("COLOR:red"),
            Some([255.0, 0.0, 0.0, 255.0])
        );
        assert_eq!(parse_color_image("gopher.png"), None);
    }
}
