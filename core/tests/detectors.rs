//! Region detectors through the public API (`Imagor::with_detector`):
//! smart crop, `redact()`, `redact_oval()`, `draw_detections()`, `/meta`,
//! animations, the probe handed to detectors, and bad detector output.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use imagor::detector::{Detector, FixedRegions, Probe, Region, MAX_REGIONS};
mod image_common;

use image_common::encode as save;
use imagor::vips::{Arg, BandFormat, Blob, Call, Image, Interpretation};
use imagor::{Error, Imagor, Options};

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

fn png(img: &Image) -> Vec<u8> {
    save(img, "pngsave_buffer")
}

/// A 3-frame GIF: red, green, blue frames.
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

fn px(img: &Image, x: i32, y: i32) -> Vec<f64> {
    img.getpoint(x, y).unwrap()
}

fn with(detectors: Vec<Arc<dyn Detector>>) -> Imagor {
    let mut imagor = Imagor::new(Options::default()).unwrap();
    for d in detectors {
        imagor = imagor.with_detector(d).unwrap();
    }
    imagor
}

fn fixed(regions: Vec<Region>) -> Arc<dyn Detector> {
    Arc::new(FixedRegions::new(regions))
}

fn run(imagor: &Imagor, input: &[u8], path: &str) -> Image {
    let out = imagor
        .process(input, path)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    decode(&out.data)
}

/// A 200x100 image: grey, with a white 20x20 square whose top-left corner
/// is at (`x`, `y`).
fn square_at(x: i32, y: i32) -> Vec<u8> {
    let base = solid(200, 100, [90.0; 3]);
    let sq = solid(20, 20, [255.0; 3]);
    let img = Call::new("insert")
        .arg("main", Arg::Image(&base))
        .arg("sub", Arg::Image(&sq))
        .arg("x", Arg::Int(x.into()))
        .arg("y", Arg::Int(y.into()))
        .run()
        .unwrap()
        .out()
        .unwrap();
    png(&img)
}

/// What a detector was shown: key, width, height, bands, byte count.
type Seen = (String, u32, u32, u32, usize);

/// Records every probe it is shown.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    answer: Vec<Region>,
}

impl Detector for Recorder {
    fn detect(&self, key: &str, p: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        self.seen.lock().unwrap().push((
            key.to_owned(),
            p.width,
            p.height,
            p.bands,
            p.pixels.len(),
        ));
        Ok(self.answer.clone())
    }
}

#[test]
fn smart_crop_centres_on_detected_regions() {
    // A region at the far right; attention alone would pick the white
    // square at the far left.
    let input = square_at(5, 40);
    let plain = Imagor::new(Options::default()).unwrap();
    let attention = run(&plain, &input, "50x100/smart");
    assert_eq!(
        px(&attention, 15, 50),
        vec![255.0; 3],
        "attention finds the square"
    );
    let detected = with(vec![fixed(vec![Region::new(0.9, 0.4, 0.95, 0.6)])]);
    let out = run(&detected, &input, "50x100/smart");
    assert_eq!((out.width(), out.height()), (50, 100));
    assert!(
        (0..50).all(|x| px(&out, x, 50) == vec![90.0; 3]),
        "the crop follows the region, away from the square"
    );
    // No regions: the attention crop, as without a detector.
    let empty = with(vec![fixed(vec![])]);
    let fallback = run(&empty, &input, "50x100/smart");
    assert_eq!(px(&fallback, 15, 50), vec![255.0; 3]);
    // An explicit focal() wins over the detector (imagor).
    let focal = run(&detected, &input, "50x100/smart/filters:focal(0x0:20x100)");
    assert_eq!(px(&focal, 15, 50), vec![255.0; 3]);
}

