//! Undoing the filters of inflated PNG rows in place (`png_rows.c`), for
//! [`crate::processor`]'s PNG decoding: compiled optimised in every build
//! profile, asking the call's deadline every MiB.

use std::os::raw::c_int;

use super::deadline;
use crate::error::{Error, Result};

const OK: c_int = 0;
const BAD_FILTER: c_int = 1;

extern "C" {
    fn imagor_png_unfilter(
        rows: *mut u8,
        height: usize,
        stride: usize,
        bpp: c_int,
        zeros: *const u8,
        stop: extern "C" fn() -> c_int,
    ) -> c_int;
}

/// Undo the filter of each row of `rows` (a filter byte, then `stride`
/// bytes of samples, `bpp` of them a pixel) and pack the rows, without
/// their filter bytes, to the front of `rows`. `Ok(false)`: a row names no
/// filter (the front rows are then partly done). `Err`: the deadline
/// passed.
pub(crate) fn unfilter(rows: &mut [u8], stride: usize, bpp: usize) -> Result<bool> {
    let line = stride.checked_add(1).ok_or_else(Error::internal)?;
    if !(1..=4).contains(&bpp) || !stride.is_multiple_of(bpp) || !rows.len().is_multiple_of(line) {
        return Err(Error::internal());
    }
    let zeros = vec![0u8; stride];
    // SAFETY: `rows` holds `len / line` whole rows of `line` bytes, which
    // the C side reads and writes only within; `zeros` is `stride` bytes;
    // `bpp` is 1 to 4 and divides `stride`; the hook does not unwind.
    let outcome = unsafe {
        imagor_png_unfilter(
            rows.as_mut_ptr(),
            rows.len() / line,
            stride,
            bpp as c_int,
            zeros.as_ptr(),
            deadline::passed_for_c,
        )
    };
    match outcome {
        OK => Ok(true),
        BAD_FILTER => Ok(false),
        _ => Err(deadline::fired().unwrap_or_else(Error::internal)),
    }
}
