//! imagor's own expectations (`testdata/vectors/*.json`) against the Rust
//! implementation: path parse/generate, filter splitting, predicates, URL
//! signing, storage hashers and normalisation.
//!
//! Every vector of a set is checked; all failures are printed before the
//! test fails, with one summary line per set.

use std::fmt::Debug;
use std::path::PathBuf;

use imagor::hasher;
use imagor::path::{self, Filter, Params, SafeChars};
use imagor::sign::{Signer, SignerAlg};
use serde_json::Value;

fn load(name: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/vectors")
        .join(name);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {name}: {e}"))
}

/// Pass/fail bookkeeping for one vector set.
struct Set {
    name: String,
    passed: usize,
    quirks: usize,
    failures: Vec<String>,
}

impl Set {
    fn new(name: &str) -> Self {
        Set {
            name: name.to_owned(),
            passed: 0,
            quirks: 0,
            failures: Vec::new(),
        }
    }

    /// Record one vector: `got` must equal `want`.
    fn check<T: PartialEq + Debug>(&mut self, v: &Value, got: T, want: T) {
        let id = v["id"].as_str().unwrap_or("?");
        let quirk = v["quirk"].as_bool().unwrap_or(false);
        if got == want {
            self.passed += 1;
            if quirk {
                self.quirks += 1;
            }
        } else {
            let q = if quirk { " (quirk)" } else { "" };
            self.failures.push(format!(
                "{}: {id}{q}\n    input: {}\n    got:  {got:?}\n    want: {want:?}",
                self.name,
                input_of(v)
            ));
        }
    }

    /// A vector that could not even be run.
    fn broken(&mut self, v: &Value, why: String) {
        let id = v["id"].as_str().unwrap_or("?");
        self.failures.push(format!("{}: {id}: {why}", self.name));
    }

    fn finish(self, all: &mut Vec<String>) {
        println!(
            "{}: {} passed, {} quirks matched, {} failed",
            self.name,
            self.passed,
            self.quirks,
            self.failures.len()
        );
        all.extend(self.failures);
    }
}

fn input_of(v: &Value) -> String {
    for key in ["path", "params", "args", "input", "image"] {
        if let Some(x) = v.get(key) {
            return x.to_string();
        }
    }
    v.to_string()
}

fn report(failures: Vec<String>) {
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}");
        }
        panic!("{} vector(s) failed", failures.len());
    }
}

fn cases<'a>(doc: &'a Value, key: &str) -> &'a [Value] {
    doc[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("vector set {key:?} missing"))
}

fn params_of(v: &Value) -> Result<Params, String> {
    let mut p: Params = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    p.params = v["params"].as_bool().unwrap_or(false);
    Ok(p)
}

fn signer_of(v: &Value) -> Result<Signer, String> {
    let alg: SignerAlg = v["alg"]
        .as_str()
        .unwrap_or("sha1")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let truncate = v["truncate"].as_u64().unwrap_or(0) as usize;
    let secret = v["secret"].as_str().unwrap_or("");
    Ok(Signer::new(alg, truncate, secret))
}

#[test]
fn path_parse() {
    let doc = load("path_parse.json");
    let mut failures = Vec::new();

    let mut set = Set::new("path_parse.parse");
    for v in cases(&doc, "parse") {
        let input = v["path"].as_str().unwrap_or_default();
        match params_of(&v["expect"]) {
            Ok(want) => set.check(v, path::parse(input), want),
            Err(e) => set.broken(v, e),
        }
    }
    set.finish(&mut failures);

    let mut set = Set::new("path_parse.generate");
    for v in cases(&doc, "generate") {
        let p = match params_of(&v["params"]) {
            Ok(p) => p,
            Err(e) => {
                set.broken(v, e);
                continue;
            }
        };
        let want = v["expect_path"].as_str().unwrap_or_default().to_owned();
        let got = match v["fn"].as_str() {
            Some("GeneratePath") => path::generate_path(&p),
            Some("GenerateUnsafe") => path::generate_unsafe(&p),
            Some("Generate") => match signer_of(&v["signer"]) {
                Ok(signer) => path::generate(&p, Some(&signer)),
                Err(e) => {
                    set.broken(v, e);
                    continue;
                }
            },
            other => {
                set.broken(v, format!("unknown fn {other:?}"));
                continue;
            }
        };
        set.check(v, got, want);
    }
    set.finish(&mut failures);

    let mut set = Set::new("path_parse.split_args");
    for v in cases(&doc, "split_args") {
        let want: Vec<String> = serde_json::from_value::<Option<Vec<String>>>(v["expect"].clone())
            .ok()
            .flatten()
            .unwrap_or_default();
        set.check(
            v,
            path::split_args(v["args"].as_str().unwrap_or_default()),
            want,
        );
    }
    set.finish(&mut failures);

    let mut set = Set::new("path_parse.parse_filters");
    for v in cases(&doc, "parse_filters") {
        let filters: Vec<Filter> =
            serde_json::from_value(v["expect_filters"].clone()).unwrap_or_default();
        let image = v["expect_image"].as_str().unwrap_or_default().to_owned();
        let got = path::parse_filters(v["input"].as_str().unwrap_or_default());
        set.check(v, got, (filters, image));
    }
    set.finish(&mut failures);

    let mut set = Set::new("path_parse.predicates");
    for v in cases(&doc, "predicates") {
        let p = match params_of(&v["params"]) {
            Ok(p) => p,
            Err(e) => {
                set.broken(v, e);
                continue;
            }
        };
        let got = match v["fn"].as_str() {
            Some("has_crop") => p.has_crop(),
            Some("has_filter") => p.has_filter(v["filter_name"].as_str().unwrap_or_default()),
            Some("has_cache_bypass") => p.has_cache_bypass(),
            other => {
                set.broken(v, format!("unknown fn {other:?}"));
                continue;
            }
        };
        set.check(v, got, v["expect"].as_bool().unwrap_or(false));
    }
    set.finish(&mut failures);

    report(failures);
}

