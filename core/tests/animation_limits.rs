//! Resizes of animations whose frames, stacked, would be over the size
//! limits are refused before any work, with imagor's 422, also where the
//! stack is past what libvips can address (an upscale of thousands of
//! frames failed inside libvips as a bare 406 `thumbnail_image failed`).

mod image_common;

use image_common::encode;
use imagor::vips::{BandFormat, Image};
use imagor::{Imagor, Options};

/// An animated GIF of `frames` grey frames of `side` x `side`.
fn flat_gif(frames: i32, side: i32) -> Vec<u8> {
    let pixels = vec![128u8; (side * side * frames * 3) as usize];
    let img = Image::from_memory(&pixels, side, side * frames, 3, BandFormat::UCHAR)
        .unwrap()
        .with_meta(|m| m.set_int("page-height", side))
        .unwrap();
    encode(&img, "gifsave_buffer")
}

#[test]
fn an_upscale_of_many_frames_is_refused_as_over_the_limits() {
    let gif = flat_gif(4000, 32);
    let limited = Imagor::new(Options::default()).unwrap();
    let unlimited = Imagor::new(Options {
        unlimited: true,
        ..Options::default()
    })
    .unwrap();
    for path in [
        "fit-in/9999x9999/filters:upscale()",
        "fit-in/9999x9999/filters:upscale():format(webp)",
        "9999x9999/smart",
        "9999x9999/filters:upscale()",
    ] {
        for (who, imagor) in [("limited", &limited), ("unlimited", &unlimited)] {
            match imagor.process(&gif, path) {
                // A crop may be refused first for the memory of its
                // resized copy: a 422 too.
                Err(e) => assert!(
                    e.status() == 422
                        && (e.to_string() == "maximum resolution exceeded"
                            || !path.starts_with("fit-in") && e.to_string().contains("max_memory")),
                    "{who} {path}: {e}"
                ),
                Ok(out) => panic!("{who} {path}: {} bytes", out.data.len()),
            }
        }
    }
    // Within the limits the same animation resizes, every frame kept.
    let out = limited
        .process(&gif, "fit-in/16x16/filters:upscale()")
        .unwrap();
    let meta = imagor::meta(&out.data, "").unwrap();
    assert_eq!((meta.width, meta.height, meta.pages), (16, 16, 4000));
}

/// An animated GIF's save holds, besides the frames, the quantiser's
/// buffers and the saver's RGBA frame, previous frame and indices for one
/// frame at a time: charged to `max_memory`. Two 1000x1000 frames had been
/// charged 11 MiB and grew the process by 46 MiB more than a refusal did.
#[test]
fn an_animated_gif_save_is_charged_its_frame_buffers() {
    let gif = flat_gif(2, 1000);
    let path = "filters:format(gif)";
    let tight = Imagor::new(Options {
        max_memory: 40 << 20,
        ..Options::default()
    })
    .unwrap();
    let e = tight.process(&gif, path).map(|_| ()).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    assert!(e.to_string().contains("encoding 1000x2000 as gif"), "{e}");
    let roomy = Imagor::new(Options::default()).unwrap();
    assert!(roomy.process(&gif, path).is_ok());
}

