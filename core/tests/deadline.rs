//! `process_timeout` holds for the whole call, including the work that runs
//! after an image has been copied to memory.
//!
//! Per-frame geometry on an animation (rotate, crop, pad) renders batches
//! of frames to memory. libvips 8.14 sees a kill only on an image whose
//! pixels are still being read, so a kill set on the source (which nothing
//! reads after the copy) used to be missed, and the save that followed
//! ran to its end: a 600-frame GIF of noise rotated, rounded and written
//! as GIF took seconds past a 1 s budget and then succeeded.

use std::time::{Duration, Instant};

use imagor::vips::{Arg, BandFormat, Call, Image};
use imagor::{Imagor, Options};

const FRAMES: i32 = 600;
const SIDE: i32 = 64;

/// An animated GIF of `FRAMES` frames of noise, which GIF encodes slowly.
fn noisy_gif() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let pixels: Vec<u8> = (0..SIDE * SIDE * FRAMES * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let img = Image::from_memory(&pixels, SIDE, SIDE * FRAMES, 3, BandFormat::UCHAR)
        .unwrap()
        .with_meta(|m| m.set_int("page-height", SIDE))
        .unwrap();
    Call::new("gifsave_buffer")
        .arg("in", Arg::Image(&img))
        .run()
        .unwrap()
        .blob("buffer")
        .unwrap()
        .as_slice()
        .to_vec()
}

#[test]
fn the_deadline_holds_after_frames_are_copied_to_memory() {
    let gif = noisy_gif();
    let limit = Duration::from_secs(1);
    let imagor = Imagor::new(Options {
        process_timeout: limit,
        ..Options::default()
    })
    .unwrap();
    for path in [
        "filters:rotate(90):round_corner(30,30,red)/x",
        "filters:round_corner(20,20,blue):rotate(270)/x",
    ] {
        let started = Instant::now();
        let result = imagor.process(&gif, path);
        let took = started.elapsed();
        match result {
            Err(e) => assert_eq!(e.status(), 408, "{path}: {e}"),
            Ok(_) => panic!("{path}: succeeded after {took:?}, past the {limit:?} budget"),
        }
        // Generous: the kill lands within one batch of frames.
        assert!(took < limit * 3, "{path}: answered after {took:?}");
    }
}
