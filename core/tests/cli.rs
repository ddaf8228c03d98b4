//! The `imagor` binary: each subcommand's output, errors and exit codes.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output};

fn imagor<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_imagor"))
        .args(args)
        .env_remove("IMAGOR_SECRET")
        .env_remove("IMAGOR_SIGNER_TYPE")
        .env_remove("IMAGOR_SIGNER_TRUNCATE")
        .output()
        .expect("run the imagor binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 1, nothing on stdout, imagor's JSON error body on stderr.
fn assert_error(o: &Output, message: &str, status: u16) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(o));
    let body: serde_json::Value = serde_json::from_str(stderr(o).trim()).expect("JSON error body");
    assert_eq!(body["status"], status);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains(message)),
        "message {:?} lacks {message:?}",
        body["message"]
    );
}

const README_PATH: &str =
    "fit-in/500x400/0x20/filters:fill(white)/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png";
const README_HASH: &str = "OyGJyvfYJw8xNkYDmXU-4NPA2U0=";

#[test]
fn parse_prints_compact_params_json() {
    let o = imagor([
        "parse",
        "/unsafe/fit-in/-200x150/filters:fill(white)/a%20b<1>.jpg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"path\":\"fit-in/-200x150/filters:fill(white)/a%20b\\u003c1\\u003e.jpg\",\
         \"image\":\"a b\\u003c1\\u003e.jpg\",\"unsafe\":true,\"fit_in\":true,\"width\":200,\
         \"height\":150,\"h_flip\":true,\"filters\":[{\"name\":\"fill\",\"args\":\"white\"}]}\n"
    );
}

#[test]
fn parse_pretty_is_the_params_endpoint_body() {
    let o = imagor(["parse", "--pretty", "/params/x.jpg"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        "{\n  \"path\": \"x.jpg\",\n  \"image\": \"x.jpg\"\n}\n"
    );
}

#[test]
fn generate_bare_unsafe_and_signed() {
    let json = r#"{"image":"raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png","fit_in":true,"width":500,"height":400,"padding_top":20,"padding_bottom":20,"filters":[{"name":"fill","args":"white"}]}"#;
    let o = imagor(["generate", json]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{README_PATH}\n"));

    let o = imagor(["generate", "--unsafe", json]);
    assert_eq!(stdout(&o), format!("unsafe/{README_PATH}\n"));

    let o = imagor(["generate", "--secret", "mysecret", json]);
    assert_eq!(stdout(&o), format!("{README_HASH}/{README_PATH}\n"));

    let o = Command::new(env!("CARGO_BIN_EXE_imagor"))
        .args(["generate", "--signer-truncate", "10", json])
        .env("IMAGOR_SECRET", "mysecret")
        .env("IMAGOR_SIGNER_TYPE", "sha256")
        .output()
        .expect("run imagor");
    let out = stdout(&o);
    let (hash, path) = out.trim_end().split_once('/').unwrap_or_default();
    assert_eq!((hash.len(), path), (10, README_PATH));
}

#[test]
fn generate_rejects_bad_json() {
    assert_error(
        &imagor(["generate", "{\"width\":"]),
        "invalid params JSON",
        400,
    );
    assert_error(&imagor(["generate", "[1,2]"]), "invalid params JSON", 400);
    assert_error(
        &imagor(["generate", r#"{"width":1.5}"#]),
        "invalid params JSON",
        400,
    );
}

#[test]
fn generate_secret_and_unsafe_conflict() {
    let o = imagor(["generate", "--secret", "s", "--unsafe", "{}"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sign_prints_the_hash() {
    let o = imagor(["sign", "--secret", "mysecret", README_PATH]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{README_HASH}\n"));

    let o = imagor([
        "sign",
        "--secret",
        "mysecret",
        "--signer-type",
        "sha256",
        "--signer-truncate",
        "40",
        "500x500/top/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png",
    ]);
    assert_eq!(stdout(&o), "IGEn3TxngivD0jy4uuiZim2bdUCvhcnVi1Nm0xGy\n");

    // A negative truncation is no truncation, as in imagor.
    let o = imagor([
        "sign",
        "--secret",
        "mysecret",
        "--signer-truncate",
        "-1",
        README_PATH,
    ]);
    assert_eq!(stdout(&o), format!("{README_HASH}\n"));
}

#[test]
fn sign_rejects_unknown_signer_type() {
    let o = imagor(["sign", "--secret", "s", "--signer-type", "md5", "p"]);
    assert_error(&o, "unknown signer type", 400);
}

#[test]
fn sign_requires_a_secret() {
    assert_eq!(imagor(["sign", "p"]).status.code(), Some(2));
}

#[test]
fn verify_match_and_mismatch() {
    let o = imagor(["verify", "--secret", "mysecret", README_PATH, README_HASH]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "{\"valid\":true}\n");

    let o = imagor(["verify", "--secret", "other", README_PATH, README_HASH]);
    assert_error(&o, "url signature mismatch", 403);
    assert_eq!(
        stderr(&o),
        "{\"message\":\"url signature mismatch\",\"status\":403}\n"
    );
}

#[test]
fn invalid_utf8_arguments_are_errors() {
    let bad = OsStr::from_bytes(b"unsafe/\xff\xfe.jpg");
    let o = imagor([OsStr::new("parse"), bad]);
    assert_error(&o, "PATH is not valid UTF-8", 400);

    let o = imagor([
        OsStr::new("sign"),
        OsStr::new("--secret"),
        bad,
        OsStr::new("p"),
    ]);
    assert_error(&o, "secret is not valid UTF-8", 400);

    let o = imagor([OsStr::new("generate"), bad]);
    assert_error(&o, "JSON is not valid UTF-8", 400);

    let o = imagor([
        OsStr::new("verify"),
        OsStr::new("--secret"),
        OsStr::new("s"),
        OsStr::new("p"),
        bad,
    ]);
    assert_error(&o, "HASH is not valid UTF-8", 400);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(imagor(["no-such-command"]).status.code(), Some(2));
    assert_eq!(imagor::<[&str; 0], &str>([]).status.code(), Some(2));
    // `help` lists the tool subcommands; the flags of the server (which
    // runs when no subcommand is given) print with `-h`, as imagor's do.
    let o = imagor(["help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("parse"));
    let o = imagor(["--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("Usage of imagor:"));
}

fn testdata(name: &str) -> String {
    format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn process_writes_the_image_and_meta_reads_it() {
    let dir = std::env::temp_dir().join(format!("imagor-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("out.webp");
    let o = imagor([
        OsStr::new("process"),
        OsStr::new(&testdata("gopher.png")),
        OsStr::new("fit-in/100x100/filters:format(webp)"),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let bytes = std::fs::read(&out).expect("output written");
    assert_eq!(&bytes[8..12], b"WEBP");

    let o = imagor([OsStr::new("meta"), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let meta: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("meta JSON");
    assert_eq!(meta["format"], "webp");
    assert_eq!(
        (meta["width"].as_i64(), meta["height"].as_i64()),
        (Some(73), Some(100))
    );

    let o = imagor(["meta", &testdata("dancing-banana.gif"), "fit-in/50x50"]);
    let meta: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("meta JSON");
    assert_eq!(meta["pages"], 8);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn process_to_stdout_and_from_stdin() {
    let data = std::fs::read(testdata("demo1.jpg")).expect("testdata");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagor"))
        .args(["process", "-", "50x50/filters:format(png)"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&data)
        .expect("write stdin");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(&o.stdout[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn process_errors_are_typed() {
    assert_error(
        &imagor(["process", &testdata("missing.png"), "10x10"]),
        "not found: ",
        404,
    );
    // The message names the input as given, nothing more.
    assert_error(
        &imagor(["process", "nope.jpg", "10x10"]),
        "not found: nope.jpg",
        404,
    );
    assert_error(
        &imagor(["process", &testdata("missing.png"), "10x10"]),
        "missing.png",
        404,
    );
    assert_error(
        &imagor(["process", &testdata("README.md"), "10x10"]),
        "unsupported format",
        406,
    );
    assert_error(
        &imagor(["process", &testdata("gopher.png"), "filters:blur(abc)"]),
        "blur",
        400,
    );
    assert_error(
        &imagor([
            "process",
            &testdata("gopher.png"),
            "10x10",
            "--options",
            r#"{"max_width":10,"max_height":10,"max_resolution":50}"#,
        ]),
        "maximum resolution exceeded",
        422,
    );
    assert_error(
        &imagor([
            "meta",
            &testdata("gopher.png"),
            "",
            "--options",
            r#"{"nope":1}"#,
        ]),
        "invalid options",
        400,
    );
}

#[test]
fn a_path_typo_warns_on_stderr_or_fails_with_strict_filters() {
    let o = imagor(["process", &testdata("gopher.png"), "fit_in/30x30/"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o)
            .starts_with("imagor process: warning: the path has `fit_in` (did you mean `fit-in`?)"),
        "{}",
        stderr(&o)
    );
    let o = imagor([
        "process",
        &testdata("gopher.png"),
        "fit_in/30x30/",
        "--options",
        r#"{"strict_filters":true}"#,
    ]);
    assert_error(&o, "did you mean `fit-in`", 400);
    // No warning for a real image name.
    let o = imagor([
        "process",
        &testdata("gopher.png"),
        "fit-in/30x30/photos/a.jpg",
    ]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(0), String::new()));
}

#[test]
fn formats_prints_what_this_build_loads_and_saves() {
    let o = imagor(["formats"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let got: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("formats JSON");
    let want = imagor::formats().expect("formats");
    assert_eq!(got, serde_json::to_value(&want).expect("to JSON"));
    assert!(got["load"]
        .as_array()
        .is_some_and(|l| l.contains(&"jpeg".into())));
}

#[test]
fn the_memory_budgets_come_from_options_json() {
    let png = testdata("gopher.png");
    for (option, json) in [
        ("max_memory", r#"{"max_memory":1000}"#),
        ("max_total_memory", r#"{"max_total_memory":1000}"#),
    ] {
        let o = imagor(["process", &png, "filters:format(webp)", "--options", json]);
        assert_error(&o, option, 422);
    }
    // A file over max_memory is refused on its size, before it is read.
    let o = imagor(["meta", &png, "", "--options", r#"{"max_memory":1000}"#]);
    assert_error(
        &o,
        "the input image is larger than max_memory (1000 bytes)",
        422,
    );
}