/// Per-frame geometry (rotate, fill, flips, pixelate, crops, overlays
/// embedded frame by frame) renders frames in batches of 64 and stacks the
/// batches: the stack must hold exactly the source's frames. A last batch
/// shorter than the others had been padded to a full one with black
/// frames (100 frames came out as 128, 4000 as 4032), and the padding
/// counted against the resolution limit (a 422 for an animation within it).
#[test]
fn per_frame_work_keeps_the_frame_count() {
    let imagor = Imagor::new(Options::default()).unwrap();
    for frames in [65, 100, 200] {
        let gif = flat_gif(frames, 16);
        for path in [
            "filters:rotate(90)",
            "10x-10",
            "fit-in/40x40/filters:fill(red)",
            "filters:pixelate(3)",
            "filters:padding(red,2,2,2,2)",
            "filters:crop(1,1,8,8)",
        ] {
            let out = imagor
                .process(&gif, path)
                .unwrap_or_else(|e| panic!("{frames} frames, {path}: {e}"));
            let meta = imagor::meta(&out.data, "").unwrap();
            assert_eq!(meta.pages, frames, "{frames} frames, {path}");
        }
    }
    // Frames within the resolution limit, which the padding frames were
    // not: 20x20 x 100 frames is 40 000 pixels, x 128 frames 51 200.
    let tight = Imagor::new(Options {
        max_resolution: 45_000,
        ..Options::default()
    })
    .unwrap();
    let out = tight
        .process(&flat_gif(100, 16), "filters:padding(red,2,2,2,2)")
        .unwrap();
    let meta = imagor::meta(&out.data, "").unwrap();
    assert_eq!((meta.width, meta.height, meta.pages), (20, 20, 100));
}

