//! What sharp's `metadata()` users look for beyond imagor's `/meta`: alpha,
//! colour space, density, ICC profile, progressive/interlaced, animation
//! timing, byte size. The library's `meta()` adds these for the input bytes;
//! imagor's `/meta` JSON (the server, `meta/` paths) never carries them.

use serde::{Deserialize, Serialize};

use super::decode::{call_loader, choose_loader, LoadOpts};
use super::source::Source;
use super::Ctx;
use crate::format::ImageFormat;
use crate::vips::Image;

/// Details of the input image, in snake_case in every binding (sharp's
/// names: `has_alpha` is sharp's `hasAlpha`, `space` its `space`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaDetails {
    /// Size of the input in bytes.
    pub size: u64,
    /// Whether the image has an alpha channel.
    pub has_alpha: bool,
    /// libvips' interpretation: `srgb`, `b-w`, `cmyk`, `rgb16`, `grey16`,
    /// `lab`, `scrgb`, `multiband`, ...
    pub space: String,
    /// Pixels per inch, when the file records a resolution (sharp's `density`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub density: Option<f64>,
    /// Whether an ICC profile is embedded.
    pub has_profile: bool,
    /// The embedded profile's description (`sRGB IEC61966-2.1`, `Adobe RGB (1998)`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile_name: Option<String>,
    /// Progressive JPEG or interlaced PNG/GIF.
    pub is_progressive: bool,
    /// Per-frame delays in milliseconds (animations).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delay: Option<Vec<i32>>,
    /// Loop count of an animation (0: forever).
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none", default)]
    pub loop_count: Option<i32>,
}

/// The details of `source`, from a lazy load of its header (no pixel is
/// decoded; a header read that costs more than a glance is charged to the
/// call's budget, the one its `/meta` step used). `None` when there is no
/// libvips header to read (SVG, BMP and raw pixels go through our own
/// decoders), it cannot be read, or the time left cannot pay for it: the
/// details never fail a `meta()` call that imagor's `/meta` answers.
pub(crate) fn details(ctx: &Ctx<'_>, source: &Source, size: usize) -> Option<MetaDetails> {
    let Source::Bytes { blob, sniffed } = source else {
        return None;
    };
    if matches!(
        sniffed.format,
        Some(ImageFormat::Svg | ImageFormat::Bmp) | None
    ) {
        return None;
    }
    let loader = choose_loader(ctx.opts, blob.as_slice(), sniffed).ok()?;
    let input = super::decode::Encoded::Blob(blob);
    let img = call_loader(&loader, input, sniffed.format, LoadOpts::default()).ok()?;
    Some(of_image(&img, size))
}

fn of_image(img: &Image, size: usize) -> MetaDetails {
    let profile = img.get_blob("icc-profile-data");
    let progressive = img.get_int("jpeg-multiscan") == Some(1)
        || img.get_int("interlaced").is_some_and(|v| v != 0);
    MetaDetails {
        size: size as u64,
        has_alpha: img.has_alpha(),
        space: space_name(img.interpretation()).to_owned(),
        density: img
            .get_double("xres")
            // libvips' 1 pixel/mm is its default when the file records none.
            .filter(|x| x.is_finite() && *x > 0.0 && *x != 1.0)
            .map(|x| (x * 25.4 * 100.0).round() / 100.0),
        has_profile: profile.is_some(),
        profile_name: profile.as_deref().and_then(icc_description),
        is_progressive: progressive,
        delay: img.get_array_int("delay"),
        loop_count: img.get_int("loop").filter(|_| img.has_field("delay")),
    }
}

/// libvips' nick of a `VipsInterpretation`.
fn space_name(interpretation: i32) -> &'static str {
    match interpretation {
        0 => "multiband",
        1 => "b-w",
        10 => "histogram",
        12 => "xyz",
        13 => "lab",
        15 => "cmyk",
        16 => "labq",
        17 => "rgb",
        18 => "cmc",
        19 => "lch",
        21 => "labs",
        22 => "srgb",
        23 => "yxy",
        24 => "fourier",
        25 => "rgb16",
        26 => "grey16",
        27 => "matrix",
        28 => "scrgb",
        29 => "hsv",
        _ => "unknown",
    }
}

