//! Decoders that hold a whole image in their own buffers before libvips
//! sees a line: libheif (AVIF, HEIF) keeps the coded planes twice and the
//! interleaved result, libjxl decodes into 32-bit floats. Their memory is
//! charged as measured, not as the pixels libvips hands out: an 8 KB JPEG
//! XL of 9000x9000 grey took 1.3 GB when it was charged 81 MB, and a
//! 4000x4000 AVIF at 4:4:4 took 222 MB when it was charged 48 MB.

mod image_common;

use image_common::encode_with;
use imagor::vips::{Arg, Image, Interpretation};
use imagor::{Error, Imagor, Options};

/// A flat grey `width` x `height` image of `bands` bands.
fn flat(width: i32, height: i32, bands: i32) -> Image {
    Image::black(width, height, bands)
        .unwrap()
        .linear(&[1.0], &[90.0])
        .unwrap()
        .cast(0)
        .unwrap()
        .copy_as(Some(if bands < 3 {
            Interpretation::B_W
        } else {
            Interpretation::SRGB
        }))
        .unwrap()
}

/// An AVIF at 4:4:4 (`full_chroma`) or 4:2:0.
fn avif_of(width: i32, height: i32, bands: i32, full_chroma: bool) -> Vec<u8> {
    encode_with(
        &flat(width, height, bands),
        "heifsave_buffer",
        &[
            ("compression", Arg::Nick("av1")),
            ("effort", Arg::Int(0)),
            (
                "subsample_mode",
                Arg::Nick(if full_chroma { "off" } else { "on" }),
            ),
        ],
    )
}

fn avif(width: i32, height: i32, bands: i32) -> Vec<u8> {
    avif_of(width, height, bands, true)
}

fn jxl(width: i32, height: i32, bands: i32) -> Vec<u8> {
    encode_with(
        &flat(width, height, bands),
        "jxlsave_buffer",
        &[("effort", Arg::Int(3))],
    )
}

/// An instance with this `max_memory`, whose time is not what is tested (a
/// debug build converts the decoded planes slowly).
fn imagor(max_memory: u64, untrusted: bool) -> Imagor {
    Imagor::new(Options {
        max_memory,
        process_timeout: std::time::Duration::from_secs(60),
        block_untrusted_loaders: !untrusted,
        ..Options::default()
    })
    .unwrap()
}

fn assert_refused_for_memory(result: imagor::Result<imagor::Output>, what: &str) {
    match result {
        Err(e @ Error::LimitExceeded { .. }) => {
            let message = e.to_string();
            assert!(message.contains(what), "{message}");
            assert!(message.contains("max_memory"), "{message}");
        }
        other => panic!(
            "expected a memory refusal, got {:?}",
            other.map(|p| p.data.len())
        ),
    }
}

#[test]
fn an_avif_is_charged_for_the_planes_libheif_holds() {
    // 16 MP RGB: 48 MB of pixels, about 220 MB in libheif at 4:4:4.
    let big = avif(4000, 4000, 3);
    let strict = imagor(200 << 20, false);
    assert_refused_for_memory(
        strict.process(&big, "fit-in/100x100"),
        "decoding the avif image (4000x4000)",
    );
    // It fits the default max_memory when it is shrunk, not when it is
    // turned (a whole copy besides).
    let default = imagor(256 << 20, false);
    default
        .process(&big, "fit-in/100x100")
        .expect("a 4000x4000 AVIF shrunk");
    assert_refused_for_memory(
        default.process(&big, "filters:rotate(90)"),
        "decoding the avif image (4000x4000)",
    );
    // A quarter of it fits a smaller budget, and decodes.
    let out = strict
        .process(&avif(2000, 2000, 4), "fit-in/100x100")
        .expect("a 2000x2000 RGBA AVIF");
    assert!(!out.data.is_empty());
}

/// libheif holds less of a subsampled image: the `av1C` box's layout
/// decides the charge, so a 25 MP AVIF at 4:2:0 (about 190 MB) is served
/// under the default max_memory and one at 4:4:4 (about 350 MB) is not.
#[test]
fn an_avif_is_charged_by_the_chroma_layout_it_declares() {
    let default = imagor(256 << 20, false);
    default
        .process(&avif_of(5000, 5000, 3, false), "fit-in/100x100")
        .expect("a 5000x5000 AVIF at 4:2:0");
    assert_refused_for_memory(
        default.process(&avif_of(5000, 5000, 3, true), "fit-in/100x100"),
        "decoding the avif image (5000x5000)",
    );
}

/// A 4:4:4 stream whose `av1C` says 4:2:0 is charged as 4:2:0 until our
/// AV1 path decodes it and sees otherwise: it then charges the difference
/// before leaving the file to libheif, which decodes what the stream says.
#[cfg(feature = "own-av1")]
#[test]
fn an_avif_declaring_less_chroma_than_it_has_is_charged_for_what_it_has() {
    let mut lying = avif_of(5000, 5000, 3, true);
    let at = lying
        .windows(4)
        .position(|w| w == b"av1C")
        .expect("an av1C box");
    // chroma_subsampling_x and _y in the third byte of its body.
    lying[at + 6] |= 0b0000_1100;
    let imagor = imagor(256 << 20, false);
    assert_refused_for_memory(
        imagor.process(&lying, "fit-in/100x100"),
        "as its stream says, not its av1C box",
    );
    // `/meta` decodes nothing: libvips reads the header, our AV1 path is
    // not taken (it decoded the whole image for a header before).
    let meta = imagor.meta(&lying, "fit-in/100x100").expect("meta");
    assert_eq!((meta.width, meta.height), (100, 100));
}

