//! C callbacks as region detectors: [`imagor_new_with_detectors`].
//!
//! A detector is an [`imagor_detector`]: a `detect` callback, the caller's
//! `user_data` pointer handed back to every call, and an optional
//! `release` called once when the handle is freed. `detect` gets the probe
//! (row-major 8-bit sRGB, `bands` 3 or 4 samples per pixel) and writes up
//! to `capacity` [`imagor_region`]s; it returns how many it wrote, or a
//! negative number to fail (`IMAGOR_STATUS_DETECTOR`).

use std::ffi::{c_char, c_int, c_void, CStr};

use imagor::detector::{Detector, Probe, Region, MAX_REGIONS};

use crate::args::{str_arg, Out};
use crate::boundary::ffi_call;
use crate::handle::Handle;
use crate::status::{imagor_status, Failure};

/// One detected region, written by a detector callback: fractions
/// (0.0 to 1.0) of the probe's width and height, a confidence (0: not
/// given) and a class name (NULL or `""`: not given; read during the call
/// and copied, so it may point at the callback's own storage).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct imagor_region {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Right edge.
    pub right: f64,
    /// Bottom edge.
    pub bottom: f64,
    /// Confidence; 0 when not given.
    pub score: f64,
    /// Class name (UTF-8), or NULL.
    pub name: *const c_char,
}

/// The detect callback: find regions in `pixels` (`width` x `height`,
/// `bands` bytes per pixel), write at most `capacity` of them to `out` and
/// return their number, or return a negative number to fail the call.
/// May be called from several threads at once. It runs on the calling
/// thread, outside libvips, where the call's `process_timeout` cannot stop
/// it: a callback that blocks holds the call as long (the call then answers
/// ::IMAGOR_STATUS_TIMEOUT if it is past its deadline). Return promptly.
/// The call gives its processing slot (`process_slots`) back while the
/// callback runs, so the callback may call into the same handle, from its
/// own thread or another; those calls take slots of their own.
pub type imagor_detect_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        pixels: *const u8,
        width: u32,
        height: u32,
        bands: u32,
        out: *mut imagor_region,
        capacity: usize,
    ) -> c_int,
>;

/// Called once with `user_data` when the last handle using the detector is
/// freed (the detector's shutdown).
pub type imagor_release_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A region detector given to imagor_new_with_detectors().
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct imagor_detector {
    /// The callback; required.
    pub detect: imagor_detect_fn,
    /// Handed back to `detect` and `release`, never read by imagor.
    pub user_data: *mut c_void,
    /// Called once when the handle is freed; may be NULL.
    pub release: imagor_release_fn,
}

/// A C detector inside the core.
struct CDetector {
    detect: unsafe extern "C" fn(
        *mut c_void,
        *const u8,
        u32,
        u32,
        u32,
        *mut imagor_region,
        usize,
    ) -> c_int,
    user_data: *mut c_void,
    release: imagor_release_fn,
}

// SAFETY: imagor_new_with_detectors() documents that the callbacks are
// called from any thread, possibly at once, with this pointer; making that
// safe is the caller's side of the contract.
unsafe impl Send for CDetector {}
// SAFETY: as above.
unsafe impl Sync for CDetector {}

impl Detector for CDetector {
    fn detect(&self, _image_key: &str, probe: &Probe<'_>) -> imagor::Result<Vec<Region>> {
        let empty = imagor_region {
            left: 0.0,
            top: 0.0,
            right: 0.0,
            bottom: 0.0,
            score: 0.0,
            name: std::ptr::null(),
        };
        let mut out = vec![empty; MAX_REGIONS];
        // SAFETY: the pixels and the output array are valid for the call's
        // duration, with the lengths passed; the callback's contract says
        // it writes at most `capacity` regions.
        let n = unsafe {
            (self.detect)(
                self.user_data,
                probe.pixels.as_ptr(),
                probe.width,
                probe.height,
                probe.bands,
                out.as_mut_ptr(),
                out.len(),
            )
        };
        if n < 0 {
            return Err(imagor::Error::Detector(format!(
                "detector callback failed ({n})"
            )));
        }
        let n = n as usize;
        if n > out.len() {
            return Err(imagor::Error::Detector(format!(
                "detector callback returned {n} regions, more than the capacity {MAX_REGIONS}"
            )));
        }
        Ok(out[..n]
            .iter()
            .map(|r| {
                let name = if r.name.is_null() {
                    String::new()
                } else {
                    // SAFETY: a NUL-terminated string the callback wrote,
                    // valid until it returns (read right after it did,
                    // before anything else runs on this thread).
                    unsafe { CStr::from_ptr(r.name) }
                        .to_string_lossy()
                        .into_owned()
                };
                Region::new(r.left, r.top, r.right, r.bottom)
                    .with_score(r.score)
                    .with_name(name)
            })
            .collect())
    }

