//! Leaf image helpers on top of [`crate::vips`], shared by the filters and
//! the processing pipeline so that neither has to import the other.
//!
//! Nothing here knows about filters or the pipeline: [`color`] reads
//! imagor's colours and makes `color:` images, [`multipage`] applies
//! geometry (and rotation) to every frame of an animation, [`trim`] finds
//! the border `trim` cuts, and [`limits`] refuses images over the
//! resolution limits. [`keep_alive`] bounds how deep libvips releases and
//! renders a long chain of operations.

pub(crate) mod color;
pub(crate) mod keep_alive;
pub(crate) mod limits;
pub(crate) mod multipage;
pub(crate) mod trim;
