//! `/meta` conformance: every public case of `testdata/vectors/meta.json`.
//!
//! - `golden_meta`: the JSON answer of `unsafe/meta/...`; fields listed in
//!   `compare_exact` must be equal, `exif` is a subset-optional check (see
//!   `common::check_meta`);
//! - `assertions`: property checks (`expect_present`, `expect_absent`,
//!   `expect_average_color_gray`, `expect_std_base64`,
//!   `expect_deterministic`, `paths_differ`, `expect_detected_region_names`,
//!   `expect_detected_region_count`); `config.detectors` are imagor's stub
//!   detectors, fixed regions added with `Imagor::with_detector`;
//! - `blob_types`: content sniffing through `imagor::format::sniff`.
//!
//! Every case of a set is run and printed before the set's test fails.
//! Run: `cargo test -p imagor-tests --test meta -- --nocapture`.

mod common;

use imagor::{Imagor, Options};
use serde_json::Value;

fn imagor() -> Imagor {
    Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: common::testdata().to_string_lossy().into_owned(),
        // imagor's configuration: it loads JPEG 2000 and PDF, which we
        // refuse by default as libvips flags their loaders untrusted.
        block_untrusted_loaders: false,
        // Conformance, not the budget: a debug build on a busy 2-core
        // machine may take longer than the default 2 s on large goldens.
        process_timeout: std::time::Duration::from_secs(60),
        ..Options::default()
    })
    .expect("Imagor::new with the file loader on testdata/")
}

fn cases(section: &str) -> Vec<Value> {
    let v = common::read_json("vectors/meta.json");
    v.get(section)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("meta.json has no `{section}` array"))
        .clone()
}

fn id(case: &Value) -> &str {
    case.get("id").and_then(Value::as_str).unwrap_or("(no id)")
}

/// `GET /unsafe/<path>` where `path` starts with `meta/`: the parsed JSON.
fn meta(imagor: &Imagor, path: &str) -> Result<Value, String> {
    let out = imagor
        .serve(&format!("unsafe/{path}"))
        .map_err(|e| format!("error {} {}: {}", e.status(), e.code(), e.message()))?;
    if out.content_type != "application/json" {
        return Err(format!("content type {:?}", out.content_type));
    }
    serde_json::from_slice(&out.data).map_err(|e| {
        format!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&out.data[..out.data.len().min(200)])
        )
    })
}

fn strings<'a>(case: &'a Value, key: &str) -> Vec<&'a str> {
    case.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Print every outcome, then fail with the list of failures.
