//! The one panic boundary every export runs behind, and this thread's last
//! error.
//!
//! [`ffi_boundary`] is the only `catch_unwind` of the crate: a panic inside
//! an export is caught there, recorded as this thread's last error and
//! turned into the export's fallback value ([`OnPanic`]), so the host
//! process survives. [`ffi_call`] builds on it for the fallible exports: it
//! returns an [`imagor_status`] and records (or clears) the last error,
//! which imagor_last_error_message() and imagor_last_error_status() read.
//!
//! Unwinding needs `panic = "unwind"`; the workspace's release profile says
//! so and `tests/panic_strategy.rs` keeps it that way.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::{imagor_status, Failure};

/// What an export returns when it panicked.
pub(crate) trait OnPanic {
    /// The fallback value.
    fn on_panic() -> Self;
}

impl OnPanic for imagor_status {
    fn on_panic() -> Self {
        imagor_status::Panic
    }
}

impl OnPanic for () {
    fn on_panic() -> Self {}
}

impl OnPanic for u16 {
    fn on_panic() -> Self {
        500
    }
}

impl OnPanic for *const c_char {
    fn on_panic() -> Self {
        c"".as_ptr()
    }
}

/// Run `f`, catching any panic: the panic is recorded as this thread's last
/// error and `T::on_panic()` is returned instead.
///
/// `AssertUnwindSafe` is sound here: after a panic the caller only sees the
/// fallback value, and the state an export can reach is either owned by the
/// call (dropped during unwinding) or an `imagor` handle, which is
/// immutable after imagor_new().
pub(crate) fn ffi_boundary<T: OnPanic>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            set_last_error(&Failure::Panic(panic_text(payload.as_ref())));
            T::on_panic()
        }
    }
}

/// Run a fallible export body behind [`ffi_boundary`]: `Ok` clears this
/// thread's last error and returns `IMAGOR_STATUS_OK`; an error (or a
/// panic) is recorded and its status returned.
pub(crate) fn ffi_call(f: impl FnOnce() -> Result<(), Failure>) -> imagor_status {
    ffi_boundary(|| match f() {
        Ok(()) => {
            clear_last_error();
            imagor_status::Ok
        }
        Err(failure) => {
            set_last_error(&failure);
            failure.status()
        }
    })
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// The failure of the last fallible call on a thread.
struct LastError {
    message: CString,
    status: u16,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn set_last_error(failure: &Failure) {
    // A message with a NUL byte (from libvips text, say) loses those bytes
    // rather than being dropped.
    let text = failure.message().replace('\0', "");
    let message = CString::new(text).unwrap_or_default();
    let status = failure.http_status();
    // `try_with` fails only while the thread is being torn down; the error
    // then has nobody left to read it.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = Some(LastError { message, status }));
}

fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|last| last.borrow_mut().take());
}

/// The message of the last failed call on this thread: imagor's message for
/// imagor errors (`"url signature mismatch"`, `"unsupported format"`), or a
/// text naming the argument for NULL and invalid UTF-8, or the panic text.
///
/// @return A NUL-terminated string owned by the library, never NULL: `""`
///         when the last call returning an ::imagor_status on this thread
///         succeeded (or there was none). It stays valid until the next call
///         returning an ::imagor_status on this thread. Do not free it.
///
/// Thread-safe: each thread has its own last error.
#[no_mangle]
pub extern "C" fn imagor_last_error_message() -> *const c_char {
    ffi_boundary(|| {
        LAST_ERROR
            .try_with(|last| match &*last.borrow() {
                // The CString's heap buffer stays put until the next call
                // that sets or clears the last error on this thread.
                Some(e) => e.message.as_ptr(),
                None => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    })
}

/// The HTTP status imagor answers with for the last failed call on this
/// thread: 404 for ::IMAGOR_STATUS_NOT_FOUND, 403 for
/// ::IMAGOR_STATUS_SIGNATURE_MISMATCH, the forwarded status for
/// ::IMAGOR_STATUS_STATUS, 400 for ::IMAGOR_STATUS_INVALID_UTF8, 500 for
/// ::IMAGOR_STATUS_NULL_ARGUMENT and ::IMAGOR_STATUS_PANIC.
///
/// @return The status, or 0 when the last call returning an ::imagor_status
///         on this thread succeeded (or there was none).
///
/// Thread-safe: each thread has its own last error.
#[no_mangle]
pub extern "C" fn imagor_last_error_status() -> u16 {
    ffi_boundary(|| {
        LAST_ERROR
            .try_with(|last| last.borrow().as_ref().map_or(0, |e| e.status))
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> (String, u16) {
        // SAFETY: the pointer is valid until the next fallible call here.
        let msg = unsafe { CStr::from_ptr(imagor_last_error_message()) };
        (
            msg.to_string_lossy().into_owned(),
            imagor_last_error_status(),
        )
    }

    #[test]
    fn a_panic_becomes_the_panic_status_and_the_thread_goes_on() {
        let status = ffi_call(|| panic!("deliberate panic {}", 42));
        assert_eq!(status, imagor_status::Panic);
        assert_eq!(
            last(),
            ("panic in imagor: deliberate panic 42".to_owned(), 500)
        );
        let status = ffi_call(|| std::panic::panic_any(7_u8));
        assert_eq!(status, imagor_status::Panic);
        assert_eq!(last().0, "panic in imagor: unknown panic payload");
        // Non-status exports get their fallback.
        let p: *const c_char = ffi_boundary(|| panic!("in a getter"));
        // SAFETY: the fallback is a static empty C string.
        assert_eq!(unsafe { CStr::from_ptr(p) }, c"");
        assert_eq!(ffi_boundary::<u16>(|| panic!("x")), 500);
        assert_eq!(ffi_call(|| Ok(())), imagor_status::Ok);
        assert_eq!(last(), (String::new(), 0));
    }

    #[test]
    fn errors_are_recorded_per_thread_and_cleared_by_success() {
        let status = ffi_call(|| Err(imagor::Error::NOT_FOUND.into()));
        assert_eq!(status, imagor_status::NotFound);
        assert_eq!(last(), ("not found".to_owned(), 404));
        std::thread::spawn(|| assert_eq!(last(), (String::new(), 0)))
            .join()
            .ok();
        assert_eq!(last().1, 404);
        let status = ffi_call(|| Err(imagor::Error::Processing("a\0b".into()).into()));
        assert_eq!(status, imagor_status::Processing);
        assert_eq!(last(), ("ab".to_owned(), 406));
        assert_eq!(ffi_call(|| Ok(())), imagor_status::Ok);
        assert_eq!(last(), (String::new(), 0));
    }
}
