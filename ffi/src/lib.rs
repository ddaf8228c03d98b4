//! # libimagor: the C ABI of imagor-rs
//!
//! This crate builds `libimagor.so` and `libimagor.a`; `include/imagor.h`
//! is generated from it by cbindgen (`tests/header.rs`) and committed. The
//! contract (statuses, ownership, NULL, threads, panics) is written down in
//! `ffi/README.md`. In short:
//!
//! - every fallible function returns an [`imagor_status`]; results go to
//!   out-parameters, written only on success;
//! - [`imagor_last_error_message`] and [`imagor_last_error_status`] describe
//!   this thread's last failure;
//! - buffers and strings from imagor are released by [`imagor_bytes_free`]
//!   and [`imagor_string_free`] only, and every free accepts NULL;
//! - every export runs behind the one panic boundary in [`boundary`]: a
//!   panic is `IMAGOR_STATUS_PANIC`, never an abort.
//!
//! Modules mirror the core crate: [`path`] (parse, generate), [`sign`]
//! (sign, verify), [`processor`] (process, meta, serve), plus the handle,
//! the byte buffers, the statuses and the boundary. Nothing here decides
//! anything about images or URLs: it only marshals.
//!
//! [`imagor_status`]: status::imagor_status
//! [`imagor_last_error_message`]: boundary::imagor_last_error_message
//! [`imagor_last_error_status`]: boundary::imagor_last_error_status
//! [`imagor_bytes_free`]: bytes::imagor_bytes_free
//! [`imagor_string_free`]: bytes::imagor_string_free
#![allow(non_camel_case_types)]
#![deny(missing_docs)]

// In this order in the header: statuses and errors, memory, the handle,
// then the operations.
mod args;
pub mod boundary;
pub mod bytes;
pub mod detector;
pub mod handle;
pub mod path;
pub mod processor;
pub mod sign;
pub mod status;

use std::ffi::c_char;

/// The version of libimagor, `"MAJOR.MINOR.PATCH"`, the same as the
/// `IMAGOR_VERSION_*` macros of the header it was built with.
///
/// @return A static NUL-terminated string; do not free it.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn imagor_version() -> *const c_char {
    boundary::ffi_boundary(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: imagor_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(super::imagor_version()) };
        assert_eq!(v.to_str().ok(), Some(env!("CARGO_PKG_VERSION")));
    }
}
