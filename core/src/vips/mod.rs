//! The only place that talks to libvips.
//!
//! libvips is driven through its generic operation API by name (as pyvips and
//! imagor's vipsgen do): [`Call`] builds a `VipsOperation`, sets each argument
//! through GObject properties checked against the operation's own argument
//! table, runs it through the operation cache and hands back the outputs.
//! [`Image`] and [`Blob`] are reference-counted RAII handles.
//!
//! Rules kept here:
//! - `vips_init` runs once ([`init`]); libvips is never shut down by us.
//! - Input bytes are copied into a `VipsBlob`; a Rust slice is never lent to
//!   libvips beyond a call.
//! - After any failure the global error buffer is copied and cleared at once;
//!   callers classify errors by their own checks, not by libvips' text.
//! - Every `unsafe` block carries a `// SAFETY:` line.

mod blob;
mod call;
mod image;
mod ops;
mod sys;

pub use blob::Blob;
pub use call::{has_operation, operation_has_arg, Arg, Call, Outputs};
pub use image::MetaEditor;
pub use image::{BandFormat, Image, Interpretation};
pub use ops::{
    Angle, BlendMode, Direction, Extend, Intent, Interesting, Size, TextOptions, TextWrap,
};

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use crate::error::{Error, Result};

static INIT: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Start libvips once per process. Safe to call from any thread, any number
/// of times. The operation cache is turned off (imagor's default): every
/// request decodes its own input, and memory is bounded by the pipeline.
pub fn init() -> Result<()> {
    let state = INIT.get_or_init(|| {
        let name = CString::new("imagor-rs").expect("static name has no NUL");
        // SAFETY: vips_init may be called with a NUL-terminated name; the
        // OnceLock guarantees one call across threads.
        let rc = unsafe { sys::vips_init(name.as_ptr()) };
        if rc != 0 {
            return Err(take_error());
        }
        // SAFETY: plain setters on libvips' global configuration, called
        // right after a successful init; the log handler is a static fn.
        unsafe {
            if std::env::var_os("IMAGOR_VIPS_WARNINGS").is_none() {
                let levels = sys::G_LOG_LEVEL_WARNING
                    | sys::G_LOG_LEVEL_MESSAGE
                    | sys::G_LOG_LEVEL_INFO
                    | sys::G_LOG_LEVEL_DEBUG;
                sys::g_log_set_handler(
                    c"VIPS".as_ptr(),
                    levels,
                    Some(quiet_log),
                    std::ptr::null_mut(),
                );
            }
            sys::vips_cache_set_max(0);
            sys::vips_cache_set_max_mem(0);
            sys::vips_cache_set_max_files(0);
        }
        Ok(())
    });
    state
        .clone()
        .map_err(|msg| Error::Internal(format!("libvips failed to start: {msg}")))
}

/// Drops libvips' warnings (e.g. "heifload: ignoring nclx profile"): they
/// go to stderr of the host application otherwise, as imagor also silences
/// them. Set `IMAGOR_VIPS_WARNINGS=1` to see them.
unsafe extern "C" fn quiet_log(
    _domain: *const std::os::raw::c_char,
    _level: std::os::raw::c_int,
    _message: *const std::os::raw::c_char,
    _data: *mut std::os::raw::c_void,
) {
}

/// The libvips version this process runs, as `(major, minor, micro)`.
pub fn version() -> (i32, i32, i32) {
    // SAFETY: vips_version only reads compile-time constants.
    unsafe {
        (
            sys::vips_version(0),
            sys::vips_version(1),
            sys::vips_version(2),
        )
    }
}

/// Set the number of worker threads libvips uses per pipeline
/// (`vips-concurrency`); 0 or less keeps libvips' default.
pub fn set_concurrency(threads: i32) {
    if threads > 0 {
        // SAFETY: global setter, thread-safe in libvips.
        unsafe { sys::vips_concurrency_set(threads) }
    }
}

/// Refuse (or allow again) loaders libvips marks as untrusted, such as
/// ImageMagick and matload (`VIPS_BLOCK_UNTRUSTED`).
pub fn block_untrusted(block: bool) {
    // SAFETY: global setter, available since libvips 8.13.
    unsafe { sys::vips_block_untrusted_set(block as sys::gboolean) }
}

/// libvips' tracked memory: `(bytes in use, allocations, open files)`.
/// Used by the leak tests.
pub fn tracked() -> (usize, i32, i32) {
    // SAFETY: read-only accessors of libvips' global counters.
    unsafe {
        (
            sys::vips_tracked_get_mem(),
            sys::vips_tracked_get_allocs(),
            sys::vips_tracked_get_files(),
        )
    }
}

/// Copy and clear libvips' global error buffer. Returns the trimmed text.
pub(crate) fn take_error() -> String {
    // SAFETY: vips_error_buffer_copy returns a fresh g_malloc'd string (or
    // NULL) and clears the buffer; we free it with g_free.
    unsafe {
        let ptr = sys::vips_error_buffer_copy();
        if ptr.is_null() {
            return String::new();
        }
        let text = CStr::from_ptr(ptr).to_string_lossy().trim().to_owned();
        sys::g_free(ptr.cast());
        text
    }
}

/// Turn a failed libvips call into our error: the captured libvips text,
/// classified as imagor does (`WrapErr`): an unknown format is 406
/// "unsupported format", anything else a 406 processing error.
pub(crate) fn error_from_vips(context: &str) -> Error {
    let text = take_error();
    if text.contains("is not in a known format") {
        return Error::UnsupportedFormat;
    }
    let text = text.replace('\n', " ");
    if text.is_empty() {
        Error::Processing(format!("{context} failed"))
    } else {
        Error::Processing(text)
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid_msg(format!("NUL byte in {s:?}")))
}
