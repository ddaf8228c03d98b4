//! The thin libvips layer: calls by name, outputs, errors, metadata.

use imagor::vips::{Arg, Blob, Call, Image, Interesting, Size};

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn load_thumbnail_save_round_trip() {
    let data = testdata("gopher.png");
    assert_eq!(Image::find_loader(&data).as_deref(), Some("pngload_buffer"));
    let blob = Blob::copy_from(&data);
    drop(data);
    let img = Call::new("pngload_buffer")
        .arg("buffer", Arg::Blob(&blob))
        .run()
        .unwrap()
        .out()
        .unwrap();
    drop(blob);
    let thumb = img
        .thumbnail_image(100, 100, Size::Both, Interesting::Centre)
        .unwrap();
    assert_eq!((thumb.width(), thumb.height()), (100, 100));
    let out = Call::new("webpsave_buffer")
        .arg("in", Arg::Image(&thumb))
        .run()
        .unwrap()
        .blob("buffer")
        .unwrap();
    assert_eq!(&out.as_slice()[8..12], b"WEBP");
}

#[test]
fn failures_are_errors_not_panics() {
    let blob = Blob::copy_from(b"not an image at all");
    let err = Call::new("jpegload_buffer")
        .arg("buffer", Arg::Blob(&blob))
        .run()
        .err()
        .unwrap();
    assert_eq!(err.status(), 406);
    assert!(Call::new("no_such_operation").run().is_err());
    let img = Image::black(10, 10, 3).unwrap();
    assert!(Call::new("invert")
        .arg("nope", Arg::Image(&img))
        .run()
        .is_err());
    assert!(img.extract_area(5, 5, 20, 20).is_err());
    assert!(Call::new("embed")
        .arg("in", Arg::Image(&img))
        .arg("x", Arg::Int(0))
        .arg("y", Arg::Int(0))
        .arg("width", Arg::Int(20))
        .arg("height", Arg::Int(20))
        .arg("extend", Arg::Nick("sideways"))
        .run()
        .is_err());
}

#[test]
fn metadata_edit_copies() {
    let img = Image::black(4, 8, 3).unwrap();
    let edited = img
        .with_meta(|m| {
            m.set_int("page-height", 4);
            m.set_array_int("delay", &[10, 20]);
        })
        .unwrap();
    assert_eq!(img.page_height(), 8);
    assert_eq!(edited.page_height(), 4);
    assert_eq!(edited.frames(), 2);
    assert_eq!(edited.get_array_int("delay"), Some(vec![10, 20]));
    let px = edited.getpoint(1, 1).unwrap();
    assert_eq!(px, vec![0.0, 0.0, 0.0]);
    let raw = Image::from_memory(&[1, 2, 3, 4, 5, 6], 2, 1, 3, 0).unwrap();
    assert_eq!(raw.write_to_memory().unwrap(), vec![1, 2, 3, 4, 5, 6]);
    assert!(Image::from_memory(&[1, 2], 2, 1, 3, 0).is_err());
}

/// Safe code cannot change a shared image: an operation that draws into its
/// argument (`draw_rect`, MODIFY) works on a private copy.
/// Lazy or already in memory (where libvips' `copy_memory` hands back the
/// same buffer, and a draw used to write into the caller's pixels).
#[test]
fn in_place_operations_never_touch_the_callers_image() {
    let lazy = Image::black(8, 8, 1).unwrap();
    let in_memory = lazy.copy_memory().unwrap();
    for img in [lazy, in_memory] {
        let out = Call::new("draw_rect")
            .arg("image", Arg::Image(&img))
            .arg("ink", Arg::Doubles(&[255.0]))
            .arg("left", Arg::Int(0))
            .arg("top", Arg::Int(0))
            .arg("width", Arg::Int(8))
            .arg("height", Arg::Int(8))
            .arg("fill", Arg::Bool(true))
            .run()
            .unwrap();
        let drawn = out.image("image").unwrap();
        assert_eq!(drawn.getpoint(3, 3).unwrap(), vec![255.0]);
        assert_eq!(
            img.getpoint(3, 3).unwrap(),
            vec![0.0],
            "the shared image changed"
        );
    }
}

/// Values outside an argument's declared range are refused before libvips
/// sees them (no GLib warning, no silently ignored value), and only input
/// arguments can be set.
#[test]
fn arguments_are_checked_against_their_declaration() {
    let img = Image::black(8, 8, 3).unwrap();
    let err = Call::new("jpegsave_buffer")
        .arg("in", Arg::Image(&img))
        .arg("Q", Arg::Int(1000))
        .run()
        .err()
        .unwrap();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("jpegsave_buffer: Q = 1000"),
        "{err}"
    );
    let err = Call::new("gaussblur")
        .arg("in", Arg::Image(&img))
        .arg("sigma", Arg::Double(f64::NAN))
        .run()
        .err()
        .unwrap();
    assert_eq!(err.status(), 400, "{err}");
    let err = Call::new("invert")
        .arg("in", Arg::Image(&img))
        .arg("out", Arg::Image(&img))
        .run()
        .err()
        .unwrap();
    assert!(err.to_string().contains("not an input"), "{err}");
}
