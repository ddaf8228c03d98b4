//! napi-rs link setup (platform linker flags for Node addons), and, when the
//! core links a prebuilt libvips (`IMAGOR_VIPS_LIB_DIR`, see core/build.rs),
//! the run-time search path to npm's `@img/sharp-libvips-<platform>` package
//! that the platform package `imagor-<triple>` depends on.
//!
//! The addon sits at `node_modules/imagor-<triple>/imagor.<triple>.node`; the
//! paths cover the layouts sharp's own addon supports: flat npm and pnpm
//! (a sibling), nested under our package, our package nested under `imagor`
//! with the library hoisted, and Yarn PnP's unplugged folder. DT_RPATH (not
//! RUNPATH, `--disable-new-dtags`) so that it applies however Node opens us.
//!
//! It also makes the addon export `napi_register_module_v1` only
//! (`../exports.rs`).
include!("../exports.rs");

fn main() {
    napi_build::setup();
    export_only("napi_register_module_v1", false);
    println!("cargo:rerun-if-env-changed=DEP_VIPS_BUNDLED");
    if std::env::var_os("DEP_VIPS_BUNDLED").is_none() {
        return;
    }
    // Yarn's unplugged folder names the libvips package's version and a
    // hash (packaging/libvips.env has both).
    let npm_version = std::env::var("IMAGOR_SHARP_LIBVIPS_VERSION").unwrap_or_default();
    println!("cargo:rerun-if-env-changed=IMAGOR_SHARP_LIBVIPS_VERSION");
    let pkg = "@img/sharp-libvips-linux-x64/lib";
    let mut rpath = vec![
        format!("$ORIGIN/../{pkg}"),
        format!("$ORIGIN/node_modules/{pkg}"),
        format!("$ORIGIN/../../../{pkg}"),
    ];
    if let Ok(hash) = std::env::var("IMAGOR_SHARP_LIBVIPS_YARN_HASH") {
        rpath.push(format!(
            "$ORIGIN/../../../@img-sharp-libvips-linux-x64-npm-{npm_version}-{hash}/node_modules/{pkg}"
        ));
    }
    println!("cargo:rerun-if-env-changed=IMAGOR_SHARP_LIBVIPS_YARN_HASH");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--disable-new-dtags,-rpath,{}",
        rpath.join(":")
    );
}
