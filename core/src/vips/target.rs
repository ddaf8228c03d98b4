//! `MemoryTarget`: a libvips target that collects what a saver writes in
//! memory and fails the write once the call's deadline has passed.
//!
//! A streaming saver (PNG) is stopped by the deadline between the strips
//! libvips computes, but the compression of one strip runs in the saver,
//! past any kill flag: a strip of a wide image at zlib level 9 is a few
//! hundred rows of deflate, which ended a 9000-pixel-wide PNG 3.6 s after
//! a 2 s deadline. The saver hands its compressed bytes to the target every
//! few kilobytes; failing that write stops it there.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use super::deadline::{self, Deadline};
use super::sys;
use crate::error::{Error, Result};

/// What the handler shares with the target's owner.
struct Written {
    bytes: Mutex<Vec<u8>>,
    /// The deadline of the call that made the target (entered on its
    /// thread then); the saver writes from libvips' own threads.
    deadline: Option<Arc<Deadline>>,
}

/// A `VipsTargetCustom` writing into a `Vec<u8>` (see the module docs).
pub struct MemoryTarget {
    ptr: *mut c_void,
    written: Arc<Written>,
}

// SAFETY: the target is only handed to libvips calls; what its handler
// writes is behind a mutex.
unsafe impl Send for MemoryTarget {}

impl MemoryTarget {
    /// An empty target, stopped by the deadline entered on this thread.
    pub fn new() -> Result<MemoryTarget> {
        MemoryTarget::stopped_by(deadline::current())
    }

    /// An empty target whose writes fail once `deadline` has passed.
    fn stopped_by(deadline: Option<Arc<Deadline>>) -> Result<MemoryTarget> {
        super::init()?;
        // SAFETY: creates a new object with one reference, ours.
        let ptr = unsafe { sys::vips_target_custom_new() };
        if ptr.is_null() {
            super::clear_error();
            return Err(Error::Internal("cannot create a libvips target".to_owned()));
        }
        let written = Arc::new(Written {
            bytes: Mutex::new(Vec::new()),
            deadline,
        });
        let data = Arc::into_raw(written.clone()) as *mut c_void;
        let handler: sys::TargetWriteHandler = on_write;
        // SAFETY: `ptr` is live; the handler's data is one reference to
        // `written`, dropped by `release` when the handler is disconnected
        // (at the latest when the target is finalised).
        unsafe {
            sys::g_signal_connect_data(
                ptr,
                c"write".as_ptr(),
                handler as *const c_void,
                data,
                Some(release),
                0,
            );
        }
        Ok(MemoryTarget { ptr, written })
    }

    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// The bytes written so far (all of them once the save has returned).
    pub fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.written.bytes.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *bytes)
    }
}

impl std::fmt::Debug for MemoryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryTarget")
    }
}

impl Drop for MemoryTarget {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { sys::g_object_unref(self.ptr) }
    }
}

/// The `write` handler: keeps `length` bytes, or fails (-1) once the
/// deadline has passed or the caller is gone. Never unwinds into libvips.
unsafe extern "C" fn on_write(
    _target: *mut c_void,
    buffer: *const c_void,
    length: i64,
    data: *mut c_void,
) -> i64 {
    if buffer.is_null() || length <= 0 {
        return -1;
    }
    // SAFETY: data is the reference `new` gave the handler, alive until
    // `release`.
    let written = unsafe { &*(data as *const Written) };
    if written.deadline.as_ref().is_some_and(|d| d.expired()) {
        return -1;
    }
    // SAFETY: libvips passes `length` readable bytes.
    let chunk = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), length as usize) };
    let kept = catch_unwind(AssertUnwindSafe(|| {
        let mut bytes = written.bytes.lock().unwrap_or_else(|p| p.into_inner());
        bytes.extend_from_slice(chunk);
    }));
    match kept {
        Ok(()) => length,
        Err(_) => -1,
    }
}

/// Drops the reference `new` gave the handler.
unsafe extern "C" fn release(data: *mut c_void, _closure: *mut c_void) {
    // SAFETY: data came from Arc::into_raw in `new`; GObject calls this
    // exactly once.
    drop(unsafe { Arc::from_raw(data as *const Written) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vips::{Arg, Call, Image};
    use std::time::Duration;

    fn save(img: &Image, target: &MemoryTarget) -> Result<()> {
        Call::new("pngsave_target")
            .arg("in", Arg::Image(img))
            .arg("target", Arg::Target(target))
            .run()
            .map(|_| ())
    }

    #[test]
    fn a_saver_writes_into_memory() {
        crate::vips::init().unwrap();
        let img = Image::black(37, 21, 3).unwrap();
        let target = MemoryTarget::new().unwrap();
        save(&img, &target).unwrap();
        let png = target.into_bytes();
        let back: Image = Call::new("pngload_buffer")
            .arg("buffer", Arg::Blob(&crate::vips::Blob::copy_from(&png)))
            .run()
            .and_then(|o| o.out())
            .unwrap();
        assert_eq!((back.width(), back.height()), (37, 21));
    }

    #[test]
    fn a_passed_deadline_fails_the_write() {
        crate::vips::init().unwrap();
        let img = Image::black(37, 21, 3).unwrap();
        let deadline = Deadline::with_stop(
            Duration::from_millis(1),
            "process_timeout",
            crate::call::Stop::Never,
        );
        std::thread::sleep(Duration::from_millis(5));
        // Not entered on this thread: only the target stops the save.
        let target = MemoryTarget::stopped_by(Some(deadline)).unwrap();
        assert!(save(&img, &target).is_err());
        assert!(target.into_bytes().is_empty());
        let free = MemoryTarget::stopped_by(None).unwrap();
        save(&img, &free).unwrap();
        assert!(free.into_bytes().starts_with(b"\x89PNG"));
    }
}
