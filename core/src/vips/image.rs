//! `VipsImage` handle: reference counting, pixels in memory and geometry
//! (its metadata: [`meta`]).

use std::os::raw::c_void;

use super::{error_from_vips, sys, Arg, Call};
use crate::error::Result;

/// libvips' `VIPS_DEMAND_STYLE_THINSTRIP`: an image that serves whole rows.
const THINSTRIP: std::os::raw::c_int = 2;

mod meta;
pub use meta::MetaEditor;

/// A libvips image. Cloning adds a reference; images are immutable once
/// built, so every operation returns a new `Image`.
pub struct Image {
    ptr: *mut sys::VipsImage,
}

// SAFETY: a built VipsImage is immutable and its reference count is atomic;
// libvips allows using one image from many threads.
unsafe impl Send for Image {}
// SAFETY: as above; &Image only reads.
unsafe impl Sync for Image {}

impl Clone for Image {
    fn clone(&self) -> Self {
        // SAFETY: ptr is a live GObject; we add one reference.
        unsafe { sys::g_object_ref(self.ptr.cast()) };
        Image { ptr: self.ptr }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: we own exactly one reference.
        unsafe { sys::g_object_unref(self.ptr.cast()) }
    }
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width())
            .field("height", &self.height())
            .field("bands", &self.bands())
            .field("page_height", &self.page_height())
            .finish()
    }
}

/// libvips' `VipsInterpretation` values we look at.
#[allow(missing_docs)]
pub mod interpretation {
    pub const MULTIBAND: i32 = 0;
    pub const B_W: i32 = 1;
    pub const CMYK: i32 = 15;
    pub const RGB: i32 = 17;
    pub const LCH: i32 = 19;
    pub const SRGB: i32 = 22;
    pub const RGB16: i32 = 25;
    pub const GREY16: i32 = 26;
    pub const SCRGB: i32 = 28;
}
pub use interpretation as Interpretation;

/// A sample type libvips can hold pixels of, as its band format.
pub(crate) trait Sample: Copy + Send + 'static {
    /// The `VipsBandFormat`.
    const FORMAT: i32;
}

impl Sample for u8 {
    const FORMAT: i32 = BandFormat::UCHAR;
}

impl Sample for u16 {
    const FORMAT: i32 = BandFormat::USHORT;
}

/// libvips' `VipsBandFormat` values.
#[allow(missing_docs)]
pub mod band_format {
    pub const UCHAR: i32 = 0;
    pub const CHAR: i32 = 1;
    pub const USHORT: i32 = 2;
    pub const SHORT: i32 = 3;
    pub const UINT: i32 = 4;
    pub const INT: i32 = 5;
    pub const FLOAT: i32 = 6;
    pub const DOUBLE: i32 = 8;
}
pub use band_format as BandFormat;

