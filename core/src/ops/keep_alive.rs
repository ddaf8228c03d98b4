//! [`KeepAlive`]: holding a pipeline's intermediate images so libvips
//! releases and renders them in bounded depth; the pipeline owns one per
//! level and `image()` overlays hand theirs to the parent.

use super::limits::check_resolution;
use crate::budget::Budget;
use crate::error::Result;
use crate::ops::limits::image_bytes;
use crate::options::Options;
use crate::vips::Image;

/// References to every intermediate image of a pipeline (nested overlays
/// included), released newest first once the result is no longer needed.
///
/// libvips releases a chain of operations recursively when its last image is
/// released, and renders it recursively too: a long filter chain (`hue(1)` a
/// few hundred times) would overflow a thread's stack. Holding each
/// filter's output and releasing them newest first bounds every release to
/// the operations of one filter; every [`KeepAlive::CUT_EVERY`] filters the
/// image is rendered to memory ([`KeepAlive::cut`]), which bounds the
/// rendering depth. Paths with fewer filters never pay for a cut.
///
/// Filters that read their input more than once or through a wide window
/// (`sharpen`, `fill(blur)`) count for several ([`KeepAlive::deepen`]):
/// libvips computes a lazy chain on demand and keeps nothing between
/// operations, so each such filter multiplies the work of everything
/// before it (sixteen `fill(blur)` on a 200x200 image took 10 s), and a
/// deep chain takes long to tear down even once killed.
#[derive(Default)]
pub(crate) struct KeepAlive {
    images: Vec<Image>,
    since_cut: usize,
    /// Bytes charged for the last cut, released when the next cut frees it.
    held: u64,
}

impl KeepAlive {
    /// Filters of one pipeline level between two cuts.
    pub(crate) const CUT_EVERY: usize = 32;

    /// Hold a reference to the output of one filter.
    pub(crate) fn push(&mut self, img: &Image) {
        self.images.push(img.clone());
        self.since_cut += 1;
    }

    /// The last filter counts as `extra` more towards the next cut.
    pub(crate) fn deepen(&mut self, extra: usize) {
        self.since_cut = self.since_cut.saturating_add(extra);
    }

    /// Take over the references of a nested pipeline.
    pub(crate) fn append(&mut self, mut other: KeepAlive) {
        self.images.append(&mut other.images);
    }

    /// After [`KeepAlive::CUT_EVERY`] filters, render `img` to memory (within
    /// the resolution limits, else 422 as export would answer, and within
    /// the call's memory budget) and release the chain behind it.
    pub(crate) fn cut(&mut self, img: Image, opts: &Options, budget: &Budget) -> Result<Image> {
        if self.since_cut < Self::CUT_EVERY {
            return Ok(img);
        }
        check_resolution(&img, opts)?;
        let bytes = image_bytes(&img);
        budget.charge_memory("holding the filtered image in memory", bytes)?;
        let cut = img.copy_memory()?;
        drop(img);
        self.release();
        // The previous cut was part of the chain just released.
        budget.release_memory(std::mem::replace(&mut self.held, bytes));
        self.push(&cut);
        self.since_cut = 0;
        Ok(cut)
    }

    fn release(&mut self) {
        while let Some(img) = self.images.pop() {
            drop(img);
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.release();
    }
}
