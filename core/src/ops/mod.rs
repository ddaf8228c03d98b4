//! Leaf image helpers on top of [`crate::vips`], shared by the filters and
//! the processing pipeline so that neither has to import the other.
//!
//! Nothing here knows about filters or the pipeline: [`color`] reads
//! imagor's colours and makes `color:` images, [`multipage`] applies
//! geometry to every frame of an animation.

pub(crate) mod color;
pub(crate) mod multipage;
