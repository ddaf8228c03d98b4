//! One still AV1 picture decoded by dav1d (1.4, compiled into our binaries
//! by the `libdav1d-sys` crate): the decoder our own AVIF path
//! ([`crate::processor`]'s `still_avif`) uses where the bundled libvips
//! would decode with a size-optimised libaom.
//!
//! Settings follow libaom's defaults as libheif uses them: operating point
//! 0, the highest spatial layer only, film grain applied; one thread, since
//! the caller's pool already runs one image per core; frames no larger than
//! the container declares; no log messages.

use std::ptr;

use libdav1d_sys::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data, Dav1dContext, Dav1dData, Dav1dPicture,
    Dav1dPixelLayout, Dav1dSettings,
};

use crate::processor::yuv::{Layout, Planes};

/// A decoded 8-, 10- or 12-bit picture and what its sequence header says.
pub struct Picture {
    pic: Dav1dPicture,
    /// Bits per sample: 8, 10 or 12.
    pub bits: u8,
    /// The chroma layout.
    pub layout: Layout,
    /// Matrix coefficients from the sequence header (2 if unsignalled).
    pub matrix: u16,
    /// The sequence header's full-range flag.
    pub full_range: bool,
    /// Colour primaries from the sequence header (2 if unsignalled).
    pub primaries: u16,
}

// SAFETY: the picture's planes are reference-counted, immutable once
// returned, and released in `Drop` from whichever thread holds it.
unsafe impl Send for Picture {}

impl Picture {
    /// Width and height in luma samples.
    pub fn size(&self) -> (usize, usize) {
        (self.pic.p.w as usize, self.pic.p.h as usize)
    }

    /// The planes of an 8-bit picture, borrowed; `None` if it is deeper.
    pub fn planes(&self) -> Option<Planes<'_>> {
        (self.bits == 8).then(|| self.planes_of())
    }

    /// The planes of a 10- or 12-bit picture, borrowed; `None` if 8-bit.
    pub fn planes16(&self) -> Option<Planes<'_, u16>> {
        (self.bits > 8).then(|| self.planes_of())
    }

    /// The planes as samples of `T`: `u8` for 8 bits, `u16` above (dav1d's
    /// layout for its 8- and 16-bit pixel types).
    fn planes_of<T>(&self) -> Planes<'_, T> {
        let (w, h) = self.size();
        let (cw, ch) = match self.layout {
            Layout::Mono => (0, 0),
            Layout::I420 => (w.div_ceil(2), h.div_ceil(2)),
            Layout::I422 => (w.div_ceil(2), h),
            Layout::I444 => (w, h),
        };
        let plane = |i: usize, width: usize, height: usize| -> (&[T], usize) {
            let stride = self.pic.stride[i.min(1)] as usize / std::mem::size_of::<T>();
            let data = self.pic.data[i];
            if data.is_null() || height == 0 {
                return (&[][..], 0);
            }
            // SAFETY: dav1d allocated `height` rows of `stride` samples of
            // `T` (at least `width`; bytes for 8 bits, 16-bit words above,
            // 64-byte aligned) for this plane, alive until
            // `dav1d_picture_unref` in `Drop`.
            let len = stride * (height - 1) + width;
            (
                unsafe { std::slice::from_raw_parts(data as *const T, len) },
                stride,
            )
        };
        Planes {
            width: w,
            height: h,
            layout: self.layout,
            planes: [plane(0, w, h), plane(1, cw, ch), plane(2, cw, ch)],
        }
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: `pic` came from `dav1d_get_picture` and is released once.
        unsafe { dav1d_picture_unref(&mut self.pic) };
    }
}

/// Decodes the one picture of `data` (an AVIF item's AV1 OBUs), or `None`
/// if it is not an 8-, 10- or 12-bit 4:0:0, 4:2:0, 4:2:2 or 4:4:4 picture of at most
/// `max_pixels`, or does not decode: the caller then leaves the file to
/// libvips. Film grain is synthesised as AV1 specifies it, which libaom
/// (and so heifload) matches bit for bit.
pub fn decode_still(data: &[u8], max_pixels: u32) -> Option<Picture> {
    let decoder = Decoder::open(max_pixels)?;
    // SAFETY: `dav1d_data_create` returns a buffer of `data.len()` bytes
    // owned by `input` (or null), which `dav1d_send_data` takes over;
    // `dav1d_data_unref` releases whatever it left. The picture is read
    // only after `dav1d_get_picture` has filled it.
    unsafe {
        let mut input: Dav1dData = std::mem::zeroed();
        let buf = dav1d_data_create(&mut input, data.len());
        if buf.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
        let sent = dav1d_send_data(decoder.0, &mut input);
        dav1d_data_unref(&mut input);
        if sent != 0 {
            return None;
        }
        let mut pic: Dav1dPicture = std::mem::zeroed();
        if dav1d_get_picture(decoder.0, &mut pic) != 0 {
            return None;
        }
        // From here `picture` owns the reference: dropping it releases it.
        let mut picture = Picture {
            pic,
            bits: 8,
            layout: Layout::Mono,
            matrix: 2,
            full_range: false,
            primaries: 2,
        };
        let seq = picture.pic.seq_hdr;
        let bits = picture.pic.p.bpc;
        if seq.is_null()
            || ![8, 10, 12].contains(&bits)
            || picture.pic.p.w <= 0
            || picture.pic.p.h <= 0
        {
            return None;
        }
        picture.bits = bits as u8;
        // The layout and matrix are C enums: read as integers, since a
        // bitstream may carry a reserved matrix value.
        let layout = ptr::addr_of!(picture.pic.p.layout).cast::<u32>().read();
        picture.layout = match layout {
            x if x == Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I400 as u32 => Layout::Mono,
            x if x == Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I420 as u32 => Layout::I420,
            x if x == Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I422 as u32 => Layout::I422,
            x if x == Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I444 as u32 => Layout::I444,
            _ => return None,
        };
        picture.matrix = u16::try_from(ptr::addr_of!((*seq).mtrx).cast::<u32>().read()).ok()?;
        picture.primaries = u16::try_from(ptr::addr_of!((*seq).pri).cast::<u32>().read()).ok()?;
        picture.full_range = (*seq).color_range != 0;
        Some(picture)
    }
}

/// An open dav1d context, closed on drop.
struct Decoder(*mut Dav1dContext);

impl Decoder {
    fn open(max_pixels: u32) -> Option<Decoder> {
        // SAFETY: the settings are written by `dav1d_default_settings`
        // before use; `dav1d_open` writes the context or fails.
        unsafe {
            let mut s: Dav1dSettings = std::mem::zeroed();
            dav1d_default_settings(&mut s);
            s.n_threads = 1;
            s.max_frame_delay = 1;
            s.all_layers = 0;
            s.operating_point = 0;
            s.apply_grain = 1;
            s.frame_size_limit = max_pixels;
            s.logger.callback = None; // no messages on stderr
            let mut c: *mut Dav1dContext = ptr::null_mut();
            if dav1d_open(&mut c, &s) != 0 || c.is_null() {
                return None;
            }
            Some(Decoder(c))
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed once.
        unsafe { dav1d_close(&mut self.0) };
    }
}
