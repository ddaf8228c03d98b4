// Included by bindings/python/build.rs and bindings/node/build.rs: make the
// extension module export its host's entry point only.
//
// A cdylib exports every `#[no_mangle]` function of its dependencies: crc-fast
// (behind object_store) put 26 `crc_fast_*` in the dynamic symbols of the
// Python module and the Node addon, outside any API of ours and free to
// interpose on another library of the same names loaded in the same
// process. libimagor.so (ffi/build.rs) drops them with `--exclude-libs,ALL`;
// how to do it here depends on the linker (measured on rustc 1.95 with
// rust-lld 22, GNU ld 2.40 and cargo-zigbuild 0.24 / zig 0.17):
//
// - `--exclude-libs,ALL` hides every symbol defined in an archive, and every
//   Rust dependency is one (an rlib), whatever rustc's own version script
//   lists. Right for Python, whose `PyInit_` is this crate's own; not for
//   Node, whose `napi_register_module_v1` is defined by the `napi` crate.
//   zig's linker refuses the option.
// - A version script of ours comes after rustc's (which lists every
//   `#[no_mangle]` of the dependencies as global). lld assigns names given
//   exactly as `local:` before any `global:`, so listing the strays hides
//   them (a wildcard does not: rustc's exact names win). zig passes only the
//   last version script to its linker, so ours must then say everything.
//   GNU ld refuses a second anonymous version script.
//
// The bindings' tests list the dynamic symbols of the built module and fail
// on anything but the entry point, so a new or renamed stray is seen at
// once (the script names them with `--undefined-version`, so a name that is
// gone does not fail the link).

/// The `#[no_mangle]` functions of dependencies a Node addon would export
/// (crc-fast's `ffi` feature, a default one object_store keeps on).
const STRAYS: &[&str] = &[
    "crc_fast_checksum",
    "crc_fast_checksum_combine",
    "crc_fast_checksum_combine_with_params",
    "crc_fast_checksum_file",
    "crc_fast_checksum_file_with_params",
    "crc_fast_checksum_with_params",
    "crc_fast_clear_error",
    "crc_fast_crc32_iscsi",
    "crc_fast_crc32_iso_hdlc",
    "crc_fast_crc64_nvme",
    "crc_fast_digest_combine",
    "crc_fast_digest_finalize",
    "crc_fast_digest_finalize_reset",
    "crc_fast_digest_free",
    "crc_fast_digest_get_amount",
    "crc_fast_digest_get_state",
    "crc_fast_digest_new",
    "crc_fast_digest_new_with_init_state",
    "crc_fast_digest_new_with_params",
    "crc_fast_digest_reset",
    "crc_fast_digest_update",
    "crc_fast_error_message",
    "crc_fast_get_calculator_target",
    "crc_fast_get_custom_params",
    "crc_fast_get_last_error",
    "crc_fast_get_version",
];

/// The linker the cdylib is linked with, as far as it matters here.
enum Linker {
    /// `zig cc` (cargo-zigbuild's wrappers, packaging/build.sh).
    Zig,
    /// rust-lld, rustc's default on x86_64-unknown-linux-gnu since 1.90.
    Lld,
    /// A system lld asked for with `-fuse-ld=lld`.
    SystemLld,
    /// The C compiler's default linker (GNU ld).
    Other,
}

fn linker() -> Linker {
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // The linker cargo was told of, or one given to rustc as `-C linker=`.
    let named = std::env::var("RUSTC_LINKER").unwrap_or_default();
    let in_flags = flags
        .split('\x1f')
        .filter_map(|f| f.strip_prefix("linker=").or_else(|| f.strip_prefix("-Clinker=")))
        .next_back()
        .unwrap_or_default();
    for linker in [named.as_str(), in_flags] {
        if linker.rsplit('/').next().unwrap_or_default().contains("zig") {
            return Linker::Zig;
        }
    }
    if flags.contains("-fuse-ld=lld") {
        // A system lld, of any version: `--undefined-version` is lld 16's.
        return Linker::SystemLld;
    }
    if flags.contains("-fuse-ld=")
        || flags.contains("linker-features=-lld")
        || flags.contains("link-self-contained=-linker")
    {
        return Linker::Other;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let minor = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .nth(1)?
                .split('.')
                .nth(1)?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    if target == "x86_64-unknown-linux-gnu" && minor >= 90 {
        Linker::Lld
    } else {
        Linker::Other
    }
}

/// Export `entry` only from the cdylib (on ELF targets); `own`: it is this
/// crate's own function, not a dependency's.
fn export_only(entry: &str, own: bool) {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" && os != "android" && !os.ends_with("bsd") {
        return;
    }
    let linker = linker();
    let strays = match linker {
        Linker::Other | Linker::Lld | Linker::SystemLld if own => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
            return;
        }
        Linker::Other => {
            println!(
                "cargo:warning=this linker (GNU ld?) cannot hide the dependencies' C exports \
                 from {entry}'s module; rust-lld (rustc >= 1.90) or zig can"
            );
            return;
        }
        Linker::Lld | Linker::SystemLld => STRAYS,
        Linker::Zig => &[],
    };
    let mut script = format!("{{\n  global: {entry};\n  local:\n");
    for name in strays {
        script.push_str(&format!("    {name};\n"));
    }
    script.push_str("    *;\n};\n");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let path = out.join("exports.map");
    std::fs::write(&path, script).expect("write exports.map");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        path.display()
    );
    if matches!(linker, Linker::Lld) {
        // rust-lld (lld 16 and later) refuses a script naming a symbol that
        // is not defined: a crc-fast release that renames one must not
        // break the build (the exports test still sees a new stray). Not
        // given to a system lld, which may predate the option.
        println!("cargo:rustc-cdylib-link-arg=-Wl,--undefined-version");
    }
}
