//! Image filters through the public API: one focused check per filter on a
//! small generated image (a pixel, a size, a band or frame count).

mod image_common;

use image_common::encode as save;
use imagor::vips::{Arg, BandFormat, Blob, Call, Image, Interpretation};
use imagor::{Error, Imagor, Options};

fn testdata() -> String {
    format!("{}/../testdata", env!("CARGO_MANIFEST_DIR"))
}

fn imagor_with(opts: Options) -> Imagor {
    Imagor::new(Options {
        file_loader_base_dir: testdata(),
        ..opts
    })
    .unwrap()
}

fn imagor() -> Imagor {
    imagor_with(Options::default())
}

/// A solid sRGB image (3 bands, or 4 with `alpha`).
fn solid(w: i32, h: i32, rgb: [f64; 3]) -> Image {
    Image::black(w, h, 3)
        .unwrap()
        .linear(&[1.0; 3], &rgb)
        .unwrap()
        .cast(BandFormat::UCHAR)
        .unwrap()
        .copy_as(Some(Interpretation::SRGB))
        .unwrap()
}

/// Left half `left`, right half `right`.
fn halves(w: i32, h: i32, left: [f64; 3], right: [f64; 3]) -> Image {
    let l = solid(w / 2, h, left);
    let r = solid(w - w / 2, h, right);
    Image::arrayjoin(&[&l, &r], 2).unwrap()
}

fn png(img: &Image) -> Vec<u8> {
    save(img, "pngsave_buffer")
}

/// A 3-frame GIF of `w` x `h` frames: red, green, blue.
fn gif3(w: i32, h: i32) -> Vec<u8> {
    let frames = [[255.0, 0.0, 0.0], [0.0, 255.0, 0.0], [0.0, 0.0, 255.0]].map(|c| solid(w, h, c));
    let refs: Vec<&Image> = frames.iter().collect();
    let img = Image::arrayjoin(&refs, 1)
        .unwrap()
        .with_meta(|m| {
            m.set_int("page-height", h);
            m.set_int("n-pages", 3);
            m.set_array_int("delay", &[100, 100, 100]);
        })
        .unwrap();
    save(&img, "gifsave_buffer")
}

/// Decode an output with every frame.
fn decode(data: &[u8]) -> Image {
    let loader = Image::find_loader(data).expect("output is an image");
    let blob = Blob::copy_from(data);
    Call::new(&loader)
        .arg("buffer", Arg::Blob(&blob))
        .arg_if_supported("n", Arg::Int(-1))
        .run()
        .unwrap()
        .out()
        .unwrap()
}

fn run(input: &[u8], path: &str) -> Image {
    let out = imagor()
        .process(input, path)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    decode(&out.data)
}

fn status(input: &[u8], path: &str) -> u16 {
    imagor()
        .process(input, path)
        .err()
        .map_or(200, |e| e.status())
}

