//! The built-in face detector (feature `face`, option `face_detector`) on
//! photos with faces that ship in `testdata/` (`faces-solvay.png`, a crop
//! of rustface's own test image, `faces-astronaut.jpg`, NASA's public
//! domain portrait of Eileen Collins, and `faces-hopper.jpg`, the US Navy's
//! public domain portrait of Grace Hopper; see `testdata/README.md`): every
//! hand-labelled face is found (IoU >= 0.5), and `smart` crop keeps every
//! face inside the crop.

use imagor::detector::face::FaceDetector;
use imagor::detector::{Detector, Probe};
use imagor::vips::{Arg, BandFormat, Blob, Call, Image};
use imagor::{Imagor, Options};

/// Hand-labelled faces of `faces-solvay.png` (390x170): left, top, right,
/// bottom in pixels, forehead to chin and ear to ear, read off a 2x zoom.
const FACES: [(f64, f64, f64, f64); 5] = [
    (19.0, 75.0, 74.0, 131.0),   // front row, left
    (77.0, 20.0, 120.0, 60.0),   // back row, left
    (197.0, 75.0, 252.0, 130.0), // front row, centre
    (239.0, 27.0, 282.0, 70.0),  // back row, right
    (317.0, 75.0, 370.0, 128.0), // front row, right
];

