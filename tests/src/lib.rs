//! Test-only package: see the `[[test]]` targets in Cargo.toml. The library
//! holds what several targets (and the cross-language runners) share: the
//! hostile corpus ([`hostile`]).

pub mod hostile;
