//! The panic boundary only works when panics unwind: with
//! `panic = "abort"` a panic inside libimagor would kill the host process
//! instead of returning `IMAGOR_STATUS_PANIC`. The libraries are built with
//! the workspace's release profile (and `bench` inherits it), so check that
//! no profile there aborts, and that release says `unwind` explicitly; and
//! that the crate has one `catch_unwind`, which every export goes through.

use std::path::PathBuf;

fn workspace_manifest() -> toml::Table {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let text = std::fs::read_to_string(&file).expect("read the workspace Cargo.toml");
    text.parse()
        .expect("the workspace Cargo.toml is valid TOML")
}

#[test]
fn release_profile_unwinds() {
    let manifest = workspace_manifest();
    let profiles = manifest
        .get("profile")
        .and_then(toml::Value::as_table)
        .expect("the workspace Cargo.toml has [profile.*] sections");
    let release_panic = profiles
        .get("release")
        .and_then(|p| p.get("panic"))
        .and_then(toml::Value::as_str);
    assert_eq!(
        release_panic,
        Some("unwind"),
        "[profile.release] must say panic = \"unwind\" (libimagor catches panics)"
    );
    for (name, profile) in profiles {
        let panic = profile.get("panic").and_then(toml::Value::as_str);
        assert_ne!(
            panic,
            Some("abort"),
            "[profile.{name}] sets panic = \"abort\""
        );
    }
}

/// The strategy this test was built with (the test profile, which the
/// release profile's `panic` must agree with for the check above to mean
/// anything at run time).
const UNWINDS: bool = cfg!(panic = "unwind");

#[test]
fn this_build_unwinds() {
    let unwinds = UNWINDS;
    assert!(unwinds);
}

/// The source of every module of the crate, with comment lines dropped.
fn sources() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("read ffi/src")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read a module");
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            (p.display().to_string(), code.join("\n"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn there_is_one_catch_unwind_and_every_export_goes_through_it() {
    let files = sources();
    let catches: Vec<&str> = files
        .iter()
        .filter(|(_, code)| code.contains("catch_unwind("))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(catches.len(), 1, "catch_unwind in {catches:?}");
    assert!(catches[0].ends_with("boundary.rs"));
    let mut exports = 0;
    for (name, code) in &files {
        // Exports are `#[no_mangle]`; an `extern "C" fn` without it (a
        // callback in a unit test) is not one.
        for (m, _) in code.match_indices("#[no_mangle]\n") {
            let Some(i) = code[m..].find("extern \"C\" fn ").map(|i| m + i) else {
                continue;
            };
            exports += 1;
            let rest = &code[i..];
            let fn_name = rest["extern \"C\" fn ".len()..]
                .split('(')
                .next()
                .unwrap_or_default();
            let body = rest
                .find("{\n")
                .map(|b| rest[b + 1..].trim_start())
                .unwrap_or_default();
            assert!(
                body.starts_with("ffi_call(")
                    || body.starts_with("ffi_boundary(")
                    || body.starts_with("boundary::ffi_boundary("),
                "{name}: {fn_name} does not start with the panic boundary"
            );
        }
    }
    assert_eq!(exports, 19, "exported functions");
}
