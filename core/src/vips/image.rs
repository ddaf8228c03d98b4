//! `VipsImage` handle: reference counting, geometry and metadata.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use super::{cstring, error_from_vips, sys, Arg, Call};
use crate::error::Result;

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
    /// cuts a long chain of lazy operations.
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

    /// The packed 8-bit samples of an image whose pixels are in memory
    /// (as [`Image::copy_memory`] leaves them), borrowed; `None` for other
    /// band formats and for a lazy image, which this never renders.
    pub(crate) fn memory_bytes(&self) -> Option<&[u8]> {
        // SAFETY: a flag accessor on a live image.
        let lazy = unsafe { sys::vips_image_ispartial(self.ptr) } != 0;
        if self.format() != BandFormat::UCHAR || lazy {
            return None;
        }
        let len = self.width().max(0) as usize
            * self.height().max(0) as usize
            * self.bands().max(0) as usize;
        // SAFETY: the image holds its pixels in one buffer of
        // width*height*bands bytes (8-bit samples, checked above), which
        // `get_data` returns as they are and which lives, unchanged, as
        // long as the image that `&self` borrows.
        let data = unsafe { sys::vips_image_get_data(self.ptr) };
        (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
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

    /// Does a metadata field exist?
    pub fn has_field(&self, name: &str) -> bool {
        let Ok(c) = cstring(name) else { return false };
        // SAFETY: read-only lookup; 0 means absent.
        unsafe { sys::vips_image_get_typeof(self.ptr, c.as_ptr()) != 0 }
    }

    /// An integer metadata field.
    pub fn get_int(&self, name: &str) -> Option<i32> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut v: c_int = 0;
        // SAFETY: out-pointer to a local; failure leaves an error we clear.
        let rc = unsafe { sys::vips_image_get_int(self.ptr, c.as_ptr(), &mut v) };
        if rc != 0 {
            super::clear_error();
            return None;
        }
        Some(v)
    }

    /// A double metadata field.
    pub fn get_double(&self, name: &str) -> Option<f64> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut v = 0f64;
        // SAFETY: out-pointer to a local; failure leaves an error we clear.
        let rc = unsafe { sys::vips_image_get_double(self.ptr, c.as_ptr(), &mut v) };
        if rc != 0 {
            super::clear_error();
            return None;
        }
        Some(v)
    }

    /// A string metadata field (as stored).
    pub fn get_string(&self, name: &str) -> Option<String> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut out: *const c_char = ptr::null();
        // SAFETY: the returned string is owned by the image; we copy it.
        unsafe {
            if sys::vips_image_get_string(self.ptr, c.as_ptr(), &mut out) != 0 || out.is_null() {
                super::clear_error();
                return None;
            }
            Some(CStr::from_ptr(out).to_string_lossy().into_owned())
        }
    }

    /// Any metadata field converted to text by libvips.
    pub fn get_as_string(&self, name: &str) -> Option<String> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut out: *mut c_char = ptr::null_mut();
        // SAFETY: the returned string is g_malloc'd for us; we copy and free.
        unsafe {
            if sys::vips_image_get_as_string(self.ptr, c.as_ptr(), &mut out) != 0 || out.is_null() {
                super::clear_error();
                return None;
            }
            let s = CStr::from_ptr(out).to_string_lossy().into_owned();
            sys::g_free(out.cast());
            Some(s)
        }
    }

    /// A binary metadata field (ICC profile, EXIF block), copied.
    pub fn get_blob(&self, name: &str) -> Option<Vec<u8>> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut data: *const std::os::raw::c_void = ptr::null();
        let mut len = 0usize;
        // SAFETY: data is owned by the image and valid while it lives; copied.
        unsafe {
            if sys::vips_image_get_blob(self.ptr, c.as_ptr(), &mut data, &mut len) != 0 {
                super::clear_error();
                return None;
            }
            if data.is_null() {
                return Some(Vec::new());
            }
            Some(std::slice::from_raw_parts(data as *const u8, len).to_vec())
        }
    }

    /// An integer-array metadata field (GIF frame `delay`).
    pub fn get_array_int(&self, name: &str) -> Option<Vec<i32>> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut out: *mut c_int = ptr::null_mut();
        let mut n: c_int = 0;
        // SAFETY: the array is owned by the image; we copy it.
        unsafe {
            if sys::vips_image_get_array_int(self.ptr, c.as_ptr(), &mut out, &mut n) != 0 {
                super::clear_error();
                return None;
            }
            if out.is_null() || n <= 0 {
                return Some(Vec::new());
            }
            Some(std::slice::from_raw_parts(out, n as usize).to_vec())
        }
    }

    /// Names of all metadata fields.
    pub fn fields(&self) -> Vec<String> {
        // SAFETY: returns a NULL-terminated, g_malloc'd array of strings that
        // we copy and free with g_strfreev.
        unsafe {
            let arr = sys::vips_image_get_fields(self.ptr);
            if arr.is_null() {
                return Vec::new();
            }
            let mut out = Vec::new();
            let mut i = 0;
            while !(*arr.add(i)).is_null() {
                out.push(CStr::from_ptr(*arr.add(i)).to_string_lossy().into_owned());
                i += 1;
            }
            sys::g_strfreev(arr);
            out
        }
    }

    /// A 1x1 image that carries a copy of every metadata field of this one
    /// (not its pixels): the fields outlive the image, which may hold
    /// decoder state, until [`Image::with_fields_of`] puts them on others.
    pub(crate) fn fields_carrier(&self) -> Result<Image> {
        Image::from_memory(&[0], 1, 1, 1, BandFormat::UCHAR)?.with_fields_of(self)
    }

    /// This image, which nobody else holds yet (fresh from
    /// [`Image::from_memory`] or [`Image::from_pixels`]), with every metadata field of `source` and
    /// its resolution. (Setting `exif-data` makes libvips parse the EXIF
    /// resolution into the image's own; a loader sets it before its header,
    /// so the source's resolution is put back.)
    pub(crate) fn with_fields_of(self, source: &Image) -> Result<Image> {
        // SAFETY: `self` is owned by value and unshared (caller's contract:
        // a fresh image from pixels).
        unsafe { copy_fields(source, &self) };
        // Pixels from memory are MULTIBAND past 3 bands, so a loader's RGBA
        // would not count as having alpha: the source's interpretation.
        let resolution = |img: &Image| (img.get_double("xres"), img.get_double("yres"));
        let same_interpretation = self.interpretation() == source.interpretation();
        match resolution(source) {
            (Some(x), Some(y))
                if resolution(&self) != (Some(x), Some(y)) || !same_interpretation =>
            {
                Call::new("copy")
                    .arg("in", Arg::Image(&self))
                    .arg("xres", Arg::Double(x))
                    .arg("yres", Arg::Double(y))
                    .arg(
                        "interpretation",
                        Arg::Int(i64::from(source.interpretation())),
                    )
                    .run()?
                    .out()
            }
            _ if !same_interpretation => Call::new("copy")
                .arg("in", Arg::Image(&self))
                .arg(
                    "interpretation",
                    Arg::Int(i64::from(source.interpretation())),
                )
                .run()?
                .out(),
            _ => Ok(self),
        }
    }

    /// EXIF orientation (1..8), 0 when absent.
    pub fn orientation(&self) -> i32 {
        self.get_int("orientation").unwrap_or(0)
    }

    /// The loader that produced the image (`"jpegload_buffer"`), if any.
    pub fn loader(&self) -> Option<String> {
        self.get_string("vips-loader")
    }

    /// All `exif-*` string fields, as libvips formats them.
    pub fn exif_fields(&self) -> BTreeMap<String, String> {
        self.fields()
            .into_iter()
            .filter(|f| f.starts_with("exif-"))
            .filter_map(|f| self.get_string(&f).map(|v| (f, v)))
            .collect()
    }

    /// A private copy whose metadata can be edited with `edit` before it is
    /// shared. Pixels are not copied.
    pub fn with_meta(&self, edit: impl FnOnce(&mut MetaEditor<'_>)) -> Result<Image> {
        let copy = Call::new("copy").arg("in", Arg::Image(self)).run()?.out()?;
        let mut editor = MetaEditor { image: &copy };
        edit(&mut editor);
        Ok(copy)
    }
}

