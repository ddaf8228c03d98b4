//! Metadata held to the call's budget: what a header read copies (ICC
//! profiles, XMP, PNG text, TIFF descriptions) is charged before it, an
//! ICC tag table is read as far as LittleCMS reads it, and `/meta` names a
//! profile in a name's length. (The library's `meta()` reading its details
//! within the call's budget: `tests/header_reads.rs`.)

mod image_common;

use std::time::{Duration, Instant};

use image_common::{
    crc32, mpet_table_profile, padded_rgb_profile, testdata, tiff_with_blob, tiff_with_profile,
    with_icc_segments,
};
use imagor::{Imagor, Options};

/// The tests here time calls: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_huge_icc_profile_is_charged_before_the_header_read_that_copies_it() {
    let _one = one_at_a_time();
    let icc = padded_rgb_profile(24 << 20);
    let tiff = tiff_with_profile(&icc);
    // The profile travels into WebP and AVIF output (it matches the
    // pixels), which gives those files with the same profile.
    let unlimited = Imagor::new(Options {
        max_memory: 0,
        process_timeout: Duration::ZERO,
        ..Options::default()
    })
    .unwrap();
    let webp = unlimited
        .process(&tiff, "filters:format(webp)")
        .expect("webp")
        .data;
    let avif = unlimited
        .process(&tiff, "filters:format(avif)")
        .expect("avif")
        .data;
    assert!(webp.len() > 24 << 20 && avif.len() > 24 << 20);

    // 24 MB of metadata: libtiff's, libvips' and our copies, and the
    // output's, grew a call's RSS by 6-8x the profile (a 100 MB one: 860-963
    // MB, with max_memory at 256 MiB), with nothing charged.
    let small = Imagor::new(Options {
        max_memory: 64 << 20,
        ..Options::default()
    })
    .unwrap();
    for (name, data) in [("tiff", &tiff), ("webp", &webp)] {
        for path in ["meta/", "fit-in/4x4/filters:format(png)"] {
            let e = small.process(data, path).map(drop).expect_err(name);
            assert_eq!(e.status(), 422, "{name} {path}: {e}");
            assert!(e.to_string().contains("metadata"), "{name} {path}: {e}");
        }
    }
    // libheif reads a `colr` profile a byte at a time (40-60 ns each): a
    // 100 MB one took 4.2-6 s of a 2 s budget, all in the one call that
    // reads the header, before any charge.
    let quick = Imagor::new(Options {
        process_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .unwrap();
    let started = Instant::now();
    let e = quick
        .process(&avif, "fit-in/4x4")
        .map(drop)
        .expect_err("avif");
    assert_eq!(e.status(), 408, "{e}");
    assert!(e.to_string().contains("metadata"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A 24 MB image description, which libvips keeps as a string and
    // writes into TIFF output, likewise (50 MB: 552 MB writing TIFF).
    let mut description = vec![b'D'; 24 << 20];
    description.push(0);
    let described = tiff_with_blob((270, 2), &description);
    let e = small
        .process(&described, "filters:format(tiff)")
        .map(drop)
        .expect_err("described");
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.to_string().contains("metadata"), "{e}");
    // A profile of a realistic size is not charged.
    let ok = tiff_with_profile(&padded_rgb_profile(600 << 10));
    small
        .process(&ok, "fit-in/4x4/filters:format(png)")
        .unwrap();
}

#[test]
fn uncompressed_png_text_is_charged_before_the_header_read_that_copies_it() {
    let _one = one_at_a_time();
    // A plain 8x8 PNG, with 12 MB of XMP in an uncompressed iTXt chunk
    // after its IHDR.
    let tiff = tiff_with_profile(&[]);
    let plain = Imagor::new(Options::default())
        .unwrap()
        .process(&tiff, "filters:format(png)")
        .expect("png")
        .data;
    let mut body = b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">".to_vec();
    body.resize(12 << 20, b' ');
    body.extend(b"</x:xmpmeta>");
    let mut chunk = (body.len() as u32).to_be_bytes().to_vec();
    chunk.extend(b"iTXt");
    chunk.extend(&body);
    chunk.extend(crc32(&chunk[4..]).to_be_bytes());
    let ihdr_end = 8 + 8 + 13 + 4;
    let png = [&plain[..ihdr_end], &chunk, &plain[ihdr_end..]].concat();
    // libspng keeps the text whole, libvips copies it into the image's
    // metadata and the savers into their output: a 50 MB one grew a call
    // writing WebP by 257 MB, with nothing charged.
    let small = Imagor::new(Options {
        max_memory: 32 << 20,
        ..Options::default()
    })
    .unwrap();
    for path in ["meta/", "fit-in/4x4/filters:format(webp)"] {
        let e = small.process(&png, path).map(drop).expect_err(path);
        assert_eq!(e.status(), 422, "{path}: {e}");
        assert!(e.to_string().contains("metadata"), "{path}: {e}");
    }
    // The same PNG without it.
    small
        .process(&plain, "fit-in/4x4/filters:format(webp)")
        .unwrap();
    // Charged once for the call however often its header is read (a
    // thumbnail reads it twice, `meta()` three times): 84 MB for 12 MB of
    // text fits 128 MiB, where charged at each read it was refused.
    let roomy = Imagor::new(Options {
        max_memory: 128 << 20,
        ..Options::default()
    })
    .unwrap();
    roomy
        .process(&png, "fit-in/4x4/filters:format(png)")
        .expect("a thumbnail");
    roomy.meta(&png, "").expect("meta()");
}

/// Tags libvips does not copy are still read whole by libtiff, and kept: a
/// 64x64 TIFF with a 250 MB private tag held some 500 MB, uncharged (the
/// count had only the tags libvips copies).
#[test]
fn private_tiff_tags_are_charged_as_libtiff_holds_them() {
    let _one = one_at_a_time();
    let blob = vec![0u8; 40 << 20];
    let tiff = tiff_with_blob((50000, 7), &blob);
    let small = Imagor::new(Options {
        max_memory: 64 << 20,
        ..Options::default()
    })
    .unwrap();
    let e = small
        .process(&tiff, "fit-in/4x4/filters:format(png)")
        .map(drop)
        .expect_err("refused");
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.to_string().contains("metadata"), "{e}");
    // Within max_memory it is read (2 copies, 80 MB).
    let roomy = Imagor::new(Options {
        max_memory: 128 << 20,
        ..Options::default()
    })
    .unwrap();
    roomy
        .process(&tiff, "fit-in/4x4/filters:format(png)")
        .expect("served");
}

/// `jpeg` with `n` APP1 segments of 64 KB after its SOI, each an XMP
/// packet of filler.
fn with_app1_segments(jpeg: &[u8], n: usize) -> Vec<u8> {
    let mut payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    payload.resize(65_533, b'Z');
    let mut out = jpeg[..2].to_vec();
    for _ in 0..n {
        out.extend([0xFF, 0xE1]);
        out.extend(((payload.len() + 2) as u16).to_be_bytes());
        out.extend(&payload);
    }
    out.extend(&jpeg[2..]);
    out
}

/// libjpeg keeps every segment it saves for libvips (up to the 1024 it is
/// given), at each header read: 1000 APP1 segments of 64 KB grew a
/// thumbnail's RSS by 190-250 MB beyond the 64 MB file, uncharged. They
/// are charged now (3 copies, beside the input's own), before the read:
/// 300 of them (20 MB) need 56 MiB.
#[test]
fn the_segments_libjpeg_keeps_are_charged_before_the_header_read() {
    let _one = one_at_a_time();
    let jpeg = testdata("demo1.jpg");
    let many = with_app1_segments(&jpeg, 300);
    let small = Imagor::new(Options {
        max_memory: 32 << 20,
        ..Options::default()
    })
    .unwrap();
    for path in ["fit-in/40x40", "meta/", "filters:format(webp)"] {
        let e = small.process(&many, path).map(drop).expect_err(path);
        assert_eq!(e.status(), 422, "{path}: {e}");
        assert!(e.to_string().contains("metadata"), "{path}: {e}");
    }
    // A few segments (320 KB, as a real file's Exif and XMP) are free, and
    // the many within a larger max_memory are read.
    small
        .process(&with_app1_segments(&jpeg, 5), "fit-in/40x40")
        .expect("a few segments");
    let roomy = Imagor::new(Options {
        max_memory: 128 << 20,
        ..Options::default()
    })
    .unwrap();
    roomy.process(&many, "fit-in/40x40").expect("served");
}

#[test]
fn an_icc_tag_table_of_many_mpet_bodies_is_refused_at_once() {
    let _one = one_at_a_time();
    // 60 000 entries, each at its own 4-byte `mpet` body: a 960 KB
    // profile. Counting their elements compared every body with all those
    // before it, before any charge and on any budget: 0.5 s here in a
    // release build, 4.3 s for 200 000 (a 3.2 MB JPEG), some 2 minutes
    // for the 16 MB a JPEG can hold.
    let jpeg = with_icc_segments(&testdata("demo1.jpg"), &mpet_table_profile(60_000));
    let imagor = Imagor::new(Options::default()).unwrap();
    let started = Instant::now();
    let e = imagor
        .process(&jpeg, "fit-in/32x32")
        .map(drop)
        .expect_err("refused");
    let took = started.elapsed();
    assert_eq!(e.status(), 408, "{e}");
    assert!(e.to_string().contains("ICC profile"), "{e}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_profile_description_is_a_name_in_meta() {
    // The Adobe RGB profile, its `desc` tag moved to a 1 MB text.
    let mut icc = padded_rgb_profile(560);
    let count = u32::from_be_bytes(icc[128..132].try_into().unwrap()) as usize;
    let entry = (0..count)
        .map(|i| 132 + 12 * i)
        .find(|&at| &icc[at..at + 4] == b"desc")
        .expect("a desc tag");
    let text = "\u{202e}<script>".repeat(4) + &"N".repeat(1 << 20);
    let mut tag = b"desc\0\0\0\0".to_vec();
    tag.extend(((text.len() + 1) as u32).to_be_bytes());
    tag.extend(text.as_bytes());
    tag.push(0);
    let at = icc.len() as u32;
    icc[entry + 4..entry + 8].copy_from_slice(&at.to_be_bytes());
    icc[entry + 8..entry + 12].copy_from_slice(&(tag.len() as u32).to_be_bytes());
    icc.extend(&tag);
    let size = icc.len() as u32;
    icc[..4].copy_from_slice(&size.to_be_bytes());
    let jpeg = with_icc_segments(&testdata("demo1.jpg"), &icc);
    let m = imagor::meta(&jpeg, "").expect("meta");
    let name = m.details.expect("details").profile_name.expect("a name");
    // The whole megabyte was the answer's.
    assert!(name.starts_with("\u{202e}<script>"), "{name}");
    assert_eq!(name.chars().count(), 256);
}