#[test]
fn redact_modes_change_only_the_regions() {
    let base = square_at(100, 40);
    // The white square is at x 100..120, y 40..60 of 200x100; the region
    // is x 90..130, y 30..70.
    let region = Region::new(0.45, 0.3, 0.65, 0.7).with_name("face");
    let imagor = with(vec![fixed(vec![region])]);
    let black = run(&imagor, &base, "filters:redact(black)");
    assert_eq!(px(&black, 110, 50), vec![0.0; 3]);
    assert_eq!(px(&black, 89, 50), vec![90.0; 3]);
    assert_eq!(px(&black, 130, 50), vec![90.0; 3]);
    assert_eq!(px(&black, 110, 29), vec![90.0; 3]);
    let red = run(&imagor, &base, "filters:redact(ff0000)");
    assert_eq!(&px(&red, 110, 50)[..3], &[255.0, 0.0, 0.0]);
    let blur = run(&imagor, &base, "filters:redact()");
    let v = px(&blur, 110, 50)[0];
    assert!(v < 255.0 && v > 90.0, "blurred centre {v}");
    assert_eq!(px(&blur, 50, 50)[0], 90.0);
    let pix = run(&imagor, &base, "filters:redact(pixelate,5)");
    assert_eq!(px(&pix, 110, 50)[0], 255.0);
    // Oval: the centre is filled, the box's corner is not.
    let oval = run(&imagor, &base, "filters:redact_oval(black)");
    assert_eq!(px(&oval, 110, 50)[..3], [0.0; 3]);
    assert_eq!(px(&oval, 91, 31)[..3], [90.0; 3]);
    let oval_blur = run(&imagor, &base, "filters:redact_oval(blur,3)");
    assert_eq!(px(&oval_blur, 91, 31)[..3], [90.0; 3]);
    assert_ne!(px(&oval_blur, 101, 41)[..3], [255.0; 3]);
}

#[test]
fn draw_detections_outlines_with_the_palette() {
    let base = png(&solid(100, 100, [0.0; 3]));
    let imagor = with(vec![fixed(vec![
        Region::new(0.1, 0.1, 0.5, 0.5).with_name("face"),
        Region::new(0.6, 0.6, 0.9, 0.9),
    ])]);
    let out = run(&imagor, &base, "filters:draw_detections()");
    let face = px(&out, 10, 10);
    assert_ne!(face[..3], [0.0; 3], "outline drawn");
    assert_eq!(px(&out, 30, 30)[..3], [0.0; 3], "not filled");
    assert_eq!(px(&out, 49, 30), face, "right edge, same colour");
    // The unnamed region is "33aaff", imagor's colour for "".
    assert_eq!(
        px(&out, 60, 60)[..3],
        [0x33 as f64, 0xaa as f64, 0xff as f64]
    );
}

#[test]
fn animations_follow_imagor() {
    let gif = gif3(40, 20);
    let imagor = with(vec![fixed(vec![Region::new(0.0, 0.0, 1.0, 1.0)])]);
    // redact leaves animations alone.
    let out = run(&imagor, &gif, "filters:redact(black)");
    assert_eq!(out.get_int("n-pages"), Some(3));
    assert_eq!(px(&out, 20, 10)[..3], [255.0, 0.0, 0.0]);
    // draw_detections draws on the first frame only.
    let drawn = run(&imagor, &gif, "filters:draw_detections()");
    assert_ne!(px(&drawn, 0, 0)[..3], [255.0, 0.0, 0.0]);
    assert_eq!(px(&drawn, 0, 20)[..3], [0.0, 255.0, 0.0]);
    // The probe is the first frame.
    let rec = Arc::new(Recorder::default());
    let imagor = with(vec![rec.clone()]);
    run(&imagor, &gif, "filters:draw_detections()");
    let seen = rec.seen.lock().unwrap();
    assert_eq!((seen[0].1, seen[0].2), (40, 20));
}

