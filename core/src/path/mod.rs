//! imagor's URL grammar. (Being written: see issue 2.)
