//! Images for the unit tests of our own decoders: testdata loaded,
//! images saved by libvips, and their pixels to compare.

use super::decode::{call_loader, thumbnail_of, Encoded, LoadOpts, ThumbnailCall};
use crate::format::ImageFormat;
use crate::vips::{Arg, Blob, Call, Image};

/// `testdata/NAME` loaded by the libvips buffer loader `loader`.
pub(super) fn testdata(name: &str, loader: &str) -> Image {
    let bytes = std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("testdata/{name}: {e}"));
    Call::new(loader)
        .arg("buffer", Arg::Blob(&Blob::copy_from(&bytes)))
        .run()
        .and_then(|o| o.out())
        .unwrap()
}

/// `img` saved by the libvips buffer saver `saver` with `args`.
pub(super) fn save(img: &Image, saver: &str, args: &[(&str, Arg)]) -> Vec<u8> {
    let mut call = Call::new(saver).arg("in", Arg::Image(img));
    for (name, value) in args {
        call = call.arg(name, *value);
    }
    call.run()
        .unwrap()
        .blob("buffer")
        .unwrap()
        .as_slice()
        .to_vec()
}

/// Width, height, bands and pixel bytes of `img`.
pub(super) fn pixels(img: &Image) -> (i32, i32, i32, Vec<u8>) {
    (
        img.width(),
        img.height(),
        img.bands(),
        img.write_to_memory().unwrap(),
    )
}

/// libvips' own `thumbnail_buffer` of `data` for `t`, through the buffer
/// loader `loader`, and the header that loader reads: what our decoders
/// are compared with, and what they are given.
pub(super) fn libvips_thumbnail_and_header(
    data: &[u8],
    loader: &str,
    format: ImageFormat,
    t: &ThumbnailCall,
) -> (Image, Image) {
    let blob = Blob::copy_from(data);
    let opts = LoadOpts::default();
    let reference = thumbnail_of(Encoded::Blob(&blob), loader, Some(format), t, opts).unwrap();
    let header = call_loader(
        loader,
        Encoded::Blob(&blob),
        Some(format),
        LoadOpts { n: 1, ..opts },
    )
    .unwrap();
    (reference, header)
}

/// `ours` has `reference`'s size, bands and pixels, byte for byte.
pub(super) fn assert_same_pixels(reference: &Image, ours: &Image, what: &str) {
    let (a, b) = (pixels(reference), pixels(ours));
    assert!(
        a == b,
        "{what}: libvips {}x{}x{}, ours {}x{}x{}",
        a.0,
        a.1,
        a.2,
        b.0,
        b.1,
        b.2
    );
}