/// An animated overlay (`image()`, `watermark()`) is composited on as many
/// frames as the base has: its other frames are never seen. They had been
/// embedded to the base's canvas one by one and held in memory all the
/// same: a 1x1 overlay of 4000 frames (92 KB) on a still 1634x2224 image
/// was refused for 887 MiB, and on the 8 frames of a 121x128 GIF took 1.5
/// to 2 s and 300 MB (or a 408). Checked by memory, not time: under a
/// `max_memory` of 32 MiB, which the 4000 frames at the base's size (230
/// MB for the 8-frame base) are far over and the base's own frames fit.
#[test]
fn overlay_frames_past_the_base_are_not_rendered() {
    let dir = std::env::temp_dir().join(format!("imagor-overlay-frames-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("long.gif"), flat_gif(4000, 1)).unwrap();
    std::fs::write(dir.join("short.gif"), flat_gif(3, 4)).unwrap();
    let imagor = Imagor::new(Options {
        file_loader_base_dir: dir.to_string_lossy().into_owned(),
        max_memory: 32 << 20,
        ..Options::default()
    })
    .unwrap();
    let still = flat_gif(1, 300);
    let animated = flat_gif(8, 120);
    for (base, frames) in [(&still, 1), (&animated, 8)] {
        for path in [
            "filters:image(long.gif,0,0)",
            "filters:watermark(long.gif,0,0,0)",
            "filters:image(long.gif,repeat,repeat)",
            "filters:watermark(short.gif,repeat,repeat,0)",
        ] {
            let out = imagor
                .process(base, path)
                .unwrap_or_else(|e| panic!("{frames} frames, {path}: {e}"));
            let meta = imagor::meta(&out.data, "").unwrap();
            assert_eq!(meta.pages, frames, "{path}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A cover crop of an animation whose frames are too thin to cover the
/// box within the size limits: a 9999x1 frame cropped to 10x10 (the
/// resize is bounded by max_width), or a 1x2000 one (bounded by
/// max_height). Each had been a bare 406 from libvips (`extract_area
/// failed`, or `thumbnail_image failed` once the resized stack of 4000
/// frames passed what libvips addresses); a still image of the same
/// frame gives 10x10.
#[test]
fn thin_frames_cropped_to_a_box_are_an_image_or_a_422() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let gif = |w: i32, h: i32, frames: i32| {
        let pixels = vec![128u8; (w * h * frames * 3) as usize];
        let img = Image::from_memory(&pixels, w, h * frames, 3, BandFormat::UCHAR)
            .unwrap()
            .with_meta(|m| m.set_int("page-height", h))
            .unwrap();
        encode(&img, "gifsave_buffer")
    };
    for (w, h) in [(9999, 1), (1, 2000)] {
        let anim = gif(w, h, 2);
        for path in ["10x10", "10x-10", "10x10/smart", "100x2"] {
            let out = imagor
                .process(&anim, path)
                .unwrap_or_else(|e| panic!("{w}x{h} {path}: {e}"));
            let meta = imagor::meta(&out.data, "").unwrap();
            assert_eq!(meta.pages, 2, "{w}x{h} {path}");
            assert!(meta.width <= 100 && meta.height <= 10, "{w}x{h} {path}");
        }
    }
    let long = gif(1, 2000, 4000);
    for path in ["10x10", "10x-10"] {
        let e = imagor.process(&long, path).map(|_| ()).unwrap_err();
        assert_eq!(e.status(), 422, "{path}: {e}");
    }
}

/// A long animation is resized reading its frames once, top to bottom
/// (libvips' sequential access), also where the whole image is loaded, and
/// a crop or per-frame work takes them apart a batch at a time from memory.
/// Read at random, the GIF decoder served frames to libvips' threads out of
/// order: 300 frames of 300x300 took 2.0-2.5 s to a 30x30 thumbnail, and
/// 3.5-3.9 s flipped or trimmed (408s under the default 2 s), where one
/// pass takes about what libvips' own thumbnail takes. The test checks the
/// reads, not the clock (which a loaded machine stretches): a budget well
/// past any machine's time, and every all-frames load of the source is
/// sequential (recorded by the `leak-hook` feature's test hooks). `make
/// bench` times these paths against pyvips' thumbnail (`anim`).
#[test]
fn a_long_animation_is_resized_in_one_pass() {
    let gif = flat_gif(400, 300);
    let imagor = Imagor::new(Options {
        process_timeout: std::time::Duration::from_secs(120),
        ..Options::default()
    })
    .unwrap();
    for path in [
        "fit-in/30x30",
        "30x30",
        "fit-in/60x60/filters:fill(red):round_corner(5)",
        // The whole-image loads (flips, trim, full and adaptive fit-in).
        "fit-in/-30x-30",
        "trim/30x30",
        "full-fit-in/30x30",
        "adaptive-fit-in/20x30",
        "-30x-30/filters:round_corner(5)",
    ] {
        #[cfg(feature = "leak-hook")]
        imagor::testing::take_loads_of(gif.len());
        let out = imagor
            .process(&gif, path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let meta = imagor::meta(&out.data, "").unwrap();
        assert_eq!(meta.pages, 400, "{path}");
        #[cfg(feature = "leak-hook")]
        {
            let loads = imagor::testing::take_loads_of(gif.len());
            let all_frames: Vec<_> = loads.iter().filter(|l| l.frames == -1).collect();
            assert!(
                !all_frames.is_empty(),
                "{path}: no all-frames load in {loads:?}"
            );
            assert!(
                all_frames.iter().all(|l| l.sequential),
                "{path}: a random-access load of every frame: {loads:?}"
            );
        }
    }
}

/// `watermark()` over an animation loaded every frame of an animated
/// watermark (imagor asks for all of them), though the composite keeps
/// none past the base's: a GIF of 3000 frames of 200x200 over an 8-frame
/// base was refused as over `max_resolution` (120 MP of frames, 8 used).
/// Only the base's count of frames is loaded now.
#[test]
fn an_animated_watermark_is_read_only_as_far_as_the_base_goes() {
    let dir = std::env::temp_dir().join(format!("imagor-watermark-frames-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("long.gif"), flat_gif(3000, 200)).unwrap();
    let imagor = Imagor::new(Options {
        file_loader_base_dir: dir.to_string_lossy().into_owned(),
        ..Options::default()
    })
    .unwrap();
    let base = flat_gif(8, 120);
    for path in [
        "filters:watermark(long.gif,0,0,0)",
        "filters:watermark(long.gif,repeat,repeat,0,50,50)",
        "fit-in/60x60/filters:watermark(long.gif,center,center,0)",
    ] {
        let out = imagor
            .process(&base, path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(imagor::meta(&out.data, "").unwrap().pages, 8, "{path}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
