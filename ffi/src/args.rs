//! Caller input at the crossing: NULL checks, UTF-8 checks and
//! out-parameters. Nothing here unwraps or asserts on what C passed in:
//! NULL is [`Failure::NullArgument`], bad UTF-8 [`Failure::InvalidUtf8`].

use std::ffi::{c_char, CStr};
use std::ptr::NonNull;

use crate::status::Failure;

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::NullArgument(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map_err(|_| Failure::InvalidUtf8(name))
}

/// A required NUL-terminated string argument read as bytes, which need not
/// be UTF-8 (a path to sign: imagor signs the bytes a request decodes to).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn cstr_bytes_arg<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::NullArgument(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, name) }.map(Some)
    }
}

/// A required byte buffer `(ptr, len)`; `ptr` must not be NULL even when
/// `len` is 0.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes that stay unchanged for
/// `'a`.
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::NullArgument(name));
    }
    if len > isize::MAX as usize {
        return Err(imagor::Error::MaxSizeExceeded.into());
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract, and
    // `len` fits a slice.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An out-parameter, checked for NULL before any work is done and written
/// only once the call has succeeded.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// A required out-parameter.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for a write of `T` until [`Out::write`].
    pub(crate) unsafe fn new(ptr: *mut T, name: &'static str) -> Result<Out<T>, Failure> {
        NonNull::new(ptr)
            .map(Out)
            .ok_or(Failure::NullArgument(name))
    }

    /// An optional out-parameter: NULL means the caller does not want it.
    ///
    /// # Safety
    /// As [`Out::new`].
    pub(crate) unsafe fn optional(ptr: *mut T) -> Option<Out<T>> {
        NonNull::new(ptr).map(Out)
    }

    /// Store `value` without reading or dropping what was there.
    pub(crate) fn write(self, value: T) {
        // SAFETY: valid for writes by the contract of `new`/`optional`;
        // `write` does not read the (possibly uninitialised) old value.
        unsafe { self.0.as_ptr().write(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_utf8_are_failures_not_panics() {
        // SAFETY: NULL, and NUL-terminated literals.
        unsafe {
            assert_eq!(
                str_arg(std::ptr::null(), "path"),
                Err(Failure::NullArgument("path"))
            );
            assert_eq!(
                str_arg(c"caf\xe9".as_ptr(), "path"),
                Err(Failure::InvalidUtf8("path"))
            );
            assert_eq!(str_arg(c"ok".as_ptr(), "path"), Ok("ok"));
            assert_eq!(opt_str_arg(std::ptr::null(), "secret"), Ok(None));
            assert_eq!(
                bytes_arg(std::ptr::null(), 0, "data"),
                Err(Failure::NullArgument("data"))
            );
            let empty: [u8; 0] = [];
            assert_eq!(bytes_arg(empty.as_ptr(), 0, "data"), Ok(&empty[..]));
            assert!(bytes_arg(empty.as_ptr(), usize::MAX, "data").is_err());
            assert!(Out::<u8>::new(std::ptr::null_mut(), "out").is_err());
            assert!(Out::<u8>::optional(std::ptr::null_mut()).is_none());
            let mut x = 0_u8;
            if let Ok(o) = Out::new(&mut x, "out") {
                o.write(9);
            }
            assert_eq!(x, 9);
        }
    }
}
