//! The `imagor` command line. (Being written: see issue 2.)
fn main() {}
