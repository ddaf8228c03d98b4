//! Test-only hooks (feature `leak-hook`, never in a release build): a
//! switch that makes every call leak one libvips image and one 64 KiB
//! blob, so the leak test can prove that it notices a leak.

use std::sync::atomic::{AtomicBool, Ordering};

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
