//! Header reads libvips' decoders do in one call no deadline interrupts
//! (libheif's item links, libtiff's unknown tags, libwebp's chunk records),
//! our own WebP chunk walk past the RIFF's end, TIFF output held whole in
//! memory, and dav1d's stderr message on a coded item of no bytes: each is
//! charged (or refused) before it runs, and the refusal names what it
//! charged (a deadline passed inside the decoder would name nothing).

mod common;

use imagor::{Imagor, Options};
use imagor_tests::hostile::headers::{avif_grid, tiff_with_private_tags, webp_with_empty_chunks};
use std::time::{Duration, Instant};

fn testdata(name: &str) -> Vec<u8> {
    common::read_testdata(name)
}

#[test]
fn an_avif_of_twenty_thousand_items_is_refused_before_libheif_links_them() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let avif = avif_grid(141, 141, false); // 19 882 items, 855 KB
    for path in ["fit-in/100x100", "meta"] {
        let e = if path == "meta" {
            imagor.meta(&avif, "").map(drop).expect_err("refused")
        } else {
            imagor.process(&avif, path).map(drop).expect_err("refused")
        };
        // libheif 1.15 took 12.7 s of CPU over this header.
        assert_eq!(e.status(), 408, "{path}: {e}");
        assert!(e.to_string().contains("19882 items"), "{path}: {e}");
    }
    // A grid of a few hundred tiles still loads.
    let small = avif_grid(20, 20, false);
    let out = imagor
        .process(&small, "fit-in/100x100/filters:format(png)")
        .unwrap();
    assert!(!out.data.is_empty());
}

#[test]
fn an_avif_whose_tiles_hold_no_data_never_reaches_dav1d() {
    let imagor = Imagor::new(Options::default()).unwrap();
    // Four tiles, and 400: more items than our own AVIF decoder takes,
    // which libvips still loads (the check once read only files of up to
    // 256 items, so this one reached dav1d, which printed on stderr).
    for (rows, cols) in [(2, 2), (20, 20)] {
        let e = imagor
            .process(&avif_grid(rows, cols, true), "fit-in/100x100")
            .map(drop)
            .expect_err("refused");
        assert_eq!(e.status(), 406, "{rows}x{cols}: {e}");
        assert!(
            e.to_string().contains("holds no data"),
            "{rows}x{cols}: {e}"
        );
    }
}

#[test]
fn a_tiff_of_four_thousand_private_tags_is_charged_before_libtiff_reads_them() {
    let tiff = tiff_with_private_tags(4087); // 49 KB
    let quick = Imagor::new(Options {
        process_timeout: Duration::from_millis(100),
        ..Options::default()
    })
    .unwrap();
    let e = quick
        .process(&tiff, "fit-in/100x100")
        .map(drop)
        .expect_err("refused");
    // libtiff spent 0.8 s of CPU before the 408 came.
    assert_eq!(e.status(), 408, "{e}");
    assert!(e.to_string().contains("4096 tags"), "{e}");
    // A TIFF of a few dozen tags is not charged for them.
    let imagor = Imagor::new(Options::default()).unwrap();
    imagor
        .process(&tiff_with_private_tags(40), "fit-in/100x100")
        .unwrap();
}

#[test]
fn frames_forged_after_a_webps_riff_end_do_not_count() {
    let imagor = Imagor::new(Options::default()).unwrap();
    // What follows the RIFF is not the file's: libwebp never reads it. The
    // walk read it as chunks, so frames forged there counted (the still
    // image was refused as an animation of 5001 frames libvips did not
    // load) ...
    let mut forged = testdata("demo3.webp");
    for _ in 0..5000 {
        forged.extend(b"ANMF\x10\0\0\0");
        forged.extend([0u8; 16]);
    }
    let out = imagor
        .process(&forged, "fit-in/10x10")
        .expect("the still image");
    assert!(!out.data.is_empty());
    // (600 MB of zeros were walked as 78 million empty chunks, four times
    // a call: 4.6-5.6 s through the bindings; the probe's own tests cover
    // the walk's end.)
}

