//! Hostile filter arguments: every request ends with an image within the
//! limits or a typed error (400, 404, 406, 422), never a panic or a hang.
//! Each case runs in a thread; the timeout only detects hangs, it is not a
//! speed assertion.

use std::sync::mpsc;
use std::time::Duration;

mod image_common;

use image_common::encode;
use imagor::vips::{Arg, BandFormat, Blob, Call, Image, Interpretation};
use imagor::{Imagor, Options, Output, Result};

const HANG: Duration = Duration::from_secs(30);
const TYPED: &[u16] = &[400, 404, 406, 422];

/// These cases check that extreme arguments are handled correctly (a
/// thousand filters must succeed), so the call gets more time than the
/// default budget gives a debug build on a busy machine; the budget itself
/// is tested in `tests/hostile.rs`.
fn imagor() -> Imagor {
    Imagor::new(Options {
        file_loader_base_dir: format!("{}/../testdata", env!("CARGO_MANIFEST_DIR")),
        process_timeout: Duration::from_secs(60),
        ..Options::default()
    })
    .unwrap()
}

fn small_png() -> Vec<u8> {
    let img = Image::black(32, 24, 3)
        .unwrap()
        .linear(&[1.0; 3], &[200.0, 100.0, 50.0])
        .unwrap()
        .cast(BandFormat::UCHAR)
        .unwrap()
        .copy_as(Some(Interpretation::SRGB))
        .unwrap();
    encode(&img, "pngsave_buffer")
}

/// Run `path` on `input` in a thread; panic only on a hang.
fn run(input: &[u8], path: &str) -> Result<Output> {
    let (tx, rx) = mpsc::channel();
    let (im, data, p) = (imagor(), input.to_vec(), path.to_owned());
    std::thread::spawn(move || {
        let _ = tx.send(im.process(&data, &p));
    });
    let short: String = path.chars().take(120).collect();
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("no answer within {HANG:?}: {short}"))
}

/// Ok within the size limits, or one of the typed errors.
fn assert_handled(input: &[u8], path: &str) -> Option<u16> {
    let short: String = path.chars().take(120).collect();
    match run(input, path) {
        Ok(out) => {
            let loader = Image::find_loader(&out.data).expect("output is an image");
            let blob = Blob::copy_from(&out.data);
            let img = Call::new(&loader)
                .arg("buffer", Arg::Blob(&blob))
                .run()
                .unwrap()
                .out()
                .unwrap();
            let o = Options::default();
            assert!(
                img.width() <= o.max_width && img.page_height() <= o.max_height,
                "{short}: {img:?}"
            );
            None
        }
        Err(e) => {
            assert!(TYPED.contains(&e.status()), "{short}: {} {e}", e.status());
            Some(e.status())
        }
    }
}

#[test]
fn huge_blur_and_sharpen_sigmas() {
    let png = small_png();
    // libvips refuses sigma > 1000 (imagor answers 406 too).
    assert_eq!(assert_handled(&png, "filters:blur(1000000)/x"), Some(406));
    assert_eq!(assert_handled(&png, "filters:blur(0,1e300)/x"), Some(406));
    assert_handled(&png, "filters:blur(2000)/x");
    // libvips ignores an out-of-range sharpen sigma (imagor inherits that).
    assert_eq!(assert_handled(&png, "filters:sharpen(1000000)/x"), None);
    assert_eq!(assert_handled(&png, "filters:blur(1e999)/x"), Some(400));
}

#[test]
fn huge_padding_is_over_the_limits() {
    let png = small_png();
    assert_eq!(
        assert_handled(&png, "filters:padding(white,100000,100000)/x"),
        Some(422)
    );
    // Eager filters refuse the oversized canvas before touching pixels.
    for f in [
        "trim()",
        "round_corner(5)",
        "fill(auto)",
        "blur(3)",
        "text(hi,0,0)",
    ] {
        assert_handled(&png, &format!("filters:padding(white,100000,100000):{f}/x"));
    }
}

#[test]
fn a_thousand_filters() {
    let png = small_png();
    let cycle = [
        "brightness(1)",
        "contrast(1)",
        "invert()",
        "rotate(90)",
        "hue(3)",
        "rgb(1,1,1)",
        "blur(1)",
        "pixelate(2)",
    ];
    let filters: Vec<&str> = cycle.iter().cycle().take(1000).copied().collect();
    assert_eq!(
        assert_handled(&png, &format!("filters:{}/x", filters.join(":"))),
        None
    );
}

