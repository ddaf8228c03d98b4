//! Still WebP decoding with our own libwebp, for shrink-on-load thumbnails.
//!
//! The libvips that our packages bundle (npm's `@img/sharp-libvips`, built
//! for size) compiles libwebp with `-Os`, which makes its VP8 decode about
//! a quarter slower than an optimised build. We link libwebp ourselves
//! (`libwebp-sys`, compiled with the crate's optimisation) and decode still
//! images the way libvips' `webpload` does: demux, decode the one frame as
//! RGBA (RGB when the file says it has no alpha) at `rint(canvas * scale)`
//! with libwebp's own scaler and its worker thread. The caller hands the
//! pixels to libvips with the header's metadata, so the thumbnail that
//! follows sees exactly what `thumbnail_buffer` would have loaded.
//!
//! Animations are left to libvips, which composes their frames.
//!
//! libwebp's symbols stay inside our binaries (Rust exports only its own
//! API from a cdylib), so a system libvips keeps its own libwebp.

use libwebp_sys as webp;

use crate::error::{Error, Result};

/// The pixels of one still WebP, packed 8-bit RGB or RGBA.
pub(crate) struct StillPixels {
    /// Packed rows, `width * bands` bytes each.
    pub pixels: Vec<u8>,
    /// Width in pixels after scaling.
    pub width: i32,
    /// Height in pixels after scaling.
    pub height: i32,
    /// 3 (RGB) or 4 (RGBA).
    pub bands: i32,
}

/// A parsed WebP container (libwebp's demuxer), freed on drop.
struct Demuxer(*mut webp::WebPDemuxer);

impl Drop for Demuxer {
    fn drop(&mut self) {
        // SAFETY: the pointer came from WebPDemuxInternal and is freed once.
        unsafe { webp::WebPDemuxDelete(self.0) }
    }
}

/// libvips' largest WebP side (its loader refuses larger).
const MAX_SIDE: i32 = 0x3FFF;

/// Decode `data`, a still WebP, scaled by `scale` (at most 1) as libvips'
/// `webpload` does with its `scale` option. `Ok(None)`: an animation, which
/// this decoder leaves to libvips.
pub(crate) fn decode_still(data: &[u8], scale: f64) -> Result<Option<StillPixels>> {
    let corrupt =
        || Error::Processing("webp: the image could not be decoded (corrupt or truncated)".into());
    if !(scale > 0.0 && scale <= 1.0) {
        return Err(Error::internal());
    }
    let input = webp::WebPData {
        bytes: data.as_ptr(),
        size: data.len(),
    };
    // SAFETY: `input` points at `data`, which outlives the demuxer (dropped
    // at the end of this function); a complete parse is asked for (0: not
    // partial), and NULL means the bytes are not a WebP file.
    let demux = unsafe {
        webp::WebPDemuxInternal(
            &input,
            0,
            std::ptr::null_mut(),
            webp::WebPGetDemuxABIVersion(),
        )
    };
    if demux.is_null() {
        return Err(corrupt());
    }
    let demux = Demuxer(demux);
    // SAFETY: a live demuxer; these getters only read its parsed header.
    let (flags, canvas_width, canvas_height) = unsafe {
        (
            webp::WebPDemuxGetI(demux.0, webp::WebPFormatFeature::WEBP_FF_FORMAT_FLAGS),
            webp::WebPDemuxGetI(demux.0, webp::WebPFormatFeature::WEBP_FF_CANVAS_WIDTH),
            webp::WebPDemuxGetI(demux.0, webp::WebPFormatFeature::WEBP_FF_CANVAS_HEIGHT),
        )
    };
    if flags & webp::WebPFeatureFlags::ANIMATION_FLAG as u32 != 0 {
        return Ok(None);
    }
    let alpha = flags & webp::WebPFeatureFlags::ALPHA_FLAG as u32 != 0;
    // libvips rounds to nearest, ties to even (C's rint).
    let side = |canvas: u32| (canvas as f64 * scale).round_ties_even() as i64;
    let (width, height) = (side(canvas_width), side(canvas_height));
    if !(1..=MAX_SIDE as i64).contains(&width) || !(1..=MAX_SIDE as i64).contains(&height) {
        return Err(corrupt());
    }
    let (width, height) = (width as i32, height as i32);
    let bands: i32 = if alpha { 4 } else { 3 };

    // SAFETY: an all-zero iterator is its documented initial state; it is
    // filled by WebPDemuxGetFrame and released below.
    let mut iter: webp::WebPIterator = unsafe { std::mem::zeroed() };
    // SAFETY: a live demuxer and a valid iterator to fill.
    if unsafe { webp::WebPDemuxGetFrame(demux.0, 1, &mut iter) } == 0 {
        return Err(corrupt());
    }
    let fragment = iter.fragment;
    // SAFETY: the iterator was filled above; releasing it frees nothing
    // that `fragment` (a view into `data`) needs.
    unsafe { webp::WebPDemuxReleaseIterator(&mut iter) };

    let stride = width as usize * bands as usize;
    let mut pixels = vec![0u8; stride * height as usize];
    let mut config = webp::WebPDecoderConfig::new().map_err(|_| Error::internal())?;
    config.output.colorspace = if alpha {
        webp::WEBP_CSP_MODE::MODE_RGBA
    } else {
        webp::WEBP_CSP_MODE::MODE_RGB
    };
    config.output.is_external_memory = 1;
    config.output.u.RGBA = webp::WebPRGBABuffer {
        rgba: pixels.as_mut_ptr(),
        stride: stride as i32,
        size: pixels.len(),
    };
    config.options.use_threads = 1;
    if scale != 1.0 {
        config.options.use_scaling = 1;
        config.options.scaled_width = width;
        config.options.scaled_height = height;
    }
    // SAFETY: `fragment` lies inside `data`; the output buffer is ours,
    // `stride * height` bytes as declared, and libwebp writes only inside
    // it (external memory). WebPFreeDecBuffer releases nothing of ours.
    let status = unsafe {
        let status = webp::WebPDecode(fragment.bytes, fragment.size, &mut config);
        webp::WebPFreeDecBuffer(&mut config.output);
        status
    };
    if status != webp::VP8StatusCode::VP8_STATUS_OK {
        return Err(corrupt());
    }
    Ok(Some(StillPixels {
        pixels,
        width,
        height,
        bands,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bytes_that_are_not_webp() {
        assert!(decode_still(b"RIFF\x10\0\0\0WEBPVP8 nonsense", 1.0).is_err());
        assert!(decode_still(b"", 1.0).is_err());
    }

    #[test]
    fn refuses_a_scale_outside_zero_to_one() {
        for scale in [0.0, -1.0, 1.5, f64::NAN] {
            assert!(decode_still(b"RIFF", scale).is_err(), "{scale}");
        }
    }
}