#[test]
fn a_lossy_webps_decode_is_charged_for_its_coded_bytes_only() {
    // 20 MB past the RIFF's end: no decoder reads them, and charged at 50
    // ns a coded byte they were a second of a 300 ms budget.
    let mut webp = testdata("demo3.webp");
    webp.resize(webp.len() + (20 << 20), 0);
    let quick = Imagor::new(Options {
        process_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .unwrap();
    let out = quick
        .process(&webp, "fit-in/10x10")
        .expect("the still image");
    assert!(!out.data.is_empty());
}

#[test]
fn a_webp_of_millions_of_empty_chunks_is_refused_before_libwebp_records_them() {
    // 13 million empty chunks.
    let webp = webp_with_empty_chunks(&testdata("demo3.webp"), 100 << 20);
    let imagor = Imagor::new(Options::default()).unwrap();
    let e = imagor
        .process(&webp, "fit-in/10x10")
        .map(drop)
        .expect_err("refused");
    // libwebp's demuxer took 410 MB for their records before any charge.
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.to_string().contains("chunks"), "{e}");
    // 24 MB: one index fits, the second read builds another (once charged
    // only once with the metadata, it was served at 267-299 MB of RSS).
    let webp = webp_with_empty_chunks(&testdata("demo3.webp"), 24 << 20);
    let e = imagor
        .process(&webp, "fit-in/10x10")
        .map(drop)
        .expect_err("refused");
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.to_string().contains("already in use"), "{e}");
}

#[test]
fn a_tiff_output_is_charged_for_the_buffer_it_is_written_to() {
    // 1x1 RGBA PNG.
    let png: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x68,
        0x00, 0x02, 0x00, 0x05, 0x05, 0x02, 0x01, 0xac, 0x53, 0x22, 0x3a, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let imagor = Imagor::new(Options {
        max_memory: 64 << 20,
        ..Options::default()
    })
    .unwrap();
    // 144 MB of TIFF, held twice while it is written and copied out.
    let e = imagor
        .process(png, "fit-in/6000x6000/filters:upscale():format(tiff)")
        .map(drop)
        .expect_err("refused");
    assert_eq!(e.status(), 422, "{e}");
    let out = imagor
        .process(png, "fit-in/1000x1000/filters:upscale():format(tiff)")
        .unwrap();
    assert!(out.data.len() > 4_000_000);
}

/// More than the /meta step of the TIFF below takes (0.7-0.8 s), less than
/// twice that.
const BUDGET: Duration = Duration::from_secs(1);

#[test]
fn library_meta_reads_its_details_within_the_calls_budget() {
    let imagor = Imagor::new(Options {
        process_timeout: BUDGET,
        ..Options::default()
    })
    .unwrap();
    // Warm libvips and libtiff up.
    let small = tiff_with_private_tags(10);
    let m = imagor.meta(&small, "").expect("meta");
    assert_eq!(m.details.expect("details").space, "b-w");

    let tiff = tiff_with_private_tags(4087); // 49 KB
                                             // imagor's /meta alone: one budget, its header read charged.
    let started = Instant::now();
    let alone = imagor.process(&tiff, "meta/").map(drop);
    let alone_took = started.elapsed();
    // The library's meta(): the same /meta, then the details' header
    // read, which had a fresh budget of its own: 1.4-1.6 s of a 1 s
    // budget, where /meta alone took 0.75 s.
    let started = Instant::now();
    let meta = imagor.meta(&tiff, "");
    let took = started.elapsed();
    for e in [alone.err(), meta.err()].into_iter().flatten() {
        assert_eq!(e.status(), 408, "{e}");
    }
    // No longer than the budget, or than /meta alone on a machine too
    // slow for it, and a little unwind.
    assert!(
        took < BUDGET.max(alone_took) + Duration::from_millis(300),
        "meta() took {took:?} of a {BUDGET:?} budget, its /meta step alone {alone_took:?}"
    );
}
