//! `VipsBlob`: a reference-counted byte buffer owned by libvips.

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::sync::{LazyLock, Mutex, MutexGuard};

use bytes::Bytes;

use super::sys;

/// Bytes in a libvips-owned, reference-counted area: copied there, or
/// shared with a [`Bytes`] that the area keeps alive.
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

    /// A blob over the same memory as `data`, without a copy: the blob
    /// keeps `data` alive until libvips drops its last reference (a source
    /// the server loaded is held once, not twice, while it is processed).
    pub(crate) fn sharing(data: Bytes) -> Blob {
        if data.is_empty() {
            return Blob::copy_from(&[]);
        }
        // The lock is held until the owner is recorded, and libvips calls
        // `release_shared` only once the reference we are handed is gone.
        let mut owners = shared_owners();
        // SAFETY: `data` points to `len` bytes that stay valid and unchanged
        // while the owner recorded below is alive; `release_shared` removes
        // it when libvips frees the area, and no earlier.
        let ptr =
            unsafe { sys::vips_blob_new(Some(release_shared), data.as_ptr().cast(), data.len()) };
        if ptr.is_null() {
            drop(owners);
            return Blob::copy_from(&data);
        }
        owners.insert(ptr as usize, data);
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

/// The owners of the bytes of blobs made by [`Blob::sharing`], by the
/// address of their area.
fn shared_owners() -> MutexGuard<'static, HashMap<usize, Bytes>> {
    static OWNERS: LazyLock<Mutex<HashMap<usize, Bytes>>> = LazyLock::new(Default::default);
    // A poisoned lock only means a panic elsewhere; the map stays valid.
    OWNERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// libvips' free function of a shared blob: drop the owner of its bytes.
unsafe extern "C" fn release_shared(_data: *mut c_void, area: *mut c_void) -> c_int {
    let owner = shared_owners().remove(&(area as usize));
    drop(owner);
    0
}

impl Clone for Blob {
    /// Another reference to the same bytes (no copy).
    fn clone(&self) -> Blob {
        if self.ptr.is_null() {
            return Blob { ptr: self.ptr };
        }
        // SAFETY: the blob is alive for &self; vips_area_copy takes one more
        // reference to the same area and returns it, ours to drop.
        let ptr = unsafe { sys::vips_area_copy(self.ptr) };
        Blob { ptr }
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_blob_keeps_its_bytes_alive_without_a_copy() {
        crate::vips::init().unwrap();
        let data = Bytes::from(vec![7u8; 1 << 20]);
        let blob = Blob::sharing(data.clone());
        let area = blob.as_ptr() as usize;
        assert_eq!(blob.as_slice().as_ptr(), data.as_ptr(), "no copy");
        drop(data);
        assert!(blob.as_slice().iter().all(|&b| b == 7));
        assert!(shared_owners().contains_key(&area));
        drop(blob);
        assert!(
            !shared_owners().contains_key(&area),
            "released with the blob"
        );
        assert!(Blob::sharing(Bytes::new()).as_slice().is_empty());
    }
}