fn px(img: &Image, x: i32, y: i32) -> Vec<f64> {
    img.getpoint(x, y).unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn grey(v: f64) -> Vec<u8> {
    png(&solid(20, 10, [v, v, v]))
}

// ---- colour ----

#[test]
fn brightness_adds_a_percentage_of_255() {
    let out = run(&grey(100.0), "filters:brightness(20)/x");
    assert!(
        close(&px(&out, 5, 5), &[151.0; 3], 1.0),
        "{:?}",
        px(&out, 5, 5)
    );
}

#[test]
fn empty_colour_filters_are_no_ops() {
    // A one-band image stays one band: nothing was converted.
    let bw = png(&Image::black(8, 8, 1)
        .unwrap()
        .linear(&[1.0], &[90.0])
        .unwrap()
        .cast(BandFormat::UCHAR)
        .unwrap());
    let path = "filters:brightness():contrast():hue():saturation():rgb(1,2):modulate(1)/x";
    let out = run(&bw, path);
    assert_eq!(out.bands(), 1);
    assert_eq!(px(&out, 1, 1), vec![90.0]);
    // With an argument, brightness works in sRGB.
    assert_eq!(run(&bw, "filters:brightness(0)/x").bands(), 3);
}

#[test]
fn contrast_stretches_around_128() {
    let out = run(&grey(100.0), "filters:contrast(50)/x");
    // a = 259 * 382.5 / (255 * 131.5), b = 128 - 128 a.
    assert!(
        close(&px(&out, 0, 0), &[45.0; 3], 1.0),
        "{:?}",
        px(&out, 0, 0)
    );
}

#[test]
fn hue_rotates_red_away() {
    let out = run(
        &png(&solid(10, 10, [200.0, 30.0, 30.0])),
        "filters:hue(180)/x",
    );
    let p = px(&out, 2, 2);
    assert!(p[0] < p[1] && p[0] < p[2], "{p:?}");
}

#[test]
fn saturation_and_modulate_can_remove_colour() {
    let red = png(&solid(10, 10, [200.0, 30.0, 30.0]));
    for path in ["filters:saturation(-100)/x", "filters:modulate(0,-100,0)/x"] {
        let p = px(&run(&red, path), 2, 2);
        assert!(
            (p[0] - p[1]).abs() <= 2.0 && (p[1] - p[2]).abs() <= 2.0,
            "{path}: {p:?}"
        );
    }
    // modulate brightness lowers lightness.
    let p = px(&run(&grey(128.0), "filters:modulate(-50,0,0)/x"), 1, 1);
    assert!(p[0] < 90.0, "{p:?}");
}

#[test]
fn rgb_adds_per_band() {
    let out = run(&grey(100.0), "filters:rgb(10,0,-10)/x");
    assert!(
        close(&px(&out, 0, 0), &[125.5, 100.0, 74.5], 1.0),
        "{:?}",
        px(&out, 0, 0)
    );
}

#[test]
fn grayscale_gives_one_band() {
    let out = run(
        &png(&solid(10, 10, [200.0, 30.0, 30.0])),
        "filters:grayscale()/x",
    );
    assert_eq!(out.bands(), 1);
}

#[test]
fn invert_flips_rgb_keeps_alpha() {
    let rgba = Image::bandjoin(&[
        &solid(6, 6, [100.0, 0.0, 255.0]),
        &Image::black(6, 6, 1)
            .unwrap()
            .linear(&[1.0], &[77.0])
            .unwrap()
            .cast(BandFormat::UCHAR)
            .unwrap(),
    ])
    .unwrap();
    let out = run(&png(&rgba), "filters:invert()/x");
    assert_eq!(px(&out, 1, 1), vec![155.0, 255.0, 0.0, 77.0]);
}

#[test]
fn to_colorspace_uses_the_embedded_profile_only() {
    // No profile: nothing happens, even for an unknown profile name.
    let out = run(&grey(100.0), "filters:to_colorspace(nonsense)/x");
    assert_eq!(px(&out, 0, 0), vec![100.0; 3]);
    let adobe = std::fs::read(format!("{}/jpg-24bit-icc-adobe-rgb.jpg", testdata())).unwrap();
    let out = run(
        &adobe,
        "fit-in/50x50/filters:to_colorspace(srgb):format(png)/x",
    );
    assert_eq!(out.bands(), 3);
    let cmyk = run(
        &adobe,
        "fit-in/50x50/filters:to_colorspace(cmyk):format(jpeg)/x",
    );
    assert_eq!(cmyk.bands(), 4);
    // A profile that is not built in is never read from disk.
    assert_eq!(
        status(&adobe, "filters:to_colorspace(%2Fetc%2Fpasswd)/x"),
        406
    );
}

// ---- effects ----

#[test]
fn blur_softens_an_edge_but_not_animations() {
    let edge = png(&halves(40, 10, [0.0; 3], [255.0; 3]));
    let out = run(&edge, "filters:blur(6)/x");
    let v = px(&out, 19, 5)[0];
    assert!(v > 20.0 && v < 235.0, "{v}");
    // Two arguments: the second is sigma.
    let v2 = px(&run(&edge, "filters:blur(0,3)/x"), 19, 5)[0];
    assert!((v - v2).abs() < 1.0, "{v} vs {v2}");
    assert_eq!(px(&run(&edge, "filters:blur()/x"), 19, 5)[0], 0.0);
    let gif = run(&gif3(12, 8), "filters:blur(5)/x");
    assert_eq!(gif.n_pages(), 3);
    assert_eq!(status(&edge, "filters:blur(abc)/x"), 400);
}

#[test]
fn sharpen_changes_an_edge() {
    let edge = png(&halves(40, 10, [60.0; 3], [190.0; 3]));
    let out = run(&edge, "filters:sharpen(2)/x");
    let (l, r) = (px(&out, 19, 5)[0], px(&out, 20, 5)[0]);
    assert!(l < 60.0 || r > 190.0, "{l} {r}");
    // sharpen(-1) means sigma -1: nothing.
    assert_eq!(px(&run(&edge, "filters:sharpen(-1)/x"), 19, 5)[0], 60.0);
}

#[test]
fn pixelate_makes_blocks_on_every_frame() {
    // A horizontal ramp: x * 10.
    let xy = Call::new("xyz")
        .arg("width", Arg::Int(16))
        .arg("height", Arg::Int(16))
        .run()
        .unwrap()
        .out()
        .unwrap();
    let ramp = xy
        .extract_band(0, 1)
        .unwrap()
        .linear(&[10.0], &[0.0])
        .unwrap()
        .cast(BandFormat::UCHAR)
        .unwrap();
    let out = run(&png(&ramp), "filters:pixelate(4)/x");
    assert_eq!((out.width(), out.height()), (16, 16));
    assert_eq!(px(&out, 0, 0), px(&out, 3, 3));
    assert_ne!(px(&out, 0, 0), px(&out, 4, 0));
    // Default block 10 on 25 pixels: 25/10 rounds to 3 blocks = 30.
    let out = run(&png(&solid(25, 25, [9.0; 3])), "filters:pixelate()/x");
    assert_eq!(out.width(), 30);
    let gif = run(&gif3(20, 12), "filters:pixelate(4)/x");
    assert_eq!((gif.n_pages(), gif.width(), gif.page_height()), (3, 20, 12));
    // A block past a side (imagor: "image has shrunk to nothing", ours was
    // a 406 "shrink failed") covers that side: the frame's average colour.
    let out = run(&png(&ramp), "filters:pixelate(1000)/x");
    assert_eq!((out.width(), out.height()), (16, 16));
    assert_eq!(px(&out, 0, 0), vec![75.0]);
    assert_eq!(px(&out, 15, 15), vec![75.0]);
    let out = run(&png(&ramp), "filters:pixelate(20)/x");
    assert_eq!(px(&out, 0, 0), px(&out, 15, 0));
    let gif = run(&gif3(20, 12), "filters:pixelate(13)/x");
    assert_eq!((gif.n_pages(), gif.width(), gif.page_height()), (3, 26, 12));
}

/// A focal crop of an image too thin to cover the box within the size
/// limits (4000x1 to 100x100 grows only to 8192x2) crops what there is;
/// it was a bare 406 `extract_area failed` (imagor fails the same way).
#[test]
fn focal_crops_of_thin_images_stay_inside_them() {
    for (w, h) in [(4000, 1), (1, 4000)] {
        let input = png(&solid(w, h, [10.0, 20.0, 30.0]));
        for path in [
            "100x100/filters:focal(0.5x0.5)/x",
            "10x100/filters:focal(10x0:20x1)/x",
            "3x3/filters:focal(0.9x0.9)/x",
        ] {
            let out = run(&input, path);
            assert!(out.width() <= 100 && out.height() <= 100, "{w}x{h} {path}");
            assert_eq!(px(&out, 0, 0), vec![10.0, 20.0, 30.0], "{w}x{h} {path}");
        }
    }
}

#[test]
fn detector_filters_are_no_ops_without_a_detector() {
    let input = png(&solid(10, 10, [10.0, 20.0, 30.0]));
    for f in [
        "redact()",
        "redact(black)",
        "redact(pixelate,20)",
        "redact_oval(white)",
        "draw_detections()",
    ] {
        let out = run(&input, &format!("filters:{f}/x"));
        assert_eq!(px(&out, 5, 5), vec![10.0, 20.0, 30.0], "{f}");
    }
    assert_eq!(status(&input, "filters:redact(blur,abc)/x"), 400);
}

// ---- shape ----

#[test]
fn rotate_turns_counter_clockwise_and_swaps_fill() {
    let input = png(&halves(40, 20, [255.0, 0.0, 0.0], [0.0, 0.0, 255.0]));
    let out = run(&input, "filters:rotate(90)/x");
    assert_eq!((out.width(), out.height()), (20, 40));
    // The right half (blue) is now on top.
    assert_eq!(px(&out, 10, 5), vec![0.0, 0.0, 255.0]);
    assert_eq!(
        (
            run(&input, "filters:rotate(180)/x").width(),
            run(&input, "filters:rotate()/x").width()
        ),
        (40, 40)
    );
    // fill pads the rotated box.
    let filled = run(&input, "40x20/filters:rotate(90):fill(white)/x");
    assert_eq!((filled.width(), filled.height()), (20, 40));
    let gif = run(&gif3(12, 8), "filters:rotate(270)/x");
    assert_eq!((gif.n_pages(), gif.width(), gif.page_height()), (3, 8, 12));
}

#[test]
fn round_corner_clips_corners() {
    let input = png(&solid(40, 30, [0.0, 128.0, 0.0]));
    let out = run(&input, "filters:round_corner(10)/x");
    assert_eq!(out.bands(), 4);
    assert_eq!(px(&out, 0, 0)[3], 0.0);
    assert_eq!(px(&out, 20, 15)[3], 255.0);
    let flat = run(&input, "filters:round_corner(10,10,white)/x");
    assert_eq!(flat.bands(), 3);
    assert_eq!(px(&flat, 0, 0), vec![255.0; 3]);
    // A negative radius draws square corners.
    assert_eq!(
        px(&run(&input, "filters:round_corner(-1)/x"), 0, 0)[3],
        255.0
    );
    let gif = run(&gif3(20, 20), "filters:round_corner(5)/x");
    assert_eq!(gif.n_pages(), 3);
}

#[test]
fn crop_takes_pixels_or_fractions() {
    let input = png(&halves(40, 20, [255.0, 0.0, 0.0], [0.0, 0.0, 255.0]));
    let out = run(&input, "filters:crop(15,5,20,10)/x");
    assert_eq!((out.width(), out.height()), (20, 10));
    assert_eq!(px(&out, 0, 0), vec![255.0, 0.0, 0.0]);
    assert_eq!(px(&out, 19, 0), vec![0.0, 0.0, 255.0]);
    let frac = run(&input, "filters:crop(0.5,0.25,0.5,0.5)/x");
    assert_eq!((frac.width(), frac.height()), (20, 10));
    // Clamped to the image; outside does nothing.
    assert_eq!(run(&input, "filters:crop(30,0,100,100)/x").width(), 10);
    assert_eq!(run(&input, "filters:crop(50,0,10,10)/x").width(), 40);
    let gif = run(&gif3(20, 10), "filters:crop(2,2,5,5)/x");
    assert_eq!((gif.n_pages(), gif.width(), gif.page_height()), (3, 5, 5));
}

#[test]
fn trim_cuts_the_border() {
    let inner = solid(10, 6, [255.0, 0.0, 0.0]);
    let img = inner
        .embed(5, 3, 30, 20, imagor::vips::Extend::White, None)
        .unwrap();
    let out = run(&png(&img), "filters:trim()/x");
    assert_eq!((out.width(), out.height()), (10, 6));
    let br = run(&png(&img), "filters:trim(10,bottom-right)/x");
    assert_eq!((br.width(), br.height()), (10, 6));
    // Animations are not trimmed.
    assert_eq!(run(&gif3(10, 10), "filters:trim()/x").n_pages(), 3);
}

#[test]
fn proportion_scales() {
    let input = png(&solid(40, 20, [1.0, 2.0, 3.0]));
    for p in ["50", "0.5"] {
        let out = run(&input, &format!("filters:proportion({p})/x"));
        assert_eq!((out.width(), out.height()), (20, 10), "{p}");
    }
    assert_eq!(run(&input, "filters:proportion()/x").width(), 40);
    assert_eq!(run(&input, "filters:proportion(-3)/x").width(), 40);
}

// ---- text ----

/// Bounding box of pixels close to `rgb` (alpha > 0): (x0, y0, x1, y1).
fn find(img: &Image, rgb: [u8; 3]) -> Option<(i32, i32, i32, i32)> {
    let img = img.cast(BandFormat::UCHAR).unwrap();
    let bands = img.bands() as usize;
    let data = img.write_to_memory().unwrap();
    let w = img.width() as usize;
    let mut found: Option<(i32, i32, i32, i32)> = None;
    for (i, p) in data.chunks(bands).enumerate() {
        let near = (0..3).all(|b| (p[b] as i32 - rgb[b] as i32).abs() < 40);
        if near && (bands < 4 || p[3] > 0) {
            let (x, y) = ((i % w) as i32, (i / w) as i32);
            found = Some(match found {
                None => (x, y, x, y),
                Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
            });
        }
    }
    found
}

#[test]
fn text_draws_in_colour_where_asked() {
    let white = png(&solid(200, 60, [255.0; 3]));
    let out = run(&white, "filters:text(Hi,10,5,sans-bold-20,red)/x");
    assert_eq!(out.bands(), 4);
    let (x0, y0, x1, _) = find(&out, [255, 0, 0]).expect("red text");
    assert!(x0 >= 10 && y0 >= 5 && x1 < 60, "{x0} {y0} {x1}");
    // Right-aligned, base64url text.
    let out = run(&white, "filters:text(b64:SGk,right,bottom,sans-20,blue)/x");
    let (x0, y0, x1, y1) = find(&out, [0, 0, 255]).expect("blue text");
    assert!(
        x0 > 150 && y0 > 20 && x1 <= 199 && y1 <= 59,
        "{x0} {y0} {x1} {y1}"
    );
    // Blank text does nothing.
    assert_eq!(run(&white, "filters:text(%20)/x").bands(), 3);
}

#[test]
fn text_wraps_to_a_width() {
    let white = png(&solid(200, 200, [255.0; 3]));
    let one = find(
        &run(&white, "filters:text(aaa%20bbb%20ccc,0,0,sans-20,black)/x"),
        [0, 0, 0],
    )
    .unwrap();
    let wrapped = find(
        &run(
            &white,
            "filters:text(aaa%20bbb%20ccc,0,0,sans-20,black,0,normal,0.25)/x",
        ),
        [0, 0, 0],
    )
    .unwrap();
    assert!(wrapped.3 > one.3 + 20, "{one:?} {wrapped:?}");
    assert!(wrapped.2 < one.2, "{one:?} {wrapped:?}");
    assert_eq!(
        status(&white, "filters:text(a,0,0,sans,black,0,normal,12q)/x"),
        400
    );
}

#[test]
fn label_uses_a_pixel_size() {
    let white = png(&solid(200, 80, [255.0; 3]));
    // right-N / bottom-N push the label N pixels past the far edge.
    let flush = find(
        &run(&white, "filters:label(HELLO,right,bottom,20,blue)/x"),
        [0, 0, 255],
    )
    .expect("label");
    assert!(flush.0 > 100 && flush.1 > 50, "{flush:?}");
    let past = find(
        &run(&white, "filters:label(HELLO,r-5,b-5,20,blue)/x"),
        [0, 0, 255],
    )
    .expect("label");
    assert_eq!((past.0, past.1), (flush.0 + 5, flush.1 + 5));
    let gif = run(&gif3(60, 30), "filters:label(A,0,0,12,white)/x");
    assert_eq!(gif.n_pages(), 3);
}

// ---- overlays ----

#[test]
fn image_places_a_nested_path() {
    let white = png(&solid(40, 40, [255.0; 3]));
    let out = run(&white, "filters:image(/10x10/color:red,5,5)/x");
    assert_eq!(px(&out, 6, 6)[..3], [255.0, 0.0, 0.0]);
    assert_eq!(px(&out, 2, 2)[..3], [255.0; 3]);
    // Keywords, far-edge negatives, fractions and percents.
    for (pos, inside, outside) in [
        ("center,center", (20, 20), (10, 10)),
        ("right,bottom", (35, 35), (25, 25)),
        ("-5,-5", (28, 28), (36, 36)),
        ("0.5,50p", (22, 22), (18, 18)),
        ("l-5,t-5", (2, 2), (6, 6)),
    ] {
        let out = run(&white, &format!("filters:image(/10x10/color:red,{pos})/x"));
        assert_eq!(
            px(&out, inside.0, inside.1)[..3],
            [255.0, 0.0, 0.0],
            "{pos}"
        );
        assert_eq!(px(&out, outside.0, outside.1)[..3], [255.0; 3], "{pos}");
    }
    // repeat tiles the whole canvas; fxf is the parent's size.
    let tiled = run(&white, "filters:image(/10x10/color:red,repeat,repeat)/x");
    assert_eq!(px(&tiled, 39, 39)[..3], [255.0, 0.0, 0.0]);
    let full = run(&white, "filters:image(fxf/color:blue)/x");
    assert_eq!(px(&full, 39, 0)[..3], [0.0, 0.0, 255.0]);
}

#[test]
fn image_alpha_and_blend_modes() {
    let grey = png(&solid(20, 20, [128.0; 3]));
    let half = run(&grey, "filters:image(/20x20/color:white,0,0,50)/x");
    assert!(
        close(&px(&half, 5, 5)[..3], &[191.5; 3], 1.5),
        "{:?}",
        px(&half, 5, 5)
    );
    let mul = run(&grey, "filters:image(/20x20/color:red,0,0,0,multiply)/x");
    assert!(
        close(&px(&mul, 5, 5)[..3], &[128.0, 0.0, 0.0], 1.5),
        "{:?}",
        px(&mul, 5, 5)
    );
    let bad = run(&grey, "filters:image(/20x20/color:red,0,0,0,nonsense)/x");
    assert_eq!(px(&bad, 5, 5)[..3], [255.0, 0.0, 0.0]);
    assert_eq!(
        status(&grey, "filters:image(/20x20/color:red,0,0,abc)/x"),
        400
    );
    assert_eq!(
        status(&grey, "filters:image(/20x20/color:red,12z,0)/x"),
        400
    );
}

#[test]
fn image_loads_files_and_answers_404() {
    let white = png(&solid(300, 300, [255.0; 3]));
    let out = run(
        &white,
        "filters:image(/100x100/gopher-front.png,center,center)/x",
    );
    assert_eq!((out.width(), out.height()), (300, 300));
    assert_ne!(px(&out, 150, 150)[..3], [255.0; 3]);
    assert_eq!(status(&white, "filters:image(nope.png,0,0)/x"), 404);
    // Without loaders, overlays are not found.
    let bare = Imagor::new(Options::default()).unwrap();
    let err = bare
        .process(&white, "filters:image(gopher.png)/x")
        .unwrap_err();
    assert_eq!(err, Error::not_found("gopher.png"));
}

#[test]
fn image_nesting_is_limited() {
    let white = png(&solid(30, 30, [255.0; 3]));
    let two = "filters:image(/20x20/filters:image(/5x5/color:red)/color:blue)/x";
    let ok = imagor_with(Options {
        max_overlay_depth: 2,
        ..Options::default()
    });
    assert!(ok.process(&white, two).is_ok());
    let strict = imagor_with(Options {
        max_overlay_depth: 1,
        ..Options::default()
    });
    let err = strict.process(&white, two).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("max_overlay_depth (1)"), "{err}");
    // Each level runs on the calling thread's stack: a depth past the
    // bound is refused as an option (100 000 let a path of 1 000 nested
    // overlays overflow an 8 MB stack), and the bound itself runs on a
    // thread of 2 MB, Rust's default.
    let err = Imagor::new(Options {
        max_overlay_depth: imagor::MAX_OVERLAY_DEPTH + 1,
        ..Options::default()
    })
    .map(drop)
    .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("max_overlay_depth"), "{err}");
    let deepest = imagor_with(Options {
        max_overlay_depth: imagor::MAX_OVERLAY_DEPTH,
        ..Options::default()
    });
    let mut nested = "color:red".to_owned();
    for _ in 0..imagor::MAX_OVERLAY_DEPTH {
        nested = format!("filters:image(/4x4/{nested})/color:blue");
    }
    let path = format!("filters:image(/8x8/{nested})/x");
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || deepest.process(&white, &path).map(drop))
        .expect("a thread")
        .join();
    let err = result.expect("no stack overflow").unwrap_err();
    assert!(err.to_string().contains("max_overlay_depth (32)"), "{err}");
}