#[test]
fn the_probe_is_small_srgb_and_keyed_by_the_image() {
    let rec = Arc::new(Recorder::default());
    let mut imagor = Imagor::new(Options {
        detector_probe_size: 50,
        file_loader_base_dir: format!("{}/../testdata", env!("CARGO_MANIFEST_DIR")),
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    imagor = imagor.with_detector(rec.clone()).unwrap();
    imagor
        .serve("unsafe/100x100/smart/gopher-front.png")
        .unwrap();
    // A grey image is still handed over as sRGB.
    let grey = save(
        &solid(300, 120, [50.0; 3])
            .colourspace(Interpretation::B_W)
            .unwrap(),
        "pngsave_buffer",
    );
    imagor.process(&grey, "filters:redact()").unwrap();
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let (key, w, h, bands, len) = seen[0].clone();
    assert_eq!(key, "gopher-front.png", "smart crop passes the image key");
    assert!(w <= 50 && h <= 50 && (w == 50 || h == 50), "{w}x{h}");
    assert_eq!((bands, len), (4, (w * h * 4) as usize));
    assert_eq!(
        seen[1],
        (String::new(), 50, 20, 3, 50 * 20 * 3),
        "filters pass no key"
    );
}

/// A strip thinner than the probe's shrink factor (2x9000, 9000x3) is
/// still probed: the box shrink never takes an axis below one pixel. It
/// was a 406 `shrink failed` for `smart`, `/meta` and `redact()` once a
/// detector was set, where imagor (and this crate without one) answers.
#[test]
fn strips_thinner_than_the_shrink_factor_are_probed() {
    let rec = Arc::new(Recorder::default());
    let imagor = with(vec![rec.clone()]);
    for (w, h) in [(2, 9000), (9000, 3), (1, 5000), (5000, 1)] {
        let strip = png(&solid(w, h, [90.0; 3]));
        for path in ["fit-in/100x100/smart", "filters:redact()"] {
            imagor
                .process(&strip, path)
                .unwrap_or_else(|e| panic!("{w}x{h} {path}: {e}"));
        }
        let meta = imagor
            .meta(&strip, "smart")
            .unwrap_or_else(|e| panic!("{w}x{h} meta: {e}"));
        assert_eq!((meta.width, meta.height), (w, h));
    }
    let seen = rec.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for (_, w, h, bands, len) in seen {
        assert!(w >= 1 && h >= 1 && w <= 400 && h <= 400, "{w}x{h}");
        assert_eq!(len, (w * h * bands) as usize);
    }
}

#[test]
fn meta_reports_regions_in_output_pixels() {
    let input = png(&solid(200, 100, [90.0; 3]));
    let imagor = with(vec![fixed(vec![
        Region::new(0.1, 0.2, 0.3, 0.4)
            .with_name("face")
            .with_score(9.5),
        Region::new(0.5, 0.5, 0.6, 0.7),
    ])]);
    let m = imagor
        .meta(&input, "fit-in/100x100/filters:redact()")
        .unwrap();
    assert_eq!((m.width, m.height), (100, 50));
    let r = &m.detected_regions;
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].left, r[0].top, r[0].right, r[0].bottom),
        (10, 10, 30, 20)
    );
    assert_eq!((r[0].score, r[0].name.as_str()), (9.5, "face"));
    let json = String::from_utf8(
        imagor
            .process(&input, "meta/filters:draw_detections()")
            .unwrap()
            .data,
    )
    .unwrap();
    assert!(
        json.contains(r#""detected_regions":[{"left":20,"top":20,"right":60,"bottom":40,"score":9.5,"name":"face"},{"left":100,"top":50,"right":120,"bottom":70}]"#),
        "{json}"
    );
    // Not asked for: no detection, no field (nor for redact_oval, as imagor).
    for path in ["", "filters:redact_oval()", "fit-in/50x50"] {
        let m = imagor.meta(&input, path).unwrap();
        assert!(m.detected_regions.is_empty(), "{path}");
    }
    assert!(
        imagor
            .meta(&input, "50x50/smart")
            .unwrap()
            .detected_regions
            .len()
            == 2
    );
}

#[test]
fn detectors_merge_in_order() {
    let imagor = with(vec![
        fixed(vec![Region::new(0.0, 0.0, 0.5, 0.5).with_name("a")]),
        fixed(vec![Region::new(0.5, 0.5, 1.0, 1.0).with_name("b")]),
    ]);
    assert_eq!(imagor.detector_count(), 2);
    let m = imagor
        .meta(&png(&solid(10, 10, [0.0; 3])), "filters:redact()")
        .unwrap();
    let names: Vec<&str> = m.detected_regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}

struct Failing;
impl Detector for Failing {
    fn detect(&self, _: &str, _: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        Err(Error::Internal("model exploded".into()))
    }
}

