//! Metadata that costs more than its pixels (red team I): an ICC tag table
//! whose every entry points at its own `mpet` body (our element count
//! compared each with all before it, before any charge), and a profile a
//! header read copies many times over (libtiff's, libvips', the savers'),
//! and the APP segments libjpeg keeps of a JPEG.

// Shared with the core's tests: TIFF and ICC builders from test data.
#[path = "../../../core/tests/image_common/mod.rs"]
mod image_common;

use image_common::{mpet_table_profile, padded_rgb_profile, tiff_with_profile, with_icc_segments};

/// The corpus' cases of these files.
pub(super) fn metadata(c: &mut super::Corpus, testdata: &std::path::Path) {
    let jpeg = std::fs::read(testdata.join("demo1.jpg")).expect("testdata/demo1.jpg");
    c.add(
        "jpeg with an icc table of 200000 mpet bodies",
        with_icc_segments(&jpeg, &mpet_table_profile(200_000)),
    );
    // A 64x64 TIFF with a 48 MB profile: 860 MB of RSS for a 100 MB one
    // before any charge; charged 4x, this one was let through at 397 MB.
    c.add(
        "tiff with a 48 MB icc profile",
        tiff_with_profile(&padded_rgb_profile(48 << 20)),
    );
    // 1000 APP1 segments of 64 KB (XMP packets of filler): libjpeg keeps
    // them all at each header read, 190-250 MB beyond the file, uncharged
    // before; now 3 copies, 196 MB, charged first.
    c.add("jpeg with 1000 app1 segments of 64 KB", {
        let mut payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
        payload.resize(65_533, b'Z');
        let mut out = jpeg[..2].to_vec();
        for _ in 0..1000 {
            out.extend([0xFF, 0xE1]);
            out.extend(((payload.len() + 2) as u16).to_be_bytes());
            out.extend(&payload);
        }
        out.extend(&jpeg[2..]);
        out
    });
}