#[test]
fn a_64_kib_path() {
    let png = small_png();
    let mut path = String::from("filters:");
    while path.len() < 64 * 1024 {
        path.push_str("grayscale():");
    }
    path.push_str("format(png)/x");
    assert_handled(&png, &path);
    // One 64 KiB argument.
    let text = format!("filters:text({},0,0)/x", "a".repeat(64 * 1024));
    assert_handled(&png, &text);
    let garbage = format!("filters:crop({})/x", "9".repeat(64 * 1024));
    assert_handled(&png, &garbage);
}

#[test]
fn nesting_beyond_the_limit_is_400() {
    let png = small_png();
    let mut inner = String::from("/4x4/color:red");
    for _ in 0..10 {
        inner = format!("/8x8/filters:image({inner},0,0)/color:blue");
    }
    let path = format!("filters:image({inner},0,0)/x");
    assert_eq!(assert_handled(&png, &path), Some(400));
    // Within the default depth (4) it works.
    let ok = "filters:image(/8x8/filters:image(/8x8/filters:image(/4x4/color:red)/color:blue)/color:green)/x";
    assert_eq!(assert_handled(&png, ok), None);
}

#[test]
fn odd_shapes() {
    let png = small_png();
    for f in [
        "round_corner(-1)",
        "round_corner(-99999999999,3,red)",
        "round_corner(99999999999999999999)",
        "rotate(99999999999999999999)",
        "rotate(-90)",
        "crop(-5,-5,99999999,99999999)",
        "crop(1e300,1e300,1e300,1e300)",
        "crop(0.5,0.5,0,0)",
        "proportion(1e300)",
        "proportion(0.0000001)",
        "trim(99999999999)",
        "pixelate(100000000)",
        "pixelate(1000)",
        "pixelate(-4)",
    ] {
        assert_handled(&png, &format!("filters:{f}/x"));
    }
}

#[test]
fn non_numeric_arguments_are_400() {
    let png = small_png();
    for f in [
        "blur(abc)",
        "sharpen(1,x)",
        "brightness(ten)",
        "rgb(1,2,zz)",
        "rotate(ninety)",
        "crop(a,b,c,d)",
        "proportion(half)",
        "round_corner(big)",
        "text(a,0,0,sans,black,lots)",
        "watermark(gopher.png,0,0,0,wide,10)",
        "image(gopher.png,here,0)",
    ] {
        assert_eq!(
            assert_handled(&png, &format!("filters:{f}/x")),
            Some(400),
            "{f}"
        );
    }
}

#[test]
fn long_and_huge_text() {
    let png = small_png();
    let long = "x".repeat(10_000);
    assert_handled(&png, &format!("filters:text({long},0,0)/x"));
    assert_handled(
        &png,
        &format!("filters:text({long},0,0,sans-12,black,0,normal,f)/x"),
    );
    assert_handled(&png, &format!("filters:label({long},0,0,30)/x"));
    for f in [
        "text(hello,0,0,sans-100000)",
        "text(hello,0,0,sans-6000)",
        "text(hello,0,0,sans-20,black,0,normal,0,low,false,word,0,1000000)",
        "text(a%0Ab%0Ac,0,0,sans-20,black,0,normal,f,low,false,word,1000000)",
        "text(%00,0,0)",
        "text(%3Cb%3Eunclosed,0,0)",
        "text(b64:____,0,0)",
        "label(hi,0,0,100000000)",
        "label(hi,0,0,-5)",
        "label(hi,99999999999999999999,-99999999999999999999,20)",
    ] {
        assert_handled(&png, &format!("filters:{f}/x"));
    }
}

#[test]
fn huge_watermark_ratios_and_positions() {
    let png = small_png();
    assert_eq!(
        assert_handled(&png, "filters:watermark(gopher.png,0,0,0,100000,100000)/x"),
        Some(422)
    );
    assert_handled(&png, "filters:watermark(gopher.png,0,0,0,100000,10)/x");
    assert_handled(
        &png,
        "filters:watermark(gopher.png,0,0,0,99999999999999999999,none)/x",
    );
    assert_handled(
        &png,
        "filters:watermark(gopher.png,-99999999999999999999,99999999999999999999,1e300)/x",
    );
    assert_handled(&png, "filters:image(/1x1/color:red,repeat,repeat)/x");
    assert_handled(
        &png,
        "filters:image(/1x1/color:red,0.99999999,-0.9999999,-1e300,mask-out)/x",
    );
    assert_handled(&png, "filters:image(f-99999999999999999999xf/color:red)/x");
    assert_handled(&png, "filters:watermark(b64:!!!,0,0)/x");
}
