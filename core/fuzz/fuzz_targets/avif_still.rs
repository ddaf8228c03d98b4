//! Our own AVIF path (`own-av1`) on arbitrary files: the box reader that
//! decides whether a file is a plain still, dav1d and the YUV conversion.
//! Every input ends in pixels of exactly the declared size or in `None`
//! (the file goes to libvips), never a panic or an overrun; files over a
//! megapixel are refused before decoding, as `process` refuses them.
#![no_main]

use libfuzzer_sys::fuzz_target;

const MAX_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Some((w, h, bands, len)) = imagor::processor::fuzz_still_avif(data, MAX_PIXELS) {
        assert!(
            w > 0 && h > 0 && (3..=4).contains(&bands),
            "{w}x{h}x{bands}"
        );
        assert!((w as u64) * (h as u64) <= MAX_PIXELS);
        assert_eq!(len, (w * h * bands) as usize, "{w}x{h}x{bands}");
    }
});
