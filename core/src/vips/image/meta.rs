//! An image's metadata: typed getters, copying every field from one image
//! to another, and editing the fields of a private copy.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::ptr;

use super::super::{clear_error, cstring, sys, Arg, Call};
use super::{BandFormat, Image};
use crate::error::Result;

impl Image {
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
            clear_error();
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
            clear_error();
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
                clear_error();
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
                clear_error();
                return None;
            }
            let s = CStr::from_ptr(out).to_string_lossy().into_owned();
            sys::g_free(out.cast());
            Some(s)
        }
    }

    /// A binary metadata field (ICC profile, EXIF block), copied.
    pub fn get_blob(&self, name: &str) -> Option<Vec<u8>> {
        self.blob_bytes(name).map(<[u8]>::to_vec)
    }

    /// The length of a binary metadata field, without copying it.
    pub fn blob_len(&self, name: &str) -> Option<usize> {
        self.blob_bytes(name).map(<[u8]>::len)
    }

    /// A binary metadata field, borrowed from the image (used at once by
    /// the two above; nothing changes an image's fields while it is shared).
    fn blob_bytes(&self, name: &str) -> Option<&[u8]> {
        let c = cstring(name).ok()?;
        if !self.has_field(name) {
            return None;
        }
        let mut data: *const std::os::raw::c_void = ptr::null();
        let mut len = 0usize;
        // SAFETY: out-pointers to locals; the data is owned by the image and
        // valid while it lives, which the returned borrow of `self` keeps.
        unsafe {
            if sys::vips_image_get_blob(self.ptr, c.as_ptr(), &mut data, &mut len) != 0 {
                clear_error();
                return None;
            }
            if data.is_null() {
                return Some(&[]);
            }
            Some(std::slice::from_raw_parts(data as *const u8, len))
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
                clear_error();
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
        // A loader keeps whatever resolution a file declares; `copy` takes
        // 0 to a million pixels a millimetre (a damaged JPEG's density
        // made the call fail).
        let settable = |r: f64| if r.is_nan() { 0.0 } else { r.clamp(0.0, 1e6) };
        let same_interpretation = self.interpretation() == source.interpretation();
        match resolution(source) {
            (Some(x), Some(y))
                if resolution(&self) != (Some(x), Some(y)) || !same_interpretation =>
            {
                Call::new("copy")
                    .arg("in", Arg::Image(&self))
                    .arg("xres", Arg::Double(settable(x)))
                    .arg("yres", Arg::Double(settable(y)))
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
        // `vips-sequential` is no metadata either (see below).
        if HEADER_FIELDS.contains(&name.as_str()) || name == "vips-sequential" {
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
    // `vips-sequential` is no metadata: it marks pixels served top to
    // bottom ([`Image::from_pixels`]), whatever `from` was.
    let kept = from.fields();
    for name in to.fields() {
        if HEADER_FIELDS.contains(&name.as_str())
            || kept.contains(&name)
            || name == "vips-sequential"
        {
            continue;
        }
        if let Ok(c) = cstring(&name) {
            // SAFETY: `to` is live and unshared; removing a field it has.
            unsafe { sys::vips_image_remove(to.ptr, c.as_ptr()) };
        }
    }
    clear_error();
}
