//! Test-only hooks (feature `leak-hook`, never in a release build): a
//! switch that makes every call leak one libvips image and one 64 KiB
//! blob, so the leak test can prove that it notices a leak; and a record
//! of the decoder calls made, so a test can see how a source was read
//! without timing it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// One call of a libvips loader on a whole encoded source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadRecord {
    /// The source's length in bytes (tests tell their sources apart by it).
    pub input_len: usize,
    /// The frames asked for (`n`; 0: the loader's default, one).
    pub frames: i32,
    /// Read once, top to bottom (`access=sequential`).
    pub sequential: bool,
}

static LOADS: Mutex<Vec<LoadRecord>> = Mutex::new(Vec::new());

/// Called at each loader call on an encoded source.
pub(crate) fn note_load(record: LoadRecord) {
    let mut loads = LOADS.lock().unwrap_or_else(|e| e.into_inner());
    // Bounded: only the latest calls matter to a test.
    if loads.len() >= 4096 {
        loads.drain(..2048);
    }
    loads.push(record);
}

/// Take the recorded loader calls on a source of `input_len` bytes (the
/// others stay for the tests they belong to).
pub fn take_loads_of(input_len: usize) -> Vec<LoadRecord> {
    let mut loads = LOADS.lock().unwrap_or_else(|e| e.into_inner());
    let (mine, others) = loads.drain(..).partition(|r| r.input_len == input_len);
    *loads = others;
    mine
}

static LEAK: AtomicBool = AtomicBool::new(false);

/// Make every following `process`/`meta`/`serve` call leak (or stop).
pub fn leak_every_call(on: bool) {
    LEAK.store(on, Ordering::SeqCst);
}

/// Called at the end of each call: leak when switched on.
pub(crate) fn maybe_leak() {
    if LEAK.load(Ordering::SeqCst) {
        if let Ok(img) = crate::vips::Image::black(8, 8, 3) {
            std::mem::forget(img);
        }
        std::mem::forget(crate::vips::Blob::copy_from(&[7u8; 64 * 1024]));
    }
}