/// The `desc` tag of an ICC profile: ICC v2 `desc` (ASCII) or v4 `mluc`
/// (first record, UTF-16BE). `None` when absent or malformed.
fn icc_description(icc: &[u8]) -> Option<String> {
    let u32_at = |at: usize| crate::probe::icc_u32(icc, at).map(|v| v as usize);
    let (_, offset, len) = crate::probe::icc_tags(icc)
        .take(1024)
        .find(|(sig, ..)| sig == b"desc")?;
    let tag = icc.get(offset..offset.checked_add(len)?)?;
    let text = match tag.get(0..4)? {
        b"desc" => {
            let n = u32_at(offset + 8)?;
            let ascii = tag.get(12..12usize.checked_add(n)?)?;
            String::from_utf8_lossy(ascii)
                .trim_end_matches('\0')
                .to_owned()
        }
        b"mluc" => {
            let rec_len = u32_at(offset + 16 + 4)?;
            let rec_off = u32_at(offset + 16 + 8)?;
            let raw = tag.get(rec_off..rec_off.checked_add(rec_len)?)?;
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_owned()
        }
        _ => return None,
    };
    // A name, not a payload: a profile's `desc` may be as long as the
    // profile (a 3 MB one made meta()'s answer 3 MB).
    let text: String = text.trim().chars().take(MAX_PROFILE_NAME).collect();
    (!text.is_empty()).then_some(text)
}

/// Characters of a profile's description `profile_name` keeps.
const MAX_PROFILE_NAME: usize = 256;

#[cfg(test)]
mod tests {
    use super::icc_description;

    /// A profile with one `desc` tag holding `tag`.
    fn profile(tag: &[u8]) -> Vec<u8> {
        let mut icc = vec![0u8; 128];
        icc.extend_from_slice(&1u32.to_be_bytes());
        icc.extend_from_slice(b"desc");
        icc.extend_from_slice(&144u32.to_be_bytes());
        icc.extend_from_slice(&(tag.len() as u32).to_be_bytes());
        icc.extend_from_slice(tag);
        icc
    }

    #[test]
    fn icc_v2_and_v4_descriptions() {
        let mut v2 = b"desc\0\0\0\0".to_vec();
        v2.extend_from_slice(&10u32.to_be_bytes());
        v2.extend_from_slice(b"Display P3\0");
        assert_eq!(
            icc_description(&profile(&v2)).as_deref(),
            Some("Display P3")
        );

        let text: Vec<u8> = "sRGB".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut v4 = b"mluc\0\0\0\0".to_vec();
        v4.extend_from_slice(&1u32.to_be_bytes()); // records
        v4.extend_from_slice(&12u32.to_be_bytes()); // record size
        v4.extend_from_slice(b"enUS");
        v4.extend_from_slice(&(text.len() as u32).to_be_bytes());
        v4.extend_from_slice(&28u32.to_be_bytes()); // offset from the tag start
        v4.extend_from_slice(&text);
        assert_eq!(icc_description(&profile(&v4)).as_deref(), Some("sRGB"));

        // Truncated or hostile tables give None, never a panic.
        for cut in 0..profile(&v4).len() {
            let _ = icc_description(&profile(&v4)[..cut]);
        }
        let mut huge = profile(&v2);
        huge[144 - 8..144 - 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(icc_description(&huge), None);
        // A description of 3 MB is cut to a name's length.
        let mut long = b"desc\0\0\0\0".to_vec();
        long.extend_from_slice(&(3u32 << 20).to_be_bytes());
        long.extend(std::iter::repeat_n(b'N', 3 << 20));
        let name = icc_description(&profile(&long)).expect("a name");
        assert_eq!(name.chars().count(), 256);
        assert_eq!(icc_description(b"short"), None);
    }
}
