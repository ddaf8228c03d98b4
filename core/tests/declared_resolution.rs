//! A file's declared resolution is metadata, whatever its value: a JPEG
//! whose EXIF claims 4 294 967 295 dots an inch or a PNG whose `pHYs`
//! claims as many pixels a metre is served as its sane twin is (libvips'
//! loaders keep the value; `copy`, which puts it back on decoded pixels,
//! takes at most a million a millimetre and failed the call with a 400).
//! Found by `tests/mutated_images.rs`.

mod image_common;

use image_common::{crc32, decode, testdata};
use imagor::vips::Image;
use imagor::{Imagor, Options};

/// `jpeg` with the EXIF `XResolution` and `YResolution` of its first IFD
/// set to `value` / 1.
fn jpeg_with_exif_resolution(jpeg: &[u8], value: u32) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let tiff = out
        .windows(6)
        .position(|w| w == b"Exif\0\0")
        .expect("an EXIF segment")
        + 6;
    let little = &out[tiff..tiff + 2] == b"II";
    let u16_at = |d: &[u8], at: usize| {
        let b = [d[at], d[at + 1]];
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |d: &[u8], at: usize| {
        let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let put = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let ifd = tiff + u32_at(&out, tiff + 4) as usize;
    let mut patched = 0;
    for k in 0..u16_at(&out, ifd) as usize {
        let entry = ifd + 2 + 12 * k;
        if matches!(u16_at(&out, entry), 0x011A | 0x011B) {
            let at = tiff + u32_at(&out, entry + 8) as usize;
            out[at..at + 4].copy_from_slice(&put(value));
            out[at + 4..at + 8].copy_from_slice(&put(1));
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "both resolution tags");
    out
}

/// `png` with a `pHYs` chunk of `per_metre` pixels a metre both ways,
/// right after its header.
fn png_with_phys(png: &[u8], per_metre: u32) -> Vec<u8> {
    let mut body = b"pHYs".to_vec();
    body.extend(per_metre.to_be_bytes());
    body.extend(per_metre.to_be_bytes());
    body.push(1); // metres
    let mut chunk = 9u32.to_be_bytes().to_vec();
    chunk.extend(&body);
    chunk.extend(crc32(&body).to_be_bytes());
    let ihdr_end = 8 + 25;
    [&png[..ihdr_end], &chunk[..], &png[ihdr_end..]].concat()
}

fn pixels(img: &Image) -> Vec<u8> {
    img.write_to_memory().expect("pixels")
}

#[test]
fn an_absurd_declared_resolution_is_served_as_a_sane_one() {
    let imagor = Imagor::new(Options {
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    let jpeg = testdata("Canon_40D.jpg");
    let png = testdata("gopher.png");
    let cases = [
        (
            "jpeg",
            jpeg_with_exif_resolution(&jpeg, 300),
            jpeg_with_exif_resolution(&jpeg, u32::MAX),
        ),
        (
            "png",
            png_with_phys(&png, 2835),
            png_with_phys(&png, u32::MAX),
        ),
    ];
    for (name, sane, absurd) in &cases {
        assert!(
            decode(absurd).get_double("xres").unwrap() > 1e6,
            "{name}: libvips keeps the declared value"
        );
        for path in [
            "300x200",
            "fit-in/100x100/filters:format(webp)",
            "0x0",
            "filters:format(png)",
        ] {
            let want = imagor.process(sane, path).unwrap();
            let got = imagor
                .process(absurd, path)
                .unwrap_or_else(|e| panic!("{name} {path}: {e}"));
            assert_eq!(got.content_type, want.content_type, "{name} {path}");
            assert_eq!(
                pixels(&decode(&got.data)),
                pixels(&decode(&want.data)),
                "{name} {path}"
            );
        }
        imagor.meta(absurd, "fit-in/100x100").unwrap();
    }
}
