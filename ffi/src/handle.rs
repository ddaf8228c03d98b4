//! The opaque `imagor` handle: an [`imagor::Imagor`] configured from
//! [`imagor::Options`] JSON, shared freely between threads.

use std::ffi::c_char;

use crate::args::{str_arg, Out};
use crate::boundary::{ffi_boundary, ffi_call};
use crate::status::{imagor_status, Failure};

/// A configured imagor (C type `imagor`, opaque): options, signer and
/// loaders. Made by imagor_new(), released by imagor_free().
pub struct Handle {
    inner: imagor::Imagor,
}

// The handle is used from many threads at once through `const imagor *`.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Handle>();
};

/// Borrow the [`imagor::Imagor`] behind a handle argument.
///
/// # Safety
/// `ptr` is NULL or a live handle from imagor_new() that outlives `'a`.
pub(crate) unsafe fn borrow<'a>(
    ptr: *const Handle,
    name: &'static str,
) -> Result<&'a imagor::Imagor, Failure> {
    // SAFETY: NULL or a live handle, by the caller's contract.
    match unsafe { ptr.as_ref() } {
        Some(h) => Ok(&h.inner),
        None => Err(Failure::NullArgument(name)),
    }
}

/// Create an imagor configured by `options_json`.
///
/// The options are those of every imagor-rs binding (`imagor::Options`),
/// with imagor's flag names in snake_case, e.g.
/// `{"secret":"mysecret","signer_type":"sha256","unsafe":false,
/// "max_width":4000,"file_loader_base_dir":"/srv/images"}`. Missing fields
/// keep imagor's defaults; unknown fields are an error.
///
/// @param options_json JSON object text, or `""` for imagor's defaults.
/// @param out On success, the new handle; release it with imagor_free().
/// @return ::IMAGOR_STATUS_OK, ::IMAGOR_STATUS_INVALID for bad JSON or
///         values (the message names the field), ::IMAGOR_STATUS_INTERNAL
///         when libvips cannot start.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `out` is NULL or
/// valid for writing a pointer.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_new(
    options_json: *const c_char,
    out: *mut *mut Handle,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let json = unsafe { str_arg(options_json, "options_json") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        let options = imagor::Options::from_json(json)?;
        let inner = imagor::Imagor::new(options)?;
        out.write(Handle::boxed(inner));
        Ok(())
    })
}

impl Handle {
    /// A new handle for `inner`, owned by the caller until imagor_free().
    pub(crate) fn boxed(inner: imagor::Imagor) -> *mut Handle {
        Box::into_raw(Box::new(Handle { inner }))
    }
}

/// Release a handle from imagor_new().
///
/// @param im The handle, or NULL (then nothing happens).
///
/// # Safety
/// `im` is NULL or a handle from imagor_new() not freed before, and no other
/// thread is still using it.
///
/// Thread-safe for distinct handles.
#[no_mangle]
pub unsafe extern "C" fn imagor_free(im: *mut Handle) {
    ffi_boundary(|| {
        if !im.is_null() {
            // SAFETY: made by `Box::into_raw` in imagor_new and not freed
            // before, by the caller's contract.
            drop(unsafe { Box::from_raw(im) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn new_and_free() {
        let mut im: *mut Handle = ptr::null_mut();
        // SAFETY: valid literals and out-pointer; the handle is freed once.
        unsafe {
            assert_eq!(
                imagor_new(c"{\"secret\":\"k\"}".as_ptr(), &mut im),
                imagor_status::Ok
            );
            assert!(!im.is_null());
            assert_eq!(
                borrow(im, "im").map(|i| i.options().secret.clone()),
                Ok("k".into())
            );
            imagor_free(im);
            imagor_free(ptr::null_mut());
        }
    }

    #[test]
    fn bad_options_leave_the_out_parameter_alone() {
        let sentinel = ptr::dangling_mut::<Handle>();
        let mut im = sentinel;
        // SAFETY: valid literals and out-pointer.
        unsafe {
            assert_eq!(
                imagor_new(c"{\"no_such_option\":1}".as_ptr(), &mut im),
                imagor_status::Invalid
            );
            assert_eq!(
                imagor_new(c"{\"max_width\":0}".as_ptr(), &mut im),
                imagor_status::Invalid
            );
            assert_eq!(
                imagor_new(ptr::null(), &mut im),
                imagor_status::NullArgument
            );
            assert_eq!(
                imagor_new(c"".as_ptr(), ptr::null_mut()),
                imagor_status::NullArgument
            );
        }
        assert_eq!(im, sentinel);
        assert!(unsafe { borrow(ptr::null(), "im") }.is_err());
    }
}
