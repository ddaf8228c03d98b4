//! Writes the hostile corpus to a folder for the per-process runners
//! (`tests/hostile_processes.py`): one file per case and `manifest.json`
//! (`[{"name", "file", "path", "expect"}]`).
//!
//! `hostile-corpus OUT_DIR CANARY_PORT`

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: hostile-corpus OUT_DIR CANARY_PORT");
        std::process::exit(2);
    }
    let out = std::path::PathBuf::from(&args[1]);
    let port: u16 = args[2].parse().unwrap_or_else(|_| {
        eprintln!("hostile-corpus: CANARY_PORT must be a port number");
        std::process::exit(2)
    });
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let cases = imagor_tests::hostile::corpus(port, &testdata);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("hostile-corpus: {}: {e}", out.display());
        std::process::exit(1);
    }
    let mut manifest = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = format!("{i:03}.bin");
        if let Err(e) = std::fs::write(out.join(&file), &case.bytes) {
            eprintln!("hostile-corpus: {file}: {e}");
            std::process::exit(1);
        }
        manifest.push(serde_json::json!({
            "name": case.name,
            "file": file,
            "path": case.path,
            "expect": case.expect,
        }));
    }
    let json = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    let written = std::fs::File::create(out.join("manifest.json"))
        .and_then(|mut f| f.write_all(json.as_bytes()));
    if let Err(e) = written {
        eprintln!("hostile-corpus: manifest.json: {e}");
        std::process::exit(1);
    }
    println!("{} cases in {}", cases.len(), out.display());
}