/// Edits the metadata of an image nobody else holds yet
/// (see [`Image::with_meta`]).
pub struct MetaEditor<'a> {
    image: &'a Image,
}

impl MetaEditor<'_> {
    /// Set an integer field.
    pub fn set_int(&mut self, name: &str, v: i32) {
        if let Ok(c) = cstring(name) {
            // SAFETY: the image is a fresh private copy; setters copy `c`.
            unsafe { sys::vips_image_set_int(self.image.ptr, c.as_ptr(), v) }
        }
    }

    /// Set a double field.
    pub fn set_double(&mut self, name: &str, v: f64) {
        if let Ok(c) = cstring(name) {
            // SAFETY: as set_int.
            unsafe { sys::vips_image_set_double(self.image.ptr, c.as_ptr(), v) }
        }
    }

    /// Set an integer-array field.
    pub fn set_array_int(&mut self, name: &str, v: &[i32]) {
        if let Ok(c) = cstring(name) {
            // SAFETY: as set_int; the array is copied.
            unsafe {
                sys::vips_image_set_array_int(
                    self.image.ptr,
                    c.as_ptr(),
                    v.as_ptr(),
                    v.len() as c_int,
                )
            }
        }
    }

    /// Remove a field if present.
    pub fn remove(&mut self, name: &str) {
        if let Ok(c) = cstring(name) {
            // SAFETY: as set_int.
            unsafe { sys::vips_image_remove(self.image.ptr, c.as_ptr()) };
        }
    }

    /// Names of all fields.
    pub fn fields(&self) -> Vec<String> {
        self.image.fields()
    }
}

