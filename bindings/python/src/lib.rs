//! Python bindings for imagor-rs. (Being written: see issue 6.)
