//! A PNG whose image data's zlib stream runs far past its last row.
//!
//! libpng inflates whatever follows the last row inside one `png_read_end`
//! call, about 2 s per GiB: a 1x1 PNG whose image data inflated to 4 GiB
//! (a 4 MB file) answered 408 only after 8 to 30 s, past a 2 s budget. PNGs
//! now reach libpng through a reader that fails once the call's deadline
//! has passed, so the inflate stops at its next read (libpng reads 8 KiB at
//! a time, at most some 8 MiB of output). Every way a PNG is decoded must
//! end within the budget: a plain load, shrink-on-load, interlaced and
//! 16-bit images, overlays (`image()`, `watermark()`), and `/meta`.

use std::io::Write;
use std::time::{Duration, Instant};

use imagor::{Imagor, Options};

/// The budget of every call here.
const LIMIT: Duration = Duration::from_secs(1);
/// How long past the budget a call may answer (a loaded test machine).
const SLACK: Duration = Duration::from_millis(900);

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    v.extend_from_slice(&crc.sum().to_be_bytes());
    v
}

/// A zlib stream of `blocks` x 16 MiB of zeros, built from one compressed
/// block repeated (each ends with a full flush, so none refers to another):
/// 2 GiB take a few milliseconds to make.
fn zeros(blocks: u64) -> Vec<u8> {
    const BLOCK: usize = 16 << 20;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(&vec![0u8; BLOCK]).unwrap();
    deflate.flush().unwrap();
    let block = deflate.get_ref().clone();
    let mut z = vec![0x78, 0xda];
    for _ in 0..blocks {
        z.extend_from_slice(&block);
    }
    // A final empty stored block, then the Adler-32 of the zeros.
    z.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    let b = (blocks * BLOCK as u64 % 65521) as u32;
    z.extend_from_slice(&((b << 16) | 1).to_be_bytes());
    z
}

/// A `width` x `height` PNG (`depth`-bit, colour type `color`, Adam7 when
/// `interlaced`) whose image data inflates to `blocks` x 16 MiB of zeros.
fn bomb(width: u32, height: u32, depth: u8, color: u8, interlaced: bool, blocks: u64) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, interlaced as u8]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    // In pieces, as encoders write it.
    for piece in zeros(blocks).chunks(64 << 10) {
        png.extend(chunk(b"IDAT", piece));
    }
    png.extend(chunk(b"IEND", b""));
    png
}

/// 2 GiB past the image: about 4 s of inflating.
const EXCESS: u64 = 128;

fn imagor(base: &std::path::Path) -> Imagor {
    Imagor::new(Options {
        process_timeout: LIMIT,
        file_loader_base_dir: base.to_string_lossy().into_owned(),
        http_loader_disable: true,
        ..Options::default()
    })
    .unwrap()
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `call` ends within the budget, with an image or a 408.
fn ends_in_time<T>(what: &str, call: impl FnOnce() -> imagor::Result<T>) {
    let started = Instant::now();
    let result = call();
    let took = started.elapsed();
    if let Err(e) = &result {
        assert_eq!(e.status(), 408, "{what}: {e}");
    }
    assert!(took < LIMIT + SLACK, "{what}: answered after {took:?}");
}

#[test]
fn inflating_past_the_image_ends_within_the_budget() {
    let dir = std::env::temp_dir().join(format!("png_idat_excess_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let imagor = imagor(&dir);
    let plain = bomb(1, 1, 8, 2, false, EXCESS);
    let cases = [
        ("1x1 8-bit RGB", &plain, "filters:format(png)"),
        (
            "1x1 8-bit RGB",
            &plain,
            "fit-in/100x100/filters:format(png)",
        ),
        (
            "64x64 16-bit RGBA interlaced",
            &bomb(64, 64, 16, 6, true, EXCESS),
            "fit-in/100x100/filters:format(png)",
        ),
        (
            "1x1 1-bit grey",
            &bomb(1, 1, 1, 0, false, EXCESS),
            "10x10/filters:format(jpeg)",
        ),
    ];
    for (name, png, path) in cases {
        ends_in_time(&format!("{name} {path}"), || imagor.process(png, path));
        ends_in_time(&format!("{name} meta"), || imagor.meta(png, ""));
    }
    // As an overlay of a normal image.
    std::fs::write(dir.join("bomb.png"), &plain).unwrap();
    let gopher = testdata("gopher.png");
    for path in [
        "filters:watermark(bomb.png,0,0,0)",
        "filters:image(fit-in/10x10/bomb.png,0,0)",
    ] {
        ends_in_time(path, || imagor.process(&gopher, path));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn normal_pngs_still_decode() {
    let imagor = imagor(&std::env::temp_dir());
    let gopher = testdata("gopher.png");
    for path in [
        "filters:format(png)",
        "fit-in/100x100/filters:format(png)",
        "meta",
    ] {
        if path == "meta" {
            let meta = imagor.meta(&gopher, "").unwrap();
            assert!(meta.width > 0, "{meta:?}");
        } else {
            let out = imagor.process(&gopher, path).unwrap();
            assert!(!out.data.is_empty(), "{path}");
        }
    }
    // A little data past the image (a sloppy encoder's) is no reason to
    // fail: 16 MiB of zeros past a 64x64 interlaced image, and past a
    // 1000x1000 plain one, decode as before.
    for png in [
        bomb(64, 64, 16, 6, true, 1),
        bomb(1000, 1000, 8, 2, false, 1),
    ] {
        let out = imagor
            .process(&png, "fit-in/50x50/filters:format(png)")
            .unwrap();
        assert!(!out.data.is_empty());
    }
}
