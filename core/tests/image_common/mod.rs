//! Shared helpers of the tests that make and read images with libvips
//! directly: test data, encoding with a libvips saver, decoding any
//! output.
#![allow(dead_code)] // each test binary uses a different part of this module

use imagor::vips::{Arg, Blob, Call, Image};

/// The bytes of `testdata/{name}`.
pub fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).expect("testdata")
}

/// `img` encoded by the libvips buffer saver `saver` (`pngsave_buffer`).
pub fn encode(img: &Image, saver: &str) -> Vec<u8> {
    encode_with(img, saver, &[])
}

/// `img` encoded by the libvips buffer saver `saver` with `options`.
pub fn encode_with(img: &Image, saver: &str, options: &[(&str, Arg)]) -> Vec<u8> {
    let mut call = Call::new(saver).arg("in", Arg::Image(img));
    for (name, value) in options {
        call = call.arg(name, *value);
    }
    call.run()
        .unwrap()
        .blob("buffer")
        .unwrap()
        .as_slice()
        .to_vec()
}

/// `data` decoded by the libvips loader that recognises it (first frame).
pub fn decode(data: &[u8]) -> Image {
    let loader = Image::find_loader(data).expect("an image libvips loads");
    Call::new(&loader)
        .arg("buffer", Arg::Blob(&Blob::copy_from(data)))
        .run()
        .unwrap()
        .out()
        .unwrap()
}

/// `n` bytes of noise (xorshift from `seed`).
pub fn noise(n: i32, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
