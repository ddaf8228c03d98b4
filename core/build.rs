//! Locate libvips (>= 8.12) and link it.
//!
//! Nothing is generated: the few C declarations we need are written by hand in
//! `src/vips/sys.rs`. This script only tells cargo which library to link:
//!
//! - by default the system libvips, found with pkg-config (`vips.pc` also
//!   names GObject and GLib);
//! - with `IMAGOR_VIPS_LIB_DIR=DIR`, a prebuilt libvips that carries GLib and
//!   its codecs inside one shared library, such as the `lib/` directory of
//!   npm's `@img/sharp-libvips-linux-x64` (`libvips-cpp.so.8.18.7`). The exact
//!   file name is linked (`+verbatim`), so the binary needs that soname at run
//!   time; `IMAGOR_VIPS_LIB_NAME` picks the file when the directory holds
//!   several. No headers are needed.
//!
//! Dependents (`links = "vips"`) see `DEP_VIPS_BUNDLED=1`,
//! `DEP_VIPS_LIB_DIR` and `DEP_VIPS_LIB_NAME` for the prebuilt flavour, so a
//! binding can set its run-time search path.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=IMAGOR_VIPS_LIB_DIR");
    println!("cargo:rerun-if-env-changed=IMAGOR_VIPS_LIB_NAME");
    // `imagor_prebuilt_vips`: linked against a prebuilt libvips (the
    // packages' flavour); tests that pin that library's behaviour use it.
    println!("cargo:rustc-check-cfg=cfg(imagor_prebuilt_vips)");
    match std::env::var_os("IMAGOR_VIPS_LIB_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            println!("cargo:rustc-cfg=imagor_prebuilt_vips");
            prebuilt(Path::new(&dir))
        }
        None => system(),
    }
    keep_static_libraries_private();
    if std::env::var_os("CARGO_FEATURE_OWN_JPEG").is_some() {
        own_jpeg_shim();
    }
    png_rows();
}

/// The C side of `src/vips/png_rows.rs`, optimised whatever the profile:
/// tests run PNG decoding through unoptimised builds under time budgets.
fn png_rows() {
    println!("cargo:rerun-if-changed=src/vips/png_rows.c");
    cc::Build::new()
        .file("src/vips/png_rows.c")
        .opt_level(3)
        .warnings(true)
        .compile("imagor_png_rows");
}

/// Feature `own-jpeg`: the C side of `src/vips/jpeg.rs`, compiled against
/// the headers of mozjpeg-sys (`links = "jpeg"`, which exports its include
/// directories as `DEP_JPEG_INCLUDE`).
fn own_jpeg_shim() {
    println!("cargo:rerun-if-changed=src/vips/jpeg.c");
    let include = std::env::var_os("DEP_JPEG_INCLUDE")
        .expect("mozjpeg-sys exports DEP_JPEG_INCLUDE (feature own-jpeg)");
    let mut build = cc::Build::new();
    for dir in std::env::split_paths(&include) {
        build.include(dir);
    }
    build
        .file("src/vips/jpeg.c")
        .warnings(true)
        .compile("imagor_jpeg_shim");
}

/// Our executables export nothing from the static libraries linked into
/// them. Without this, the linker exports the symbols of our own libwebp
/// (libwebp-sys) because the system libvips refers to libwebp's, and
/// libvips would then call our copy instead of the libwebp it was built
/// with. (A cdylib already exports only its own Rust API.)
fn keep_static_libraries_private() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // Every linked target of this package (binaries, tests, the lib's
        // unit tests, examples, benches); it has no cdylib.
        println!("cargo:rustc-link-arg=-Wl,--exclude-libs,ALL");
    }
}

/// The system libvips through pkg-config.
fn system() {
    match pkg_config::Config::new()
        .atleast_version("8.12")
        .probe("vips")
    {
        Ok(lib) => {
            let version = lib.version;
            println!("cargo:rustc-env=IMAGOR_VIPS_BUILD_VERSION={version}");
            println!("cargo:rustc-env=IMAGOR_VIPS_FLAVOUR=system");
        }
        Err(err) => {
            panic!(
                "libvips >= 8.12 was not found by pkg-config ({err}).\n\
                 Install it first, e.g. `apt-get install libvips-dev pkg-config` \
                 (or run `make test`, which installs what is missing), or point \
                 IMAGOR_VIPS_LIB_DIR at a prebuilt libvips (see core/build.rs)."
            );
        }
    }
}

/// A prebuilt single-file libvips in `dir`.
fn prebuilt(dir: &Path) {
    let dir = dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("IMAGOR_VIPS_LIB_DIR={}: {e}", dir.display()));
    let name = match std::env::var("IMAGOR_VIPS_LIB_NAME") {
        Ok(name) if !name.is_empty() => name,
        _ => find_library(&dir),
    };
    let file: PathBuf = dir.join(&name);
    assert!(
        file.is_file(),
        "IMAGOR_VIPS_LIB_DIR: {} is not a file",
        file.display()
    );
    // `libvips-cpp.so.8.18.7` -> `8.18.7`.
    let version = name
        .split_once(".so.")
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rerun-if-changed={}", file.display());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib:+verbatim={name}");
    println!("cargo:rustc-env=IMAGOR_VIPS_BUILD_VERSION={version}");
    println!("cargo:rustc-env=IMAGOR_VIPS_FLAVOUR=bundled");
    println!("cargo:bundled=1");
    println!("cargo:lib_dir={}", dir.display());
    println!("cargo:lib_name={name}");
}

/// The one `libvips*.so.X.Y.Z` file in `dir` (the full version, not a
/// symlink's shorter name).
fn find_library(dir: &Path) -> String {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("IMAGOR_VIPS_LIB_DIR={}: {e}", dir.display()));
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libvips") && n.contains(".so.") && n.matches('.').count() >= 4)
        .collect();
    found.sort();
    match found.as_slice() {
        [one] => one.clone(),
        [] => panic!(
            "IMAGOR_VIPS_LIB_DIR={}: no libvips*.so.X.Y.Z in it",
            dir.display()
        ),
        many => panic!(
            "IMAGOR_VIPS_LIB_DIR={}: several libraries ({}); set IMAGOR_VIPS_LIB_NAME",
            dir.display(),
            many.join(", ")
        ),
    }
}