fn photo() -> Vec<u8> {
    std::fs::read(format!(
        "{}/../testdata/faces-solvay.png",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn iou(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> f64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0.0);
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0.0);
    let inter = w * h;
    let area = |r: (f64, f64, f64, f64)| (r.2 - r.0) * (r.3 - r.1);
    inter / (area(a) + area(b) - inter)
}

/// The hand-labelled face of `faces-astronaut.jpg` (512x512), eyebrows to
/// chin and cheek to cheek, read off a 2x zoom.
const ASTRONAUT: (f64, f64, f64, f64) = (181.0, 87.0, 271.0, 176.0);

fn astronaut() -> Vec<u8> {
    testdata("faces-astronaut.jpg")
}

/// The hand-labelled face of `faces-hopper.jpg` (512x600), eyebrows to chin
/// and cheek to cheek (inside the glasses' frame), read off a 2x zoom.
const HOPPER: (f64, f64, f64, f64) = (165.0, 175.0, 360.0, 327.0);

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn faced() -> Imagor {
    Imagor::new(Options {
        face_detector: true,
        // Debug builds on a busy machine: the budget is not under test.
        process_timeout: std::time::Duration::from_secs(60),
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn every_labelled_face_is_found() {
    // `/meta` detects on the output image: `smart` without a size leaves
    // it as it is (after `redact()` there would be no faces left to find).
    let m = faced().meta(&photo(), "smart").unwrap();
    let found: Vec<(f64, f64, f64, f64)> = m
        .detected_regions
        .iter()
        .map(|r| (r.left as f64, r.top as f64, r.right as f64, r.bottom as f64))
        .collect();
    assert!(m
        .detected_regions
        .iter()
        .all(|r| r.name == "face" && r.score > 0.0));
    for (i, label) in FACES.iter().enumerate() {
        let best = found.iter().map(|f| iou(*label, *f)).fold(0.0, f64::max);
        assert!(
            best >= 0.5,
            "face {i} {label:?}: best IoU {best:.2} among {found:?}"
        );
    }
    assert!(found.len() <= FACES.len() + 1, "false faces: {found:?}");
}

#[test]
fn the_astronaut_is_found_and_smart_crop_keeps_her_face() {
    let m = faced().meta(&astronaut(), "smart").unwrap();
    let found: Vec<(f64, f64, f64, f64)> = m
        .detected_regions
        .iter()
        .map(|r| (r.left as f64, r.top as f64, r.right as f64, r.bottom as f64))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(iou(ASTRONAUT, found[0]) >= 0.5, "{found:?}");
    // A 400x100 band of the 400x400 resize: the face (rows 68..138 at
    // that scale) must be in it, as a whole face found again in the crop.
    let crop = faced().meta(&astronaut(), "400x100/smart/").unwrap();
    assert_eq!((crop.width, crop.height), (400, 100));
    let kept = faced()
        .meta(
            &faced()
                .process(&astronaut(), "400x100/smart/filters:format(png)")
                .unwrap()
                .data,
            "smart",
        )
        .unwrap();
    assert_eq!(kept.detected_regions.len(), 1, "{kept:?}");
    let f = &kept.detected_regions[0];
    assert!(f.top > 0 && f.bottom < 100, "face cut by the crop: {f:?}");
    // Without the detector, libvips' attention picks another band.
    let plain = Imagor::new(Options::default()).unwrap();
    let attention = plain
        .process(&astronaut(), "400x100/smart/filters:format(png)")
        .unwrap();
    let faced_out = faced()
        .process(&astronaut(), "400x100/smart/filters:format(png)")
        .unwrap();
    assert_ne!(attention.data, faced_out.data, "the faces steered the crop");
}

#[test]
fn grace_hopper_is_found_and_a_smart_band_keeps_her_face() {
    let photo = testdata("faces-hopper.jpg");
    let m = faced().meta(&photo, "smart").unwrap();
    assert_eq!(m.detected_regions.len(), 1, "{m:?}");
    let r = &m.detected_regions[0];
    let found = (r.left as f64, r.top as f64, r.right as f64, r.bottom as f64);
    assert!(iou(HOPPER, found) >= 0.5, "{found:?} vs {HOPPER:?}");
    // A 512x240 band of the 512x600 portrait: the whole face, found again
    // in the output, is inside it.
    let out = faced()
        .process(&photo, "512x240/smart/filters:format(png)")
        .unwrap();
    let kept = faced().meta(&out.data, "smart").unwrap();
    assert_eq!((kept.width, kept.height), (512, 240));
    assert_eq!(kept.detected_regions.len(), 1, "{kept:?}");
    let f = &kept.detected_regions[0];
    assert!(f.top > 0 && f.bottom < 240, "face cut by the crop: {f:?}");
}

#[test]
fn smart_crop_keeps_every_face() {
    // 390x170 to 390x140: only the vertical position is chosen.
    let out = faced()
        .process(&photo(), "390x140/smart/filters:format(png)")
        .unwrap();
    let img = decode(&out.data);
    assert_eq!((img.width(), img.height()), (390, 140));
    // Find where the crop came from: compare rows with the source.
    let src = decode(&photo());
    let top = (0..=30)
        .find(|&t| same_rows(&src, &img, t))
        .expect("the crop is a window of the source");
    for (i, f) in FACES.iter().enumerate() {
        assert!(
            f.1 >= top as f64 && f.3 <= (top + 140) as f64,
            "face {i} {f:?} outside rows {top}..{}",
            top + 140
        );
    }
}

#[test]
fn the_detector_alone_and_its_options() {
    let img = decode(&photo());
    let rgb = img.cast(BandFormat::UCHAR).unwrap();
    let pixels = rgb.write_to_memory().unwrap();
    let probe = Probe::new(
        &pixels,
        rgb.width() as u32,
        rgb.height() as u32,
        rgb.bands() as u32,
    );
    let d = FaceDetector::new(20, 2.0).unwrap();
    d.startup().unwrap();
    assert!(d.detect("", &probe).unwrap().len() >= FACES.len());
    // A stricter score threshold finds no more faces.
    let strict = FaceDetector::new(20, 8.0)
        .unwrap()
        .detect("", &probe)
        .unwrap();
    assert!(strict.len() <= d.detect("", &probe).unwrap().len());
    // The largest size bounds the faces found (in probe pixels).
    let all = d.detect("", &probe).unwrap();
    let widest = all
        .iter()
        .map(|r| ((r.right - r.left) * probe.width as f64).round() as u32)
        .max()
        .unwrap();
    let capped = FaceDetector::new(20, 2.0)
        .unwrap()
        .with_max_size(widest - 1)
        .detect("", &probe)
        .unwrap();
    assert!(
        capped
            .iter()
            .all(|r| (((r.right - r.left) * probe.width as f64).round() as u32) < widest),
        "{capped:?}"
    );
    assert!(
        capped.len() < all.len(),
        "{} of {}",
        capped.len(),
        all.len()
    );
    // Every kept face overlaps another by no more than the IoU threshold.
    let iou = |a: &imagor::detector::Region, b: &imagor::detector::Region| {
        let w = (a.right.min(b.right) - a.left.max(b.left)).max(0.0);
        let h = (a.bottom.min(b.bottom) - a.top.max(b.top)).max(0.0);
        let area = |r: &imagor::detector::Region| (r.right - r.left) * (r.bottom - r.top);
        w * h / (area(a) + area(b) - w * h)
    };
    let merged = FaceDetector::new(20, 2.0)
        .unwrap()
        .with_iou_threshold(0.0)
        .detect("", &probe)
        .unwrap();
    for (i, a) in merged.iter().enumerate() {
        for b in &merged[i + 1..] {
            assert!(iou(a, b) <= 0.0, "{a:?} {b:?}");
        }
    }
    assert!(merged.len() <= all.len());
    // Redacted faces are not found again.
    let redacted = faced().meta(&photo(), "filters:redact()").unwrap();
    assert!(
        redacted.detected_regions.len() < FACES.len(),
        "{redacted:?}"
    );
    // A probe smaller than a face window, and a malformed one.
    let tiny = Probe::new(&pixels[..30], 5, 2, 3);
    assert!(d.detect("", &tiny).unwrap().is_empty());
    let bad = Probe::new(&pixels[..30], 50, 50, 3);
    assert_eq!(d.detect("", &bad).unwrap_err().code(), "detector");
    assert!(FaceDetector::new(10, 2.0).is_err());
    assert!(FaceDetector::new(20, 0.0).is_err());
    let e = Imagor::new(Options {
        face_detector: true,
        face_detector_min_size: 5,
        ..Options::default()
    })
    .unwrap_err();
    assert_eq!(e.status(), 400);
    // Cached per image key.
    let cached = Imagor::new(Options {
        face_detector: true,
        face_detector_cache_size: 4,
        ..Options::default()
    })
    .unwrap();
    assert_eq!(cached.detector_count(), 1);
}

fn decode(data: &[u8]) -> Image {
    let loader = Image::find_loader(data).unwrap();
    let blob = Blob::copy_from(data);
    Call::new(&loader)
        .arg("buffer", Arg::Blob(&blob))
        .run()
        .unwrap()
        .out()
        .unwrap()
}

fn same_rows(src: &Image, crop: &Image, top: i32) -> bool {
    [0, 70, 139].iter().all(|&y| {
        (0..390).step_by(37).all(|x| {
            let a = src.getpoint(x, top + y).unwrap();
            let b = crop.getpoint(x, y).unwrap();
            a.iter().zip(&b).all(|(p, q)| (p - q).abs() <= 2.0)
        })
    })
}