    fn shutdown(&self) -> imagor::Result<()> {
        if let Some(release) = self.release {
            // SAFETY: the caller's release callback, called once with its
            // own pointer, when the last handle using it is freed.
            unsafe { release(self.user_data) };
        }
        Ok(())
    }
}

/// Create an imagor configured by `options_json` (as imagor_new()) with
/// `count` region detectors. Their regions steer `smart` crop, the
/// `redact()`, `redact_oval()` and `draw_detections()` filters and
/// `detected_regions` in `/meta`. Bad regions (NaN, inverted boxes, more
/// than the capacity) or a negative return make the call that asked for
/// detection fail with ::IMAGOR_STATUS_DETECTOR.
///
/// @param options_json JSON object text, or `""` for imagor's defaults.
/// @param detectors `count` detectors (copied; the array may be freed after
///        the call). Each `detect` is called from the threads that process
///        images, possibly at once; `user_data` must be safe for that.
/// @param count Number of detectors (0 is allowed; then `detectors` may be NULL).
/// @param out On success, the new handle; release it with imagor_free(),
///        which calls each detector's `release`.
/// @return ::IMAGOR_STATUS_OK, ::IMAGOR_STATUS_INVALID for bad options or
///         a `count` no array could hold (`SIZE_MAX`),
///         ::IMAGOR_STATUS_NULL_ARGUMENT for a NULL `detect`.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `detectors` is NULL
/// or valid for reading `count` entries; `out` is NULL or valid for
/// writing a pointer.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn imagor_new_with_detectors(
    options_json: *const c_char,
    detectors: *const imagor_detector,
    count: usize,
    out: *mut *mut Handle,
) -> imagor_status {
    ffi_call(|| {
        // SAFETY: forwarded from this function's contract.
        let json = unsafe { str_arg(options_json, "options_json") }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { Out::new(out, "out") }?;
        let list: &[imagor_detector] = if count == 0 {
            &[]
        } else if detectors.is_null() {
            return Err(Failure::NullArgument("detectors"));
        } else if count > isize::MAX as usize / std::mem::size_of::<imagor_detector>() {
            // No array of that many entries can exist: the count is wrong,
            // and a slice of it would be undefined behaviour.
            return Err(imagor::Error::invalid_msg(format!(
                "count: {count} detectors cannot fit in memory"
            ))
            .into());
        } else {
            // SAFETY: `count` readable entries, by the caller's contract.
            unsafe { std::slice::from_raw_parts(detectors, count) }
        };
        let mut wrapped = Vec::with_capacity(list.len());
        for d in list {
            let detect = d
                .detect
                .ok_or(Failure::NullArgument("detectors[].detect"))?;
            wrapped.push(CDetector {
                detect,
                user_data: d.user_data,
                release: d.release,
            });
        }
        let options = imagor::Options::from_json(json)?;
        let mut inner = imagor::Imagor::new(options)?;
        for d in wrapped {
            inner = inner.with_detector(std::sync::Arc::new(d))?;
        }
        out.write(Handle::boxed(inner));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    unsafe extern "C" fn none(
        _: *mut c_void,
        _: *const u8,
        _: u32,
        _: u32,
        _: u32,
        _: *mut imagor_region,
        _: usize,
    ) -> c_int {
        0
    }

    #[test]
    fn a_count_no_array_can_hold_is_refused_before_it_is_read() {
        let d = imagor_detector {
            detect: Some(none),
            user_data: ptr::null_mut(),
            release: None,
        };
        let sentinel = ptr::dangling_mut::<Handle>();
        let mut im = sentinel;
        for count in [usize::MAX, isize::MAX as usize] {
            // SAFETY: the count is refused before the array is read.
            let s = unsafe { imagor_new_with_detectors(c"".as_ptr(), &d, count, &mut im) };
            assert_eq!(s, imagor_status::Invalid);
        }
        assert_eq!(im, sentinel);
        // SAFETY: one valid entry; the handle is freed once.
        unsafe {
            assert_eq!(
                imagor_new_with_detectors(c"".as_ptr(), &d, 1, &mut im),
                imagor_status::Ok
            );
            crate::handle::imagor_free(im);
        }
    }
}