fn report(set: &str, results: &[(String, Result<String, String>)]) {
    let mut failures = Vec::new();
    for (id, r) in results {
        match r {
            Ok(note) => println!("PASS {id} {note}"),
            Err(why) => {
                println!("FAIL {id} {why}");
                failures.push(format!("{id}: {why}"));
            }
        }
    }
    println!(
        "{set}: {} passed, {} failed",
        results.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{set} failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn golden_meta() {
    let imagor = imagor();
    let mut results = Vec::new();
    for case in cases("golden_meta") {
        let path = case["path"].as_str().expect("golden_meta case has a path");
        let exact = strings(&case, "compare_exact");
        let exif_mode = case
            .get("compare_exif")
            .and_then(Value::as_str)
            .unwrap_or("subset-optional");
        let r = meta(&imagor, path).and_then(|got| {
            let errors = common::check_meta(&got, &case["expect"], &exact, exif_mode);
            if errors.is_empty() {
                Ok(path.to_owned())
            } else {
                Err(format!("{path}: {}", errors.join("; ")))
            }
        });
        results.push((id(&case).to_owned(), r));
    }
    report("golden_meta", &results);
}

/// Assertion keys this test knows; an unknown one fails the case so that a
/// new kind of expectation is never silently ignored.
const ASSERTION_KEYS: &[&str] = &[
    "id",
    "path",
    "config",
    "group",
    "origin",
    "note",
    "name",
    "expect_present",
    "expect_absent",
    "expect_detected_region_names",
    "expect_detected_region_count",
    "expect_average_color_gray",
    "expect_std_base64",
    "expect_deterministic",
    "paths_differ",
    "field",
];

fn is_std_base64(s: &str) -> bool {
    !s.is_empty()
        && s.len().is_multiple_of(4)
        && s.trim_end_matches('=').len() + 2 >= s.len()
        && s.trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// r, g, b of an `average_color` value: `{"r":..,"g":..,"b":..}` (any key
/// case), `[r, g, b, ...]` or `"#rrggbb"`.
fn rgb_of(v: &Value) -> Option<[f64; 3]> {
    match v {
        Value::Object(o) => {
            let get = |k: &str| {
                o.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(k))
                    .and_then(|(_, v)| v.as_f64())
            };
            Some([get("r")?, get("g")?, get("b")?])
        }
        Value::Array(a) if a.len() >= 3 => Some([a[0].as_f64()?, a[1].as_f64()?, a[2].as_f64()?]),
        Value::String(s) => {
            let hex = s.trim_start_matches('#');
            if hex.len() < 6 {
                return None;
            }
            let c = |i: usize| {
                u8::from_str_radix(hex.get(i..i + 2)?, 16)
                    .ok()
                    .map(f64::from)
            };
            Some([c(0)?, c(2)?, c(4)?])
        }
        _ => None,
    }
}

fn check_assertion(imagor: &Imagor, case: &Value) -> Result<String, String> {
    if let Some(o) = case.as_object() {
        let unknown: Vec<&String> = o
            .keys()
            .filter(|k| !ASSERTION_KEYS.contains(&k.as_str()))
            .collect();
        if !unknown.is_empty() {
            return Err(format!("unknown assertion keys {unknown:?}"));
        }
    }
    if let Some(c) = case.get("config").and_then(Value::as_object) {
        if let Some(k) = c.keys().find(|k| *k != "detectors") {
            return Err(format!("unsupported config key {k}"));
        }
    }
    let with_detectors;
    let imagor = match case.get("config").and_then(|c| c.get("detectors")) {
        Some(d) => {
            with_detectors = common::with_stub_detectors(imagor.clone(), Some(d))?;
            &with_detectors
        }
        None => imagor,
    };
    let paths = strings(case, "paths_differ");
    if !paths.is_empty() {
        let field = case["field"].as_str().ok_or("paths_differ without field")?;
        let values = paths
            .iter()
            .map(|p| {
                let got = meta(imagor, p)?;
                got.get(field)
                    .cloned()
                    .ok_or_else(|| format!("{p}: no {field}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if values.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!("{field} is equal for {paths:?}: {}", values[0]));
        }
        return Ok(format!("{field} differs for {}", paths.join(" / ")));
    }
    let path = case["path"].as_str().ok_or("case without path")?;
    let got = meta(imagor, path)?;
    let mut errors = Vec::new();
    for f in strings(case, "expect_present") {
        match got.get(f) {
            None | Some(Value::Null) => errors.push(format!("{f} absent")),
            Some(Value::String(s)) if s.is_empty() => errors.push(format!("{f} empty")),
            _ => {}
        }
    }
    for f in strings(case, "expect_absent") {
        if got.get(f).is_some_and(|v| !v.is_null()) {
            errors.push(format!("{f} present: {}", got[f]));
        }
    }
    if case["expect_average_color_gray"].as_bool() == Some(true) {
        match got.get("average_color").and_then(rgb_of) {
            Some([r, g, b]) if r == g && g == b => {}
            Some(rgb) => errors.push(format!("average_color not gray: {rgb:?}")),
            None => errors.push(format!(
                "average_color unreadable: {:?}",
                got.get("average_color")
            )),
        }
    }
    for f in strings(case, "expect_std_base64") {
        match got.get(f).and_then(Value::as_str) {
            Some(s) if is_std_base64(s) => {}
            other => errors.push(format!("{f} is not standard base64: {other:?}")),
        }
    }
    let regions = got
        .get("detected_regions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(names) = case.get("expect_detected_region_names") {
        let want: Vec<&str> = names
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let have: Vec<&str> = regions
            .iter()
            .map(|r| r["name"].as_str().unwrap_or(""))
            .collect();
        if have != want {
            errors.push(format!("detected region names {have:?}, want {want:?}"));
        }
    }
    if let Some(n) = case
        .get("expect_detected_region_count")
        .and_then(Value::as_u64)
    {
        if regions.len() as u64 != n {
            errors.push(format!("{} detected regions, want {n}", regions.len()));
        }
    }
    if case["expect_deterministic"].as_bool() == Some(true) {
        let again = meta(imagor, path)?;
        if again != got {
            errors.push(format!("second answer differs: {got} vs {again}"));
        }
    }
    if errors.is_empty() {
        Ok(path.to_owned())
    } else {
        Err(format!("{path}: {}", errors.join("; ")))
    }
}

#[test]
fn assertions() {
    let imagor = imagor();
    let mut results = Vec::new();
    for case in cases("assertions") {
        results.push((id(&case).to_owned(), check_assertion(&imagor, &case)));
    }
    report("assertions", &results);
}

/// The bytes a `blob_types` case describes.
fn blob_bytes(case: &Value) -> Vec<u8> {
    if let Some(file) = case.get("file").and_then(Value::as_str) {
        return common::read_testdata(file);
    }
    if let Some(hex) = case.get("header_hex").and_then(Value::as_str) {
        let mut bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("header_hex is hex"))
            .collect();
        let pad = case.get("padded_to").and_then(Value::as_u64).unwrap_or(0) as usize;
        if bytes.len() < pad {
            bytes.resize(pad, 0);
        }
        return bytes;
    }
    if let Some(s) = case.get("bytes_utf8").and_then(Value::as_str) {
        return s.as_bytes().to_vec();
    }
    panic!("{}: no file, header_hex or bytes_utf8", id(case));
}

#[test]
fn blob_types() {
    let mut results = Vec::new();
    for case in cases("blob_types") {
        let s = imagor::format::sniff(&blob_bytes(&case));
        let mut errors = Vec::new();
        let mut check_str = |key: &str, got: &str| {
            if let Some(want) = case.get(key).and_then(Value::as_str) {
                if got != want {
                    errors.push(format!("{key}: got {got:?}, want {want:?}"));
                }
            }
        };
        check_str("type", s.type_name);
        check_str("content_type", s.content_type);
        check_str("extension", s.extension);
        for (key, got) in [
            ("supports_animation", s.supports_animation),
            ("is_raw", s.is_raw),
        ] {
            if let Some(want) = case.get(key).and_then(Value::as_bool) {
                if got != want {
                    errors.push(format!("{key}: got {got}, want {want}"));
                }
            }
        }
        let r = if errors.is_empty() {
            Ok(s.type_name.to_owned())
        } else {
            Err(errors.join("; "))
        };
        results.push((id(&case).to_owned(), r));
    }
    report("blob_types", &results);
}

/// The checks above must be able to fail: corrupted expectations of the
/// first golden_meta case are rejected.
#[test]
fn corrupted_expectations_fail() {
    let case = cases("golden_meta")
        .into_iter()
        .find(|c| {
            c["expect"]["exif"]
                .as_object()
                .is_some_and(|e| !e.is_empty())
        })
        .expect("a golden_meta case with exif");
    let expect = &case["expect"];
    let exact = strings(&case, "compare_exact");
    assert!(common::check_meta(expect, expect, &exact, "subset-optional").is_empty());

    let mut wrong = expect.clone();
    wrong["width"] = Value::from(expect["width"].as_i64().unwrap_or(0) + 1);
    assert!(!common::check_meta(&wrong, expect, &exact, "subset-optional").is_empty());

    let mut wrong_exif = expect.clone();
    let key = expect["exif"]
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .expect("an exif key");
    wrong_exif["exif"][&key] = Value::from("something else");
    assert!(!common::check_meta(&wrong_exif, expect, &exact, "subset-optional").is_empty());

    let mut missing = expect.clone();
    missing["exif"] = serde_json::json!({});
    assert!(
        common::check_meta(&missing, expect, &exact, "subset-optional").is_empty(),
        "missing exif keys are allowed (subset-optional)"
    );
    let strip = serde_json::json!({"exif": {}});
    assert!(!common::check_meta(expect, &strip, &[], "subset-optional").is_empty());

    assert!(is_std_base64("YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw=="));
    assert!(!is_std_base64("YJqGPQw7sFlslqhFafSE-Q6oJ1h2iHB2Rw__"));
    assert_eq!(rgb_of(&serde_json::json!("#808080")), Some([128.0; 3]));
    assert_eq!(
        rgb_of(&serde_json::json!({"r": 1, "g": 2, "b": 3})),
        Some([1.0, 2.0, 3.0])
    );
}
