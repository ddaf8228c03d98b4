//! Buffers and strings handed to C, and the only functions that release
//! them. Bytes travel as a `Box<[u8]>` and come back as the same
//! `Box<[u8]>`; strings as a `CString` and back. No other allocator or
//! layout is ever involved.

use std::ffi::{c_char, CString};

use crate::boundary::ffi_boundary;
use crate::status::Failure;

/// A byte buffer allocated by imagor (an encoded image).
///
/// Release it with imagor_bytes_free(), never with `free()`. An empty
/// buffer has `data == NULL` and `len == 0`.
#[repr(C)]
#[derive(Debug)]
pub struct imagor_bytes {
    /// The first byte, or NULL when `len` is 0.
    pub data: *mut u8,
    /// Number of bytes at `data`.
    pub len: usize,
}

impl imagor_bytes {
    /// Hand `v` over to C (as a boxed slice: exactly `len` bytes).
    pub(crate) fn from_vec(v: Vec<u8>) -> imagor_bytes {
        if v.is_empty() {
            return imagor_bytes {
                data: std::ptr::null_mut(),
                len: 0,
            };
        }
        let boxed: Box<[u8]> = v.into_boxed_slice();
        let len = boxed.len();
        let data = Box::into_raw(boxed).cast::<u8>();
        imagor_bytes { data, len }
    }
}

/// Hand `s` over to C as a NUL-terminated string.
pub(crate) fn string_into_raw(s: String) -> Result<*mut c_char, Failure> {
    CString::new(s)
        .map(CString::into_raw)
        .map_err(|_| imagor::Error::invalid_msg("result contains a NUL byte").into())
}

/// Release a buffer returned by imagor and reset it to `{NULL, 0}`, so that
/// a second call is harmless.
///
/// @param bytes The buffer, or NULL (then nothing happens). A buffer whose
///        `data` is NULL is left as is.
///
/// # Safety
/// `bytes` is NULL or points to an ::imagor_bytes that an imagor function
/// wrote and that was not changed since (other than by this function).
///
/// Thread-safe for distinct buffers.
#[no_mangle]
pub unsafe extern "C" fn imagor_bytes_free(bytes: *mut imagor_bytes) {
    ffi_boundary(|| {
        // SAFETY: NULL or a valid imagor_bytes, by the caller's contract.
        let Some(b) = (unsafe { bytes.as_mut() }) else {
            return;
        };
        if b.data.is_null() {
            return;
        }
        let slice = std::ptr::slice_from_raw_parts_mut(b.data, b.len);
        // SAFETY: `data`/`len` come from `imagor_bytes::from_vec`, i.e. from
        // `Box::into_raw` of a `Box<[u8]>` of exactly `len` bytes, not freed
        // since (it is reset below).
        drop(unsafe { Box::from_raw(slice) });
        b.data = std::ptr::null_mut();
        b.len = 0;
    })
}

/// Release a string returned by imagor (a hash, a path, JSON, a content
/// type).
///
/// @param s The string, or NULL (then nothing happens).
///
/// # Safety
/// `s` is NULL or a string returned through an out-parameter of an imagor
/// function, not freed before. Strings from imagor_last_error_message(),
/// imagor_status_str() and imagor_version() are not to be freed.
///
/// Thread-safe for distinct strings.
#[no_mangle]
pub unsafe extern "C" fn imagor_string_free(s: *mut c_char) {
    ffi_boundary(|| {
        if !s.is_null() {
            // SAFETY: returned by `CString::into_raw` in `string_into_raw`
            // and not freed before, by the caller's contract.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_round_trip_and_free_twice_is_harmless() {
        let mut b = imagor_bytes::from_vec(vec![1, 2, 3]);
        assert_eq!(b.len, 3);
        // SAFETY: `b` was just made by from_vec.
        unsafe {
            assert_eq!(std::slice::from_raw_parts(b.data, b.len), &[1, 2, 3]);
            imagor_bytes_free(&mut b);
            assert!(b.data.is_null() && b.len == 0);
            imagor_bytes_free(&mut b);
            imagor_bytes_free(std::ptr::null_mut());
        }
        let e = imagor_bytes::from_vec(Vec::with_capacity(64));
        assert!(e.data.is_null() && e.len == 0);
    }

    #[test]
    fn strings_round_trip() {
        let s = string_into_raw("abc".into());
        assert!(string_into_raw("a\0b".into()).is_err());
        // SAFETY: `s` comes from string_into_raw; NULL is accepted.
        unsafe {
            if let Ok(p) = s {
                assert_eq!(std::ffi::CStr::from_ptr(p), c"abc");
                imagor_string_free(p);
            }
            imagor_string_free(std::ptr::null_mut());
        }
    }
}
