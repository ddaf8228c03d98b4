//! The extension module exports `PyInit__imagor` only (`../exports.rs`).
include!("../exports.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../exports.rs");
    export_only("PyInit__imagor", true);
}