impl Image {
    /// Take over one reference to `ptr`.
    ///
    /// # Safety
    /// `ptr` must be a valid `VipsImage` whose reference the caller owns.
    ///
    /// While a [`super::deadline::Deadline`] is entered on this thread, the
    /// image is watched by it.
    pub(crate) unsafe fn from_owned(ptr: *mut sys::VipsImage) -> Image {
        // SAFETY: ptr is a live image (caller's contract).
        unsafe { super::deadline::watch(ptr) };
        Image { ptr }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::VipsImage {
        self.ptr
    }

    /// Build an image from packed pixels (copied). `format` is a
    /// [`BandFormat`] value.
    pub fn from_memory(
        pixels: &[u8],
        width: i32,
        height: i32,
        bands: i32,
        format: i32,
    ) -> Result<Image> {
        super::init()?;
        // SAFETY: the function copies `len` bytes of a valid slice and checks
        // the size against width*height*bands*sizeof(format).
        let ptr = unsafe {
            sys::vips_image_new_from_memory_copy(
                pixels.as_ptr().cast(),
                pixels.len(),
                width,
                height,
                bands,
                format,
            )
        };
        if ptr.is_null() {
            return Err(error_from_vips("new_from_memory"));
        }
        // SAFETY: a new image with one reference for us.
        Ok(unsafe { Image::from_owned(ptr) })
    }

    /// An image over packed `pixels` (`bands` samples per pixel, `u8` or
    /// `u16`), which it takes over without a copy; they are freed with the
    /// image.
    pub(crate) fn from_pixels<T: Sample>(
        pixels: Vec<T>,
        width: i32,
        height: i32,
        bands: i32,
    ) -> Result<Image> {
        super::init()?;
        let pixels = Box::new(pixels);
        // SAFETY: libvips checks the size against
        // width*height*bands*sizeof(format) and reads the buffer in place
        // for the image's life; the buffer is a heap allocation aligned for
        // `T` that does not move when the box is leaked below.
        let ptr = unsafe {
            sys::vips_image_new_from_memory(
                pixels.as_ptr().cast(),
                std::mem::size_of_val(pixels.as_slice()),
                width,
                height,
                bands,
                T::FORMAT,
            )
        };
        if ptr.is_null() {
            return Err(error_from_vips("new_from_memory"));
        }
        // Before libvips 8.17, the vertical box shrink of a thumbnail asked
        // for small tiles cleared a line buffer of the whole width for
        // every row of every tile: a 12 MP thumbnail from memory took 2.5x
        // the CPU of one from the loader. There the image is marked as a
        // loader marks the rows it decodes in order, and served in whole
        // rows as they are, so that the shrink gets the line cache and the
        // whole-width requests it gets after a loader. Same pixels.
        if super::version() < (8, 17, 0) {
            let mut no_inputs = [std::ptr::null_mut()];
            // SAFETY: `ptr` is a new image only we hold; the list of inputs
            // is empty (NULL-terminated), so this only sets its demand
            // hint; the name is a C string.
            unsafe {
                sys::vips_image_pipeline_array(ptr, THINSTRIP, no_inputs.as_mut_ptr());
                sys::vips_image_set_int(ptr, c"vips-sequential".as_ptr(), 1);
            }
        }
        unsafe extern "C" fn nothing(_image: *mut c_void, _data: *mut c_void) {}
        unsafe extern "C" fn release<T>(data: *mut c_void, _closure: *mut c_void) {
            // SAFETY: `data` is the box leaked below, released once, when
            // the handler goes (as the image is disposed, after libvips has
            // closed it and stopped reading the pixels).
            drop(unsafe { Box::from_raw(data.cast::<Vec<T>>()) });
        }
        let handler: unsafe extern "C" fn(*mut c_void, *mut c_void) = nothing;
        // SAFETY: `ptr` is a live image; the box is owned by the handler
        // from here on and freed by `release`.
        unsafe {
            sys::g_signal_connect_data(
                ptr.cast(),
                c"postclose".as_ptr(),
                handler as *const c_void,
                Box::into_raw(pixels).cast(),
                Some(release::<T>),
                0,
            );
            Ok(Image::from_owned(ptr))
        }
    }

    /// Render the image and return its packed pixels.
    pub fn write_to_memory(&self) -> Result<Vec<u8>> {
        let mut len = 0usize;
        // SAFETY: renders the image into a g_malloc'd buffer of `len` bytes,
        // which we copy and free.
        unsafe {
            let data = sys::vips_image_write_to_memory(self.ptr, &mut len);
            if data.is_null() {
                return Err(error_from_vips("write_to_memory"));
            }
            let v = std::slice::from_raw_parts(data as *const u8, len).to_vec();
            sys::g_free(data);
            Ok(v)
        }
    }

    /// Render the image into memory: the copy keeps the pixels and
    /// metadata but no reference to the operations that made them, which
    /// cuts a long chain of lazy operations. An image already in memory is
    /// handed back as it is (another reference to the same pixels).
    pub fn copy_memory(&self) -> Result<Image> {
        // SAFETY: renders a live image into a new memory image; returns a
        // new reference (or NULL with an error we collect).
        let ptr = unsafe { sys::vips_image_copy_memory(self.ptr) };
        if ptr.is_null() {
            return Err(error_from_vips("copy_memory"));
        }
        // SAFETY: a new image with one reference for us.
        Ok(unsafe { Image::from_owned(ptr) })
    }

    /// The pixels in a buffer of their own, even when this image is in
    /// memory already (where [`Image::copy_memory`] shares its buffer):
    /// for the operations that draw on their argument in place.
    pub(crate) fn private_copy(&self) -> Result<Image> {
        Call::new("copy")
            .arg("in", Arg::Image(self))
            .run()?
            .out()?
            .copy_memory()
    }

    /// The packed 8-bit samples of an image whose pixels are in a memory
    /// buffer of its own (as [`Image::copy_memory`] leaves them), borrowed;
    /// `None` for other band formats, for a lazy image, which this never
    /// renders, and for one backed by a file.
    pub(crate) fn memory_bytes(&self) -> Option<&[u8]> {
        // SAFETY: flag accessors on a live image.
        let (lazy, file) = unsafe {
            (
                sys::vips_image_ispartial(self.ptr) != 0,
                sys::vips_image_isfile(self.ptr) != 0,
            )
        };
        if self.format() != BandFormat::UCHAR || lazy || file {
            return None;
        }
        let len = self.width().max(0) as usize
            * self.height().max(0) as usize
            * self.bands().max(0) as usize;
        // SAFETY: the image holds its pixels in one buffer of
        // width*height*bands bytes (8-bit samples, checked above), which
        // `get_data` returns as it is. The buffer lives as long as the
        // image `&self` borrows, and nothing writes to it meanwhile: libvips
        // writes into an image's buffer only in the operations that draw in
        // place, and `Call` gives those a private copy of their argument.
        let data = unsafe { sys::vips_image_get_data(self.ptr) };
        if data.is_null() {
            super::clear_error();
            return None;
        }
        // SAFETY: as above.
        Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
    }

    /// Width in pixels.
    pub fn width(&self) -> i32 {
        // SAFETY: field accessor on a live image.
        unsafe { sys::vips_image_get_width(self.ptr) }
    }

    /// Height in pixels of the whole image (all pages stacked).
    pub fn height(&self) -> i32 {
        // SAFETY: field accessor on a live image.
        unsafe { sys::vips_image_get_height(self.ptr) }
    }

    /// Number of bands.
    pub fn bands(&self) -> i32 {
        // SAFETY: field accessor on a live image.
        unsafe { sys::vips_image_get_bands(self.ptr) }
    }

    /// Band format ([`BandFormat`]).
    pub fn format(&self) -> i32 {
        // SAFETY: field accessor on a live image.
        unsafe { sys::vips_image_get_format(self.ptr) }
    }

    /// Interpretation ([`Interpretation`]).
    pub fn interpretation(&self) -> i32 {
        // SAFETY: field accessor on a live image.
        unsafe { sys::vips_image_get_interpretation(self.ptr) }
    }

    /// Height of one page (frame); equals [`Image::height`] for still images.
    pub fn page_height(&self) -> i32 {
        // SAFETY: reads the page-height metadata, validated by libvips.
        unsafe { sys::vips_image_get_page_height(self.ptr) }
    }

    /// Number of pages as recorded by the loader (`n-pages`), at least 1.
    ///
    /// Read from the field itself: libvips' own accessor reports 1 for
    /// more than 10 000 pages, which would make a long animation look like
    /// a still image.
    pub fn n_pages(&self) -> i32 {
        self.get_int("n-pages").unwrap_or(1).max(1)
    }

    /// Frames stacked in this image: `height / page_height`.
    pub fn frames(&self) -> i32 {
        let ph = self.page_height();
        if ph > 0 {
            (self.height() / ph).max(1)
        } else {
            1
        }
    }

    /// More than one frame is stacked vertically.
    pub fn is_animated(&self) -> bool {
        self.height() > self.page_height()
    }

    /// Has an alpha band.
    pub fn has_alpha(&self) -> bool {
        // SAFETY: read-only check on a live image.
        unsafe { sys::vips_image_hasalpha(self.ptr) != 0 }
    }
}