#[test]
fn bad_detectors_are_typed_errors() {
    let input = png(&solid(20, 20, [0.0; 3]));
    let check = |d: Arc<dyn Detector>, want: &str| {
        let e = with(vec![d])
            .process(&input, "filters:redact()")
            .unwrap_err();
        assert_eq!((e.code(), e.status()), ("detector", 500), "{e}");
        assert!(e.message().contains(want), "{e}");
    };
    check(Arc::new(Failing), "model exploded");
    check(
        fixed(vec![Region::new(f64::NAN, 0.0, 1.0, 1.0)]),
        "non-finite",
    );
    check(fixed(vec![Region::new(0.8, 0.0, 0.2, 1.0)]), "inverted");
    check(
        fixed(vec![Region::new(0.1, 0.1, 0.2, 0.2); MAX_REGIONS + 1]),
        "more than",
    );
    // Out of range is clamped, not refused.
    let ok = with(vec![fixed(vec![Region::new(-3.0, -1.0, 7.0, 0.5)])]);
    let m = ok.meta(&input, "filters:redact(black)").unwrap();
    let r = &m.detected_regions[0];
    assert_eq!((r.left, r.top, r.right, r.bottom), (0, 0, 20, 10));
    // Without the filter asking, a failing detector is never called.
    assert!(with(vec![Arc::new(Failing)])
        .process(&input, "10x10")
        .is_ok());
}

#[test]
fn many_regions_stay_bounded() {
    // MAX_REGIONS small boxes: drawn and redacted without a deep pipeline.
    let regions: Vec<Region> = (0..MAX_REGIONS)
        .map(|i| {
            let x = (i % 16) as f64 / 16.0;
            let y = (i / 16) as f64 / 16.0;
            Region::new(x, y, x + 0.05, y + 0.05)
        })
        .collect();
    // Only that it finishes: a debug build on a busy machine is slow.
    let mut imagor = Imagor::new(Options {
        process_timeout: std::time::Duration::from_secs(120),
        ..Options::default()
    })
    .unwrap();
    imagor = imagor.with_detector(fixed(regions)).unwrap();
    let input = png(&solid(200, 200, [0.0; 3]));
    for f in [
        "draw_detections()",
        "redact(white)",
        "redact_oval(pixelate)",
    ] {
        let out = run(&imagor, &input, &format!("filters:{f}"));
        assert_eq!(out.width(), 200, "{f}");
    }
}

struct Lifecycle {
    started: Arc<AtomicUsize>,
    stopped: Arc<AtomicUsize>,
    fail: bool,
}
impl Detector for Lifecycle {
    fn startup(&self) -> imagor::Result<()> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(Error::Internal("no model".into()));
        }
        Ok(())
    }
    fn detect(&self, _: &str, _: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        Ok(vec![])
    }
    fn shutdown(&self) -> imagor::Result<()> {
        self.stopped.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn startup_and_shutdown() {
    let (started, stopped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let d = |fail| {
        Arc::new(Lifecycle {
            started: started.clone(),
            stopped: stopped.clone(),
            fail,
        })
    };
    let imagor = Imagor::new(Options::default())
        .unwrap()
        .with_detector(d(false))
        .unwrap();
    let clone = imagor.clone().with_detector(d(false)).unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 2);
    drop(imagor);
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        0,
        "the clone still uses the first"
    );
    drop(clone);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
    let e = Imagor::new(Options::default())
        .unwrap()
        .with_detector(d(true))
        .unwrap_err();
    assert_eq!(e.code(), "detector");
    assert!(e.message().contains("no model"), "{e}");
}

#[test]
fn probe_size_option_is_checked() {
    for bad in [0, -1, 10_001] {
        let e = Imagor::new(Options {
            detector_probe_size: bad,
            ..Options::default()
        })
        .unwrap_err();
        assert_eq!(e.status(), 400);
    }
}

/// The README's Rust snippet (Detectors), as written there (the path of
/// the image made absolute).
#[test]
fn readme_snippet() -> imagor::Result<()> {
    use imagor::detector::{Detector, FixedRegions, Probe, Region};
    use std::sync::Arc;

    struct Centre;
    impl Detector for Centre {
        fn detect(&self, _key: &str, probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
            assert!(probe.bands == 3 || probe.bands == 4);
            Ok(vec![Region::new(0.3, 0.3, 0.7, 0.7)
                .with_score(1.0)
                .with_name("centre")])
        }
    }
    let imagor = imagor::Imagor::new(imagor::Options::default())?
        .with_detector(Arc::new(Centre))?
        .with_detector(Arc::new(FixedRegions::new(vec![Region::new(
            0.0, 0.0, 0.1, 0.1,
        )])))?;
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher-front.png"
    ))
    .unwrap();
    let blurred = imagor.process(&png, "filters:redact()")?;
    let meta = imagor.meta(&png, "200x200/smart")?;
    assert_eq!(meta.detected_regions[0].name, "centre");
    let _ = blurred;
    Ok(())
}
