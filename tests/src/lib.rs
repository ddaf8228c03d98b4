//! Test-only package: see the `[[test]]` targets in Cargo.toml.
