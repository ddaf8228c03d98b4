//! An ICC profile of another colour space than the pixels it travels with
//! is dropped before saving, as libvips 8.17 and later do.
//!
//! A CMYK source is converted to sRGB while it loads, and libvips 8.14
//! kept its CMYK profile on the sRGB pixels: WebP, AVIF and TIFF output
//! carried the 1.2 MB profile (wrong colours wherever it is honoured), and
//! the JPEG XL encoder aborted the whole process (`JXL_CHECK`) on such an
//! image with alpha.

mod image_common;

use image_common::{decode, encode, testdata};
use imagor::vips::Interpretation;

/// `gopher-front.png` (RGBA) as a CMYK TIFF with alpha, tagged with
/// libvips' CMYK profile.
fn cmyk_with_alpha() -> Vec<u8> {
    imagor::vips::init().unwrap();
    let rgba = decode(&testdata("gopher-front.png"));
    let cmyk = rgba.colourspace(Interpretation::CMYK).unwrap();
    assert_eq!(cmyk.bands(), 5);
    assert!(cmyk.has_field("icc-profile-data"));
    encode(&cmyk, "tiffsave_buffer")
}

#[test]
fn a_cmyk_profile_does_not_follow_the_pixels_into_rgb_output() {
    let source = cmyk_with_alpha();
    let saves = imagor::formats().unwrap().save;
    for format in ["webp", "png", "tiff", "avif", "jpeg", "jxl"] {
        if !saves.contains(&format) {
            continue; // This build's libvips cannot write it (406).
        }
        let path = format!("filters:format({format})");
        let out = imagor::process(&source, &path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let img = decode(&out.data);
        assert_eq!(img.interpretation(), Interpretation::SRGB, "{path}");
        if let Some(profile) = img.get_blob("icc-profile-data") {
            assert_eq!(
                &profile[16..20],
                b"RGB ",
                "{path}: a profile for other pixels"
            );
        }
    }
}

#[test]
fn a_matching_profile_is_kept() {
    let out = imagor::process(
        &testdata("jpg-24bit-icc-adobe-rgb.jpg"),
        "fit-in/100x100/filters:format(png)",
    )
    .unwrap();
    let profile = decode(&out.data)
        .get_blob("icc-profile-data")
        .expect("the Adobe RGB profile kept");
    assert_eq!(&profile[16..20], b"RGB ");
}