/// The header fields `vips_image_get_fields` lists before the metadata
/// table; they belong to the image's own geometry, not to its metadata.
const HEADER_FIELDS: [&str; 11] = [
    "width",
    "height",
    "bands",
    "format",
    "coding",
    "interpretation",
    "xoffset",
    "yoffset",
    "xres",
    "yres",
    "filename",
];

/// Copy every metadata field of `from` onto `to`.
///
/// # Safety
/// `to` must not be shared with anything that may read it concurrently
/// (fields are set in place).
unsafe fn copy_fields(from: &Image, to: &Image) {
    for name in from.fields() {
        if HEADER_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let Ok(c) = cstring(&name) else { continue };
        let mut value = sys::GValue::zeroed();
        // SAFETY: vips_image_get initialises `value` with a copy of the
        // field (0 on success); vips_image_set copies it again, and the
        // copy we hold is unset. `to` is unshared (caller's contract).
        unsafe {
            if sys::vips_image_get(from.ptr, c.as_ptr(), &mut value) == 0 {
                sys::vips_image_set(to.ptr, c.as_ptr(), &mut value);
                sys::g_value_unset(&mut value);
            }
        }
    }
    // Setting `exif-data` parses it into fields again, some of which the
    // source's loader had removed (heifload drops `orientation`, since
    // libheif has already applied any rotation): the same fields as `from`.
    let kept = from.fields();
    for name in to.fields() {
        if HEADER_FIELDS.contains(&name.as_str()) || kept.contains(&name) {
            continue;
        }
        if let Ok(c) = cstring(&name) {
            // SAFETY: `to` is live and unshared; removing a field it has.
            unsafe { sys::vips_image_remove(to.ptr, c.as_ptr()) };
        }
    }
    super::clear_error();
}