#[test]
fn watermark_sizes_and_repeats() {
    let white = png(&solid(200, 100, [255.0; 3]));
    let out = run(&white, "filters:watermark(gopher.png,0,0,0,50,none)/x");
    assert_eq!((out.width(), out.height()), (200, 100));
    // b64: keys, none ratios, alpha.
    let b64 = run(
        &white,
        "filters:watermark(b64:Z29waGVyLnBuZw,center,center,50,none,50)/x",
    );
    assert_ne!(px(&b64, 100, 50)[..3], [255.0; 3]);
    assert_eq!(
        status(&white, "filters:watermark(missing.png,0,0,0)/x"),
        404
    );
    assert_eq!(
        status(&white, "filters:watermark(gopher.png,0,0,0,abc,10)/x"),
        400
    );
    // An animated base gets the watermark on every frame.
    let gif = run(&gif3(40, 30), "filters:watermark(gopher.png,0,0,0,50,50)/x");
    assert_eq!(gif.n_pages(), 3);
    let anim = run(
        &gif3(40, 30),
        "filters:watermark(dancing-banana.gif,repeat,0,0,20,20)/x",
    );
    assert_eq!(
        (anim.n_pages(), anim.width(), anim.page_height()),
        (3, 40, 30)
    );
}

#[test]
fn disabled_filters_are_skipped() {
    let edge = png(&halves(40, 10, [0.0; 3], [255.0; 3]));
    let no_blur = imagor_with(Options {
        disable_blur: true,
        ..Options::default()
    });
    let out = decode(&no_blur.process(&edge, "filters:blur(6)/x").unwrap().data);
    assert_eq!(px(&out, 19, 5)[0], 0.0);
}

/// GIF has no quality to lower: `max_bytes` answers the one save, as
/// imagor's search ends with the same bytes after saving them again.
#[test]
fn max_bytes_leaves_a_gif_as_it_is() {
    let input = gif3(40, 30);
    let plain = imagor().process(&input, "filters:format(gif)").unwrap();
    let capped = imagor()
        .process(&input, "filters:format(gif):max_bytes(10)")
        .unwrap();
    assert_eq!(capped.data, plain.data);
    assert_eq!(capped.content_type, "image/gif");
}
