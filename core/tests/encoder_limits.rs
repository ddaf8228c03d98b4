//! Encoder settings that are cheap to ask for: each gives what it asks,
//! within the call's budget.

mod image_common;

use image_common::{decode, padded_rgb_profile, testdata, tiff_with_profile};

#[test]
fn the_lowest_jpeg_xl_qualities_give_the_smallest_files() {
    let png = testdata("gopher.png");
    let size = |q: i32| {
        imagor::process(
            &png,
            &format!("fit-in/400x400/filters:format(jxl):quality({q})"),
        )
        .map(|out| out.data.len())
    };
    let at_five = match size(5) {
        Ok(n) => n,
        // A libvips without a JPEG XL encoder.
        Err(e) if e.status() == 406 || e.status() == 501 => return,
        Err(e) => panic!("{e}"),
    };
    let at_ten = size(10).expect("quality(10)");
    assert!(
        at_five <= at_ten,
        "quality(5) {at_five} > quality(10) {at_ten}"
    );
    // libvips 8.14 maps quality(1) to quality(4) to distances libjxl
    // refuses, which then encoded at its default distance: 14.8 KB here
    // where quality(5) gave 3.8 KB (267 KB against 7 KB for 800x800 of
    // noise), with libjxl's complaint on stderr.
    for q in 1..5 {
        let n = size(q).expect("low quality");
        assert!(
            n <= at_five,
            "quality({q}) gave {n} bytes, quality(5) {at_five}"
        );
    }
}

/// An 8x8 RGB TIFF with an Adobe RGB profile grown to `size` bytes.
fn tiff_with_big_profile(size: usize) -> Vec<u8> {
    tiff_with_profile(&padded_rgb_profile(size))
}

/// An ICC profile of `size` bytes: the Adobe RGB one grown with zeros, or
/// with its second half noise (`noise`).
fn profile(size: usize, noise: bool) -> Vec<u8> {
    let mut icc = padded_rgb_profile(size);
    if noise {
        let mut x: u32 = 0x2545_f491;
        let half = icc.len() / 2;
        for b in &mut icc[half..] {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (x >> 24) as u8;
        }
    }
    icc
}

/// libjxl 0.7 (Debian 12) writes a profile past 64 KiB of zeros, or past
/// 128 KiB of any bytes, that its own decoder refuses ("Corrupted stream"
/// in its ICC codec): the saved file could not be read at all. A profile
/// over 64 KiB now takes the pixels to sRGB and is left out, as a JPEG's
/// past its 255 segments; up to 64 KiB it is kept (libjxl may store it as
/// the colour space it describes). A 12 MB one (libjxl spent 28-31 bytes
/// of memory a byte of it: 901 MB for a 30 MB one) is not embedded either.
#[test]
fn a_jpeg_xl_keeps_only_a_profile_libjxl_reads_back() {
    let cases = [
        (4 << 10, false),
        (64 << 10, false),
        (64 << 10, true),
        (96 << 10, false),
        (132 << 10, true),
        (1 << 20, false),
        (12 << 20, false),
    ];
    for (size, noise) in cases {
        let tiff = tiff_with_profile(&profile(size, noise));
        let out = match imagor::process(&tiff, "filters:format(jxl)") {
            Err(e) if e.status() == 406 || e.status() == 501 => return,
            result => result.unwrap_or_else(|e| panic!("{size} {noise}: {e}")),
        };
        // Read back by libjxl (libvips' loader, untrusted to imagor), all
        // of it: its header, its profile and its pixels.
        let pixels = decode(&out.data).write_to_memory();
        assert!(
            pixels.is_ok_and(|p| p.len() == 8 * 8 * 3),
            "{size} bytes of profile, noise {noise}: the JPEG XL does not read back"
        );
    }
}

/// The ICC segments of a JPEG: (sequence number, count) of each.
fn icc_segments(jpeg: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        if marker == 0xDA {
            break;
        }
        if marker == 0xE2 && jpeg[at + 4..].starts_with(b"ICC_PROFILE\0") {
            out.push((jpeg[at + 16], jpeg[at + 17]));
        }
        at += 2 + len;
    }
    out
}

#[test]
fn a_profile_too_long_for_a_jpeg_is_applied_not_mangled() {
    // 20 MB: 321 APP2 segments, which libvips 8.14 numbered 1..255, then
    // 0..65, each saying there were 65.
    let tiff = tiff_with_big_profile(20 << 20);
    let out = imagor::process(&tiff, "filters:format(jpeg)").expect("jpeg");
    assert_eq!(icc_segments(&out.data), vec![], "{} bytes", out.data.len());
    // A profile that fits is kept whole.
    let fits = tiff_with_big_profile(1 << 20);
    let out = imagor::process(&fits, "filters:format(jpeg)").expect("jpeg");
    let segments = icc_segments(&out.data);
    assert_eq!(segments.len(), 17);
    assert!(segments
        .iter()
        .enumerate()
        .all(|(i, &(n, of))| n as usize == i + 1 && of == 17));
}