#[test]
fn a_jpeg_xl_is_charged_for_the_floats_libjxl_holds() {
    // 25 MP of grey: 25 MB of pixels, about 400 MB in libjxl.
    let big = jxl(5000, 5000, 1);
    assert!(big.len() < 64 << 10, "{} bytes", big.len());
    let opt_in = imagor(256 << 20, true);
    assert_refused_for_memory(
        opt_in.process(&big, "fit-in/100x100"),
        "decoding the jxl image (5000x5000)",
    );
    // With alpha every pixel costs more: 2 MP of grey and alpha is refused
    // under 64 MiB, 2 MP of RGB is not.
    let tight = imagor(64 << 20, true);
    assert_refused_for_memory(
        tight.process(&jxl(1500, 1500, 2), "fit-in/100x100"),
        "decoding the jxl image (1500x1500)",
    );
    tight
        .process(&jxl(1500, 1500, 3), "fit-in/100x100")
        .expect("a 1500x1500 RGB JPEG XL");
}

/// `data`, an AVIF whose `iloc` (version 0 or 1, 4-byte offsets and
/// lengths, a 4-byte base offset or none) gives each item one extent, with
/// every item's data repeated `copies` times in an `mdat` box at the end of
/// the file and its extent pointing there.
fn with_item_data_repeated(data: &[u8], copies: usize) -> Vec<u8> {
    let at = data.windows(4).position(|w| w == b"iloc").expect("iloc") + 4;
    let version = data[at];
    assert!(version < 2, "iloc version {version}");
    assert_eq!(data[at + 4], 0x44, "4-byte offsets and lengths");
    let base_size = (data[at + 5] >> 4) as usize;
    assert!(
        base_size == 0 || base_size == 4,
        "base offset of {base_size} bytes"
    );
    assert!(version == 0 || data[at + 5] & 0x0F == 0, "no extent index");
    let u16_at = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().unwrap()) as usize;
    let mut out = data.to_vec();
    let mut p = at + 6;
    let count = u16_at(p);
    p += 2;
    for _ in 0..count {
        // Item id, construction method (version 1), data reference index.
        p += 2 + if version == 1 { 2 } else { 0 } + 2;
        let base = if base_size == 4 { u32_at(p) } else { 0 };
        if base_size == 4 {
            out[p..p + 4].copy_from_slice(&[0; 4]);
        }
        p += base_size;
        assert_eq!(u16_at(p), 1, "one extent");
        p += 2;
        let (offset, length) = (base + u32_at(p), u32_at(p + 4));
        let item = data[offset..offset + length].to_vec();
        // In an `mdat` box of its own.
        let copied = item.repeat(copies);
        out.extend(((8 + copied.len()) as u32).to_be_bytes());
        out.extend(b"mdat");
        let moved = out.len() as u32;
        out.extend(copied);
        out[p..p + 4].copy_from_slice(&moved.to_be_bytes());
        out[p + 4..p + 8].copy_from_slice(&((length * copies) as u32).to_be_bytes());
        p += 8;
    }
    out
}

/// An AV1 item's data may code many frames, and libaom (the bundled
/// libheif's decoder) decodes every one in a call nothing interrupts: 20 000
/// copies of one flat 2000x2000 frame, about 8 MB, are refused at once
/// for the time they would take, where a few copies are served.
#[test]
fn an_avif_is_charged_for_every_frame_its_item_codes() {
    refuses_repeated_frames(&avif(2000, 2000, 4));
}

/// HEVC as AV1: libheif hands libde265 every NAL unit of an item, and it
/// decodes every picture they code.
#[test]
fn a_heic_is_charged_for_every_picture_its_item_codes() {
    let heic = encode_with(
        &flat(2000, 2000, 3),
        "heifsave_buffer",
        &[("compression", Arg::Nick("hevc"))],
    );
    refuses_repeated_frames(&heic);
}

/// `one`, an AVIF or HEIC as written, is served with its item data
/// repeated three times; 20 000 times it is refused for the time its
/// frames would take, whether or not our own AV1 path takes the file.
fn refuses_repeated_frames(one: &[u8]) {
    let imagor = Imagor::new(Options::default()).unwrap();
    let path = "fit-in/100x100/filters:format(png)";
    let expected = imagor.process(one, path).expect("the file as written");
    let few = imagor
        .process(&with_item_data_repeated(one, 3), path)
        .expect("three frames in each item");
    let size = |data: &[u8]| {
        let img = image_common::decode(data);
        (img.width(), img.height())
    };
    assert_eq!(size(&few.data), size(&expected.data));
    let many = with_item_data_repeated(one, 20_000);
    // The same, with a top-level box our own AV1 path does not take (the
    // file then goes to libheif whole): every item is looked at.
    let mut not_plain = many.clone();
    not_plain.extend(24u32.to_be_bytes());
    not_plain.extend(b"uuid");
    not_plain.extend([7u8; 16]);
    for file in [many, not_plain] {
        match imagor.process(&file, path) {
            Err(e @ Error::Timeout(_)) => {
                let message = e.to_string();
                assert!(
                    message.contains("pixels of further frames its data codes"),
                    "{message}"
                );
            }
            other => panic!(
                "expected a refusal for time, got {:?}",
                other.map(|p| p.data.len())
            ),
        }
    }
}
