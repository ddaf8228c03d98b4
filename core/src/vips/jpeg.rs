//! Still JPEG decoding with our own libjpeg (feature `own-jpeg`), for
//! shrink-on-load thumbnails.
//!
//! The libvips our packages bundle (npm's `@img/sharp-libvips`, built for
//! size) compiles its libjpeg (mozjpeg) with `-Os`: a full-size decode of a
//! 6 MP photo costs 37-40 ms there against 27-33 ms for an optimised build.
//! We link mozjpeg ourselves (`mozjpeg-sys`, with its SIMD, at this crate's
//! optimisation; its decoder is libjpeg-turbo's) and decode the way
//! libvips' `jpegload` does: default settings (islow IDCT, fancy
//! upsampling), `1/shrink` DCT scaling, the scaled size rounded down,
//! warnings counted (the 100th fatal unless `unlimited`), and a truncated
//! file ends as libjpeg ends it. The caller hands the pixels to libvips with
//! the header's metadata, so the thumbnail that follows sees what
//! `thumbnail_buffer` would have loaded.
//!
//! The error handling of libjpeg (a `longjmp` out of `error_exit`) stays in
//! C (`jpeg.c`): no jump crosses a Rust frame. The decode stops at the
//! call's deadline ([`super::deadline`]), asked every 64 Ki pixels of
//! width decoded (about 20 rows of a photo; every row of a wide image).
//!
//! mozjpeg's symbols stay inside our binaries (see `core/build.rs`), so a
//! system libvips keeps its own libjpeg.

use std::os::raw::{c_int, c_long, c_uchar};

// Linked for jpeg.c, which calls libjpeg; Rust calls none of it.
use mozjpeg_sys as _;

use super::deadline;
use super::webp::StillPixels;
use crate::error::{Error, Result};

const OK: c_int = 0;
const STOPPED: c_int = 2;

extern "C" {
    fn imagor_jpeg_header(
        data: *const c_uchar,
        length: usize,
        shrink: c_int,
        width: *mut c_int,
        height: *mut c_int,
        bands: *mut c_int,
    ) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn imagor_jpeg_decode(
        data: *const c_uchar,
        length: usize,
        shrink: c_int,
        unlimited: c_int,
        stop: extern "C" fn() -> c_int,
        out: *mut c_uchar,
        width: c_int,
        height: c_int,
        bands: c_int,
        x0: c_int,
        window_width: c_int,
        y0: c_int,
        window_height: c_int,
        warnings: *mut c_long,
    ) -> c_int;
}

/// What a decode at `1/shrink` gives: libvips' size (libjpeg's scaled
/// size rounded down) and bands (1 or 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Width in pixels after scaling.
    pub width: i32,
    /// Height in pixels after scaling.
    pub height: i32,
    /// 1 (grey) or 3 (RGB).
    pub bands: i32,
}

impl Header {
    /// Bytes of the decoded pixels.
    pub(crate) fn bytes(&self) -> u64 {
        self.width as u64 * self.height as u64 * self.bands as u64
    }
}

/// The header of `data`, a JPEG, decoded at `1/shrink`; `None` where this
/// decoder leaves it to libvips (CMYK and YCCK, 12-bit, a header libjpeg
/// refuses: libvips then reports it in its own words).
pub(crate) fn header(data: &[u8], shrink: i32) -> Option<Header> {
    if ![1, 2, 4, 8].contains(&shrink) {
        return None;
    }
    let (mut width, mut height, mut bands) = (0, 0, 0);
    // SAFETY: `data` is read, never kept; the out-pointers are our locals.
    let outcome = unsafe {
        imagor_jpeg_header(
            data.as_ptr(),
            data.len(),
            shrink,
            &mut width,
            &mut height,
            &mut bands,
        )
    };
    (outcome == OK && width >= 1 && height >= 1 && (bands == 1 || bands == 3)).then_some(Header {
        width,
        height,
        bands,
    })
}

/// A rectangle of a decoded image, in its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

/// Decode `data`, a JPEG whose [`header`] at `1/shrink` is `header`, as
/// libvips' `jpegload` does with its `shrink` option; also how many
/// warnings libjpeg gave. With a `window`, only its pixels are decoded (a
/// `window.width` x `window.height` image; the blocks around it are
/// neither transformed nor converted, and a window starting on a multiple
/// of 32 columns is written in place). `Err`: the deadline passed, or
/// libjpeg gave up (where libvips' load fails too).
pub(crate) fn decode(
    data: &[u8],
    shrink: i32,
    unlimited: bool,
    header: Header,
    window: Option<Window>,
) -> Result<(StillPixels, u64)> {
    let Header {
        width,
        height,
        bands,
    } = header;
    let window = window.unwrap_or(Window {
        x: 0,
        y: 0,
        width,
        height,
    });
    let size = usize::try_from(
        Header {
            width: window.width,
            height: window.height,
            bands,
        }
        .bytes(),
    )
    .map_err(|_| Error::internal())?;
    // Not zeroed first: libjpeg writes every byte (zeroing 18 MB for a 6 MP
    // photo was 4% of a resize's CPU).
    let mut pixels: Vec<u8> = Vec::with_capacity(size);
    let mut warnings: c_long = 0;
    // SAFETY: `pixels` has room for the window's rows of `window.width *
    // bands` bytes, the size and layout the C side writes (it checks the
    // window against the image and libjpeg's output against the image
    // first); `data` outlives the call; the hook does not unwind.
    let outcome = unsafe {
        imagor_jpeg_decode(
            data.as_ptr(),
            data.len(),
            shrink,
            c_int::from(unlimited),
            deadline::passed_for_c,
            pixels.as_mut_ptr(),
            width,
            height,
            bands,
            window.x,
            window.width,
            window.y,
            window.height,
            &mut warnings,
        )
    };
    match outcome {
        OK => Ok((
            // SAFETY: on success the C side wrote all `size` bytes.
            unsafe {
                pixels.set_len(size);
                StillPixels {
                    pixels,
                    width: window.width,
                    height: window.height,
                    bands,
                }
            },
            u64::try_from(warnings).unwrap_or(0),
        )),
        STOPPED => Err(deadline::fired().unwrap_or_else(Error::internal)),
        _ => Err(Error::Processing(
            "jpeg: libjpeg could not decode the image".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_a_jpeg_have_no_header() {
        for data in [&b""[..], b"\xff\xd8\xff", b"not a jpeg at all"] {
            assert_eq!(header(data, 1), None);
        }
    }

    #[test]
    fn no_header_at_a_shrink_libjpeg_does_not_scale_by() {
        for shrink in [0, 3, 16, -1] {
            assert_eq!(header(b"\xff\xd8", shrink), None, "{shrink}");
        }
    }
}
