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
//! - libvips' error buffer is process-global, so its text may belong to
//!   another thread's call: it is cleared after every failure and never
//!   read into an error. Errors name the operation that failed and are
//!   classified by our own state (see `deadline` for timeouts).
//! - Argument values are validated against their `GParamSpec` before they
//!   are set, and images an operation would modify in place are copied
//!   first ([`Call::run`]): safe code cannot change a shared [`Image`].
//! - Every image a call gets is watched by the call's deadline
//!   (`deadline`): killed from its `eval` signal between chunks, and by
//!   the one `imagor-deadline` thread (`watchdog.rs`) inside a chunk.
//! - Nothing from GLib or libvips is printed on the host's stderr.
//! - Every `unsafe` block carries a `// SAFETY:` line.

#[cfg(feature = "own-av1")]
pub(crate) mod av1;
mod blob;
mod call;
pub(crate) mod deadline;
mod image;
#[cfg(feature = "own-jpeg")]
pub(crate) mod jpeg;
pub(crate) mod malloc;
mod ops;
mod orc_guard;
mod pango;
pub(crate) mod png_rows;
mod source;
mod sys;
mod target;
mod watchdog;
pub(crate) mod webp;

pub use blob::Blob;
pub use call::{has_operation, operation_has_arg, Arg, Call, Outputs};
pub use image::MetaEditor;
pub use image::{BandFormat, Image, Interpretation};
pub use ops::{
    Angle, BlendMode, Direction, Extend, Intent, Interesting, Size, TextOptions, TextWrap,
};
pub use source::{CustomSource, SeekRead};
pub use target::MemoryTarget;

use std::ffi::CString;
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
            clear_error();
            return Err("vips_init failed".to_owned());
        }
        if std::env::var_os("IMAGOR_VIPS_WARNINGS").is_none() {
            silence_glib_logs();
        }
        // SAFETY: plain setters on libvips' global configuration, called
        // right after a successful init.
        unsafe {
            sys::vips_cache_set_max(0);
            sys::vips_cache_set_max_mem(0);
            sys::vips_cache_set_max_files(0);
        }
        guard_orc();
        Ok(())
    });
    state
        .clone()
        .map_err(|msg| Error::Internal(format!("libvips failed to start: {msg}")))
}

/// Whether libvips' run-time SIMD compiler (liborc, libvips 8.14 and
/// earlier) is in use and its compiles and frees go one at a time
/// ([`orc_guard`]): false for a libvips without orc, and where the guard
/// could not be put in place, in which case libvips' vector paths are off.
/// Known once [`init`] has run.
pub fn orc_guarded() -> bool {
    ORC_GUARDED.get().copied().unwrap_or(false)
}

static ORC_GUARDED: OnceLock<bool> = OnceLock::new();

/// Put [`orc_guard`] in place; where that fails on a libvips that uses
/// orc, run its plain C paths instead (slower, never racing liborc).
fn guard_orc() {
    let guarded = match libvips_handle().map(orc_guard::install) {
        Some(Ok(guarded)) => guarded,
        None => false,
        Some(Err(why)) => {
            eprintln!("imagor: libvips' vector paths are off: {why}");
            // SAFETY: a plain setter on libvips' global configuration,
            // called inside init, before any other libvips call.
            unsafe { sys::vips_vector_set_enabled(0) };
            false
        }
    };
    let _ = ORC_GUARDED.set(guarded);
}

/// A dlopen handle of the loaded libvips (found from one of its functions),
/// kept for the life of the process: for lookups in it and the libraries it
/// was linked with.
pub(super) fn libvips_handle() -> Option<*mut std::ffi::c_void> {
    static HANDLE: OnceLock<Option<usize>> = OnceLock::new();
    let handle = HANDLE.get_or_init(|| {
        // SAFETY: dladdr only reads the loader's tables for an address in a
        // loaded library; dli_fname stays valid while it is loaded (libvips
        // is never unloaded).
        let handle = unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            if libc::dladdr(sys::vips_version as *const std::ffi::c_void, &mut info) == 0
                || info.dli_fname.is_null()
            {
                return None;
            }
            // RTLD_NOLOAD: a handle to the already loaded libvips, never a
            // second copy.
            libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD)
        };
        (!handle.is_null()).then_some(handle as usize)
    });
    handle.map(|h| h as *mut std::ffi::c_void)
}