#[test]
fn signing() {
    let doc = load("signing.json");
    let mut failures = Vec::new();
    let mut set = Set::new("signing");
    for v in cases(&doc, "cases") {
        match signer_of(v) {
            Ok(signer) => {
                let path = v["path"].as_str().unwrap_or_default();
                let want = v["expect_hash"].as_str().unwrap_or_default();
                let got = signer.sign(path);
                let verified = signer.verify(path, want);
                set.check(v, (got.as_str(), verified), (want, true));
            }
            Err(e) => set.broken(v, e),
        }
    }
    set.finish(&mut failures);
    report(failures);
}

#[test]
fn hasher() {
    let doc = load("hasher.json");
    let mut failures = Vec::new();
    let mut set = Set::new("hasher");
    for v in cases(&doc, "cases") {
        let input = &v["input"];
        let want = v["expect"].as_str().unwrap_or_default().to_owned();
        let kind = v["kind"].as_str().unwrap_or_default();
        if kind == "digest_storage" {
            let image = input["image"].as_str().unwrap_or_default();
            set.check(v, hasher::digest_storage_hasher(image), want);
            continue;
        }
        let p = if let Some(path) = input["parse"].as_str() {
            let mut p = path::parse(path);
            if input["clear_path"].as_bool().unwrap_or(false) {
                p.path.clear();
            }
            p
        } else {
            match params_of(&input["params"]) {
                Ok(p) => p,
                Err(e) => {
                    set.broken(v, e);
                    continue;
                }
            }
        };
        let got = match kind {
            "digest_result" => hasher::digest_result_storage_hasher(&p),
            "suffix_result" => hasher::suffix_result_storage_hasher(&p),
            "size_suffix_result" => hasher::size_suffix_result_storage_hasher(&p),
            other => {
                set.broken(v, format!("unknown kind {other:?}"));
                continue;
            }
        };
        set.check(v, got, want);
    }
    set.finish(&mut failures);
    report(failures);
}

#[test]
fn normalize() {
    let doc = load("normalize.json");
    let mut failures = Vec::new();
    let mut set = Set::new("normalize");
    for v in cases(&doc, "cases") {
        let safe = SafeChars::new(v["safechars"].as_str().unwrap_or_default());
        let got = path::normalize(v["input"].as_str().unwrap_or_default(), &safe);
        set.check(v, got, v["expect"].as_str().unwrap_or_default().to_owned());
    }
    set.finish(&mut failures);
    report(failures);
}

/// imagor's own `imagorpath` (Go), run on 800 generated paths
/// (`imagorpath_differential.json`): every output byte for byte, including
/// images whose escapes decode to bytes that are not UTF-8.
#[test]
fn imagorpath_differential() {
    let doc = load("imagorpath_differential.json");
    let mut failures = Vec::new();
    let mut set = Set::new("imagorpath_differential");
    let sha1 = Signer::new(SignerAlg::Sha1, 0, "mysecret");
    let sha256 = Signer::new(SignerAlg::Sha256, 40, "mysecret");
    let (none, dash) = (SafeChars::new(""), SafeChars::new("-_"));
    for v in cases(&doc, "cases") {
        let input = v["input"].as_str().unwrap_or_default();
        let p = path::parse(input);
        let want = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
        set.check(v, p.to_json(), want("parse_json"));
        set.check(v, path::generate_path(&p), want("generate_path"));
        set.check(v, path::generate_unsafe(&p), want("generate_unsafe"));
        if !v["generate_sha1"].is_null() {
            set.check(v, path::generate(&p, Some(&sha1)), want("generate_sha1"));
        }
        set.check(v, sha256.sign(input), want("sign_sha256_40"));
        set.check(v, path::normalize(input, &none), want("normalize"));
        set.check(v, path::normalize(input, &dash), want("normalize_safe"));
        set.check(
            v,
            hasher::digest_storage_hasher(input),
            want("digest_storage"),
        );
        set.check(
            v,
            hasher::digest_result_storage_hasher(&p),
            want("digest_result"),
        );
        set.check(
            v,
            hasher::suffix_result_storage_hasher(&p),
            want("suffix_result"),
        );
        set.check(
            v,
            hasher::size_suffix_result_storage_hasher(&p),
            want("size_suffix_result"),
        );
        let split: Vec<String> =
            serde_json::from_value(v["split_args"].clone()).unwrap_or_default();
        set.check(v, path::split_args(input), split);
    }
    set.finish(&mut failures);
    report(failures);
}
