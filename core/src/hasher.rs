//! Storage key styles. (Being written: see issue 2.)