/// The GLib log domains of libvips and the libraries it drives through
/// GLib (GObject property warnings, Pango, GIO, ...), plus GLib's default
/// (unnamed) domain.
const LOG_DOMAINS: &[&std::ffi::CStr] = &[
    c"VIPS",
    c"GLib",
    c"GLib-GObject",
    c"GLib-GIO",
    c"GModule",
    c"GThread",
    c"Pango",
    c"PangoFT2",
    c"PangoCairo",
    c"GdkPixbuf",
    c"librsvg",
    c"Rsvg",
    c"Poppler",
];

/// Route every non-fatal message of those domains to [`quiet_log`]: they
/// would go to the host application's stderr otherwise (libvips warnings
/// such as "heifload: ignoring nclx profile", GObject criticals). Set
/// `IMAGOR_VIPS_WARNINGS=1` to see them.
fn silence_glib_logs() {
    let levels = sys::G_LOG_LEVEL_CRITICAL
        | sys::G_LOG_LEVEL_WARNING
        | sys::G_LOG_LEVEL_MESSAGE
        | sys::G_LOG_LEVEL_INFO
        | sys::G_LOG_LEVEL_DEBUG;
    let domains = LOG_DOMAINS
        .iter()
        .map(|d| d.as_ptr())
        .chain([std::ptr::null()]);
    for domain in domains {
        // SAFETY: static NUL-terminated domain names (or NULL for the
        // default domain); the handler is a static fn that ignores its data.
        unsafe {
            sys::g_log_set_handler(domain, levels, Some(quiet_log), std::ptr::null_mut());
        }
    }
}

/// Drops a GLib log message.
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

/// Clear libvips' global error buffer. Its text is never read: it is shared
/// by every thread, so it may hold another call's message.
pub(crate) fn clear_error() {
    // SAFETY: clears the global buffer under libvips' own lock.
    unsafe { sys::vips_error_clear() }
}

/// Turn a failed libvips call into our error, from our own state only: a
/// deadline that fired is a timeout; anything else a 406 processing error
/// naming the operation (imagor's `WrapErr` status).
pub(crate) fn error_from_vips(context: &str) -> Error {
    clear_error();
    if let Some(timeout) = deadline::fired() {
        return timeout;
    }
    Error::Processing(format!("{context} failed"))
}

/// Number of live libvips objects (images, operations, sources ...) in the
/// process. Leak tests compare it before and after many calls.
pub fn live_objects() -> usize {
    if init().is_err() {
        return 0;
    }
    unsafe extern "C" fn count(
        _item: *mut std::os::raw::c_void,
        a: *mut std::os::raw::c_void,
        _b: *mut std::os::raw::c_void,
    ) -> *mut std::os::raw::c_void {
        // SAFETY: `a` is the counter passed below, alive for the walk.
        unsafe { *(a as *mut usize) += 1 };
        std::ptr::null_mut()
    }
    let mut n = 0usize;
    // SAFETY: vips_object_map visits every live object under libvips' lock
    // and calls `count` with our counter; returning NULL continues the walk.
    unsafe {
        sys::vips_object_map(
            Some(count),
            (&mut n as *mut usize).cast(),
            std::ptr::null_mut(),
        );
    }
    n
}

/// Does libvips flag the operation `name` untrusted
/// (`VIPS_OPERATION_UNTRUSTED`: loaders of libraries that have not been
/// fuzzed, such as PDF, JPEG 2000, JPEG XL and SVG through librsvg)?
/// Unknown operations count as untrusted.
pub fn is_untrusted(name: &str) -> bool {
    if init().is_err() {
        return true;
    }
    let Ok(c) = CString::new(name) else {
        return true;
    };
    // SAFETY: a new, unbuilt operation reference (or NULL), released below.
    unsafe {
        let op = sys::vips_operation_new(c.as_ptr());
        if op.is_null() {
            clear_error();
            return true;
        }
        let flags = sys::vips_operation_get_flags(op);
        sys::g_object_unref(op.cast());
        flags & (sys::VIPS_OPERATION_UNTRUSTED | sys::VIPS_OPERATION_BLOCKED) != 0
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid_msg(format!("NUL byte in {s:?}")))
}
