//! Locate libvips (>= 8.12) with pkg-config and link it.
//!
//! Nothing is generated: the few C declarations we need are written by hand in
//! `src/vips/sys.rs`. This script only tells cargo where the library lives.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    match pkg_config::Config::new()
        .atleast_version("8.12")
        .probe("vips")
    {
        Ok(lib) => {
            let version = lib.version;
            println!("cargo:rustc-env=IMAGOR_VIPS_BUILD_VERSION={version}");
        }
        Err(err) => {
            panic!(
                "libvips >= 8.12 was not found by pkg-config ({err}).\n\
                 Install it first, e.g. `apt-get install libvips-dev pkg-config` \
                 (or run `make test`, which installs what is missing)."
            );
        }
    }
}
