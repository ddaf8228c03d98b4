//! C ABI for imagor-rs. (Being written: see issue 5.)
