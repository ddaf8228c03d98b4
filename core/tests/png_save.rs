//! PNG output options (`bitdepth`, `palette`) give the same pixels on every
//! libvips the crate builds against, and never read past libvips' buffers.
//!
//! libvips 8.14 wrote `bitdepth(16)` of an 8-bit image by reading each row
//! as 16-bit samples: twice its length, past the end of the strip buffer.
//! The last rows of every strip were other heap bytes, different on each
//! call (a memory disclosure), and some calls crashed the process.

mod image_common;

use image_common::{decode, testdata};
use imagor::vips::{BandFormat, Interpretation};

fn process(data: &[u8], path: &str) -> Vec<u8> {
    imagor::process(data, path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .data
}

#[test]
fn a_sixteen_bit_png_of_an_eight_bit_image_holds_its_pixels_widened() {
    // 320 and 300 rows: two strips of 128 and part of a third.
    for (name, filters, bands, space) in [
        ("find_trim.png", "", 3, Interpretation::RGB16),
        ("gopher.png", "fit-in/300x300/", 4, Interpretation::RGB16),
        (
            "find_trim.png",
            "filters:grayscale():",
            1,
            Interpretation::GREY16,
        ),
        (
            "gopher.png",
            "fit-in/300x300/filters:grayscale():",
            2,
            Interpretation::GREY16,
        ),
    ] {
        let source = testdata(name);
        let filters = if filters.ends_with(':') {
            filters.to_owned()
        } else {
            format!("{filters}filters:")
        };
        let eight = decode(&process(&source, &format!("{filters}format(png)")));
        assert_eq!(eight.bands(), bands, "{name} {filters}");
        // As libvips 8.17 widens them: colour through `colourspace`, grey
        // and alpha by 257.
        let wide = match space {
            Interpretation::RGB16 => eight.colourspace(space),
            _ => eight
                .linear(&vec![257.0; bands as usize], &vec![0.0; bands as usize])
                .and_then(|i| i.cast(BandFormat::USHORT)),
        };
        let want = wide.unwrap().write_to_memory().unwrap();
        // A palette cannot hold 16-bit samples: ignored, as libvips 8.17
        // and later do.
        for options in ["bitdepth(16)", "bitdepth(16):palette()"] {
            let path = format!("{filters}format(png):{options}");
            for _ in 0..3 {
                let got = decode(&process(&source, &path));
                assert_eq!(got.format(), BandFormat::USHORT, "{name} {path}");
                assert_eq!(got.bands(), bands, "{name} {path}");
                let got = got.write_to_memory().unwrap();
                assert!(got == want, "{name} {path}: other pixels");
            }
        }
    }
}

#[test]
fn eight_and_fewer_bits_stay_eight_bit_and_repeatable() {
    let source = testdata("find_trim.png");
    for path in [
        "filters:format(png):bitdepth(8)",
        "filters:format(png):bitdepth(4)",
        "filters:format(png):bitdepth(8):palette()",
    ] {
        let first = process(&source, path);
        assert_eq!(decode(&first).format(), BandFormat::UCHAR, "{path}");
        assert_eq!(process(&source, path), first, "{path}");
    }
}
