//! Node.js bindings for imagor-rs. (Being written: see issue 7.)
