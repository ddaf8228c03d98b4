//! TIFFs of many pages. Only the first page of a TIFF is ever loaded, but
//! libtiff walks every page to count them each time a header is read, in
//! one step no deadline interrupts (a million tiny pages held a thread for
//! over 6 s). libvips now gets a copy whose first page links to no other:
//! the first page reads as before, the walk is gone. BigTIFF is a TIFF
//! here too, with the same checks.

mod image_common;

use image_common::{decode, encode_with};
use imagor::vips::{Arg, BandFormat, Image};
use imagor::{Imagor, Options};

/// Append the `width` low bytes of `v`, little-endian.
fn put(out: &mut Vec<u8>, v: u64, width: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..width]);
}

/// A little-endian TIFF header without its first IFD's offset, and the
/// width of offsets (4, or 8 in a BigTIFF).
fn header(big: bool) -> (Vec<u8>, usize) {
    if big {
        (b"II+\0\x08\0\0\0".to_vec(), 8)
    } else {
        (b"II*\0".to_vec(), 4)
    }
}

/// A TIFF of `pages` pages of one 1-bit pixel, each page a minimal IFD
/// (5 entries) linking to the next: classic or BigTIFF, little-endian.
fn minimal_pages(pages: usize, big: bool) -> Vec<u8> {
    let (mut out, ow) = header(big);
    let count_width = if big { 8 } else { 2 };
    let pixel = out.len() + ow;
    let first = pixel + 1;
    put(&mut out, first as u64, ow);
    out.push(0x80);
    let entries = [
        (256u16, 1u64),
        (257, 1),
        (262, 1),
        (273, pixel as u64),
        (279, 1),
    ];
    let ifd_size = count_width + entries.len() * (4 + 2 * ow) + ow;
    out.reserve(pages * ifd_size);
    for page in 0..pages {
        put(&mut out, entries.len() as u64, count_width);
        for (tag, value) in entries {
            put(&mut out, tag as u64, 2);
            put(&mut out, 4, 2); // LONG
            put(&mut out, 1, ow);
            put(&mut out, value, ow);
        }
        let next = if page + 1 < pages {
            first + (page + 1) * ifd_size
        } else {
            0
        };
        put(&mut out, next as u64, ow);
    }
    out
}

/// Three 40x30 pages of different greys, saved by libvips as one TIFF.
fn three_pages(bigtiff: bool) -> Vec<u8> {
    let page = |v: u8| vec![v; 40 * 30 * 3];
    let pixels = [page(30), page(130), page(230)].concat();
    let img = Image::from_memory(&pixels, 40, 90, 3, BandFormat::UCHAR)
        .unwrap()
        .with_meta(|m| m.set_int("page-height", 30))
        .unwrap();
    encode_with(&img, "tiffsave_buffer", &[("bigtiff", Arg::Bool(bigtiff))])
}

#[test]
fn a_tiff_of_half_a_million_pages_loads_its_first_page_within_the_budget() {
    let imagor = Imagor::new(Options::default()).unwrap();
    for (what, tiff) in [
        ("classic", minimal_pages(500_000, false)),
        ("BigTIFF", minimal_pages(300_000, true)),
    ] {
        for path in ["fit-in/100x100/filters:format(png)", "filters:format(png)"] {
            let out = imagor
                .process(&tiff, path)
                .unwrap_or_else(|e| panic!("{what} {path}: {e}"));
            let img = decode(&out.data);
            assert_eq!((img.width(), img.height()), (1, 1), "{what} {path}");
        }
        let meta = imagor.meta(&tiff, "").unwrap();
        assert_eq!((meta.format.as_str(), meta.pages), ("tiff", 1), "{what}");
    }
}

