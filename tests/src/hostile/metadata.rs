//! Metadata that costs more than its pixels (red team I): an ICC tag table
//! whose every entry points at its own `mpet` body (our element count
//! compared each with all before it, before any charge), and a profile a
//! header read copies many times over (libtiff's, libvips', the savers').

// Shared with the core's tests: TIFF and ICC builders from test data.
#[path = "../../../core/tests/image_common/mod.rs"]
mod image_common;

use image_common::{padded_rgb_profile, tiff_with_profile};

/// `jpeg` with `icc` in APP2 segments after its SOI.
fn with_icc_segments(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let parts: Vec<&[u8]> = icc.chunks(65_519).collect();
    let mut out = jpeg[..2].to_vec();
    for (i, part) in parts.iter().enumerate() {
        out.extend([0xFF, 0xE2]);
        out.extend(((part.len() + 16) as u16).to_be_bytes());
        out.extend(b"ICC_PROFILE\0");
        out.extend([i as u8 + 1, parts.len() as u8]);
        out.extend(*part);
    }
    out.extend(&jpeg[2..]);
    out
}

/// A JPEG whose profile's tag table has `n` entries, each at its own
/// 4-byte `mpet` body (200 000: a 3.2 MB file, 4.3 s before the fix).
fn mpet_table_jpeg(jpeg: &[u8], n: usize) -> Vec<u8> {
    let bodies = 132 + 12 * n;
    let mut icc = padded_rgb_profile(128);
    icc.extend((n as u32).to_be_bytes());
    for i in 0..n {
        icc.extend(b"D2B0");
        icc.extend(((bodies + 4 * i) as u32).to_be_bytes());
        icc.extend(4u32.to_be_bytes());
    }
    icc.extend(b"mpet".repeat(n));
    let size = icc.len() as u32;
    icc[..4].copy_from_slice(&size.to_be_bytes());
    with_icc_segments(jpeg, &icc)
}

/// The corpus' cases of these files.
pub(super) fn metadata(c: &mut super::Corpus, testdata: &std::path::Path) {
    let jpeg = std::fs::read(testdata.join("demo1.jpg")).expect("testdata/demo1.jpg");
    c.add(
        "jpeg with an icc table of 200000 mpet bodies",
        mpet_table_jpeg(&jpeg, 200_000),
    );
    // A 64x64 TIFF with a 48 MB profile: 860 MB of RSS for a 100 MB one
    // before any charge; charged 4x, this one was let through at 397 MB.
    c.add(
        "tiff with a 48 MB icc profile",
        tiff_with_profile(&padded_rgb_profile(48 << 20)),
    );
}
