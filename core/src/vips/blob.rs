//! `VipsBlob`: a reference-counted byte buffer owned by libvips.

use super::sys;

/// Bytes copied into a libvips-owned, reference-counted area.
///
/// Loaders keep a reference to the blob for as long as the image needs it,
/// so the caller's slice can be dropped right after the load call.
pub struct Blob {
    ptr: *mut sys::VipsBlob,
}

// SAFETY: a VipsBlob is an immutable, atomically reference-counted area.
unsafe impl Send for Blob {}
// SAFETY: as above; no interior mutation through &Blob.
unsafe impl Sync for Blob {}

impl Blob {
    /// Copy `data` into a new blob.
    pub fn copy_from(data: &[u8]) -> Blob {
        // SAFETY: vips_blob_copy copies `len` bytes from a valid slice into
        // memory it owns and returns a blob with one reference for us.
        let ptr = unsafe { sys::vips_blob_copy(data.as_ptr().cast(), data.len()) };
        Blob { ptr }
    }

    /// Take over one reference to `ptr` (from a `GValue` or an output).
    ///
    /// # Safety
    /// `ptr` must be a valid `VipsBlob` whose reference the caller owns.
    pub(crate) unsafe fn from_owned(ptr: *mut sys::VipsBlob) -> Blob {
        Blob { ptr }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::VipsBlob {
        self.ptr
    }

    /// The bytes held by the blob.
    pub fn as_slice(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: the blob is alive for &self; vips_blob_get returns its data
        // pointer and length, valid until the last reference is dropped.
        let data = unsafe { sys::vips_blob_get(self.ptr, &mut len) };
        if data.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: data points to `len` initialised bytes owned by the blob.
        unsafe { std::slice::from_raw_parts(data.cast(), len) }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.as_slice().len())
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: we own exactly one reference.
            unsafe { sys::vips_area_unref(self.ptr) }
        }
    }
}