#[test]
fn a_served_tiff_of_many_pages_is_copied_within_max_total_memory() {
    let dir = std::env::temp_dir().join(format!("imagor-tiff-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tiff = minimal_pages(500_000, false);
    std::fs::write(dir.join("pages.tif"), &tiff).unwrap();
    let served = |max_total_memory: u64| {
        Imagor::new(Options {
            unsafe_: true,
            file_loader_base_dir: dir.display().to_string(),
            http_loader_disable: true,
            max_total_memory,
            ..Options::default()
        })
        .unwrap()
        .serve("unsafe/fit-in/100x100/filters:format(png)/pages.tif")
    };
    let out = served(Options::default().max_total_memory).expect("served");
    assert_eq!(decode(&out.data).width(), 1);
    // The source and its first-page copy must both fit: with room for
    // only one of them the call is refused, naming the copy or the source.
    let e = served(tiff.len() as u64 * 3 / 2).expect_err("no room for the copy");
    assert!([422, 429].contains(&e.status()), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_first_page_of_a_multi_page_tiff_reads_as_before() {
    let imagor = Imagor::new(Options::default()).unwrap();
    for bigtiff in [false, true] {
        let tiff = three_pages(bigtiff);
        assert!(tiff.starts_with(if bigtiff { b"II+\0" } else { b"II*\0" }));
        let out = imagor.process(&tiff, "filters:format(png)").unwrap();
        let img = decode(&out.data);
        assert_eq!((img.width(), img.height()), (40, 30), "bigtiff={bigtiff}");
        let pixels = img.write_to_memory().unwrap();
        assert!(pixels.iter().all(|&v| v == 30), "bigtiff={bigtiff}");
        let meta = imagor.meta(&tiff, "").unwrap();
        assert_eq!((meta.width, meta.height, meta.pages), (40, 30, 1));
    }
}

/// A 30000x30000 8-bit grey TIFF of deflated strips of 16 rows that all
/// share one compressed strip of zeros: 900 MP in 30 KB.
fn strip_bomb(big: bool) -> Vec<u8> {
    use std::io::Write;
    let (side, rows) = (30_000u64, 16u64);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; (side * rows) as usize]).unwrap();
    let strip = z.finish().unwrap();
    let strips = side.div_ceil(rows);
    let (mut out, ow) = header(big);
    let ifd_at = out.len();
    put(&mut out, 0, ow); // the first IFD's offset, set below
    let strip_at = out.len() as u64;
    out.extend_from_slice(&strip);
    let offsets_at = out.len() as u64;
    (0..strips).for_each(|_| put(&mut out, strip_at, ow));
    let counts_at = out.len() as u64;
    (0..strips).for_each(|_| put(&mut out, strip.len() as u64, ow));
    let first = out.len() as u64;
    out[ifd_at..ifd_at + ow].copy_from_slice(&first.to_le_bytes()[..ow]);
    // (tag, type, count, value or offset): LONG, SHORT, LONG8 arrays.
    let array = if big { 16 } else { 4 };
    let entries = [
        (256u16, 4u16, 1u64, side),
        (257, 4, 1, side),
        (258, 3, 1, 8),
        (259, 3, 1, 8),
        (262, 3, 1, 1),
        (273, array, strips, offsets_at),
        (277, 3, 1, 1),
        (278, 4, 1, rows),
        (279, array, strips, counts_at),
    ];
    put(&mut out, entries.len() as u64, if big { 8 } else { 2 });
    for (tag, ty, count, value) in entries {
        put(&mut out, tag as u64, 2);
        put(&mut out, ty as u64, 2);
        put(&mut out, count, ow);
        put(&mut out, value, ow);
    }
    put(&mut out, 0, ow);
    out
}

#[test]
fn a_bigtiff_bomb_is_refused_as_the_same_classic_one() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let outcome = |tiff: &[u8], path: &str| -> Result<(), u16> {
        let done = if path == "meta" {
            imagor.meta(tiff, "").map(|_| ())
        } else {
            imagor.process(tiff, path).map(|_| ())
        };
        done.map_err(|e| e.status())
    };
    let (classic, big) = (strip_bomb(false), strip_bomb(true));
    assert_eq!(imagor::format::sniff(&big).type_name, "tiff");
    let header = decode(&big);
    assert_eq!((header.width(), header.height()), (30_000, 30_000));
    for path in [
        "fit-in/100x100/filters:format(png)",
        "filters:format(png)",
        "meta",
    ] {
        let want = outcome(&classic, path);
        assert_eq!(outcome(&big, path), want, "{path}");
        if path != "meta" {
            assert_eq!(want, Err(422), "{path}");
        }
    }
}
