//! The server's command line through the real binary: `-h`, an unknown
//! flag, the refusal to start without a secret or unsafe, and the same
//! settings given as flags, environment variables and a `.env` file
//! (`-config`) giving the same `Options` / `ServerOptions` and the same
//! HTTP answers from three running servers.
#![cfg(feature = "server")]

mod server_common;

use std::process::{Command, Output, Stdio};

use imagor::server::cli::{options, server_options};
use imagor::server::config::{lookup, parse, FLAGS};
use imagor::sign::{Signer, SignerAlg};
use server_common::*;

/// Run the binary to completion with a clean environment and an empty
/// working directory (no `./.env`).
fn run(args: &[&str]) -> Output {
    let cwd = TempDir::new("cli");
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(cwd.path()).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.stdin(Stdio::null()).output().expect("run imagor")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn help_lists_every_flag_and_exits_0() {
    let o = run(&["-h"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    let missing: Vec<&str> = FLAGS
        .iter()
        .filter(|f| {
            !out.lines().any(|l| {
                l.trim_start().starts_with(&format!("-{} ", f.name))
                    || l.trim() == format!("-{}", f.name)
            })
        })
        .map(|f| f.name)
        .collect();
    assert!(missing.is_empty(), "-h lacks {missing:?}:\n{out}");
    println!("-h lists all {} flags", FLAGS.len());
}

#[test]
fn unknown_flag_exits_2() {
    let o = run(&["-imagor-unsafe", "-no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("flag provided but not defined: -no-such-flag"),
        "{}",
        text(&o)
    );
}

#[test]
fn no_secret_and_no_unsafe_refuses_to_start() {
    for args in [&[][..], &["-imagor-unsafe=false", "-port", "1"][..]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let out = text(&o);
        assert!(
            out.contains("refusing to start") && out.contains("-imagor-secret"),
            "{args:?}: {out}"
        );
        assert!(!out.contains("\"msg\":\"listen\""), "{out}");
    }
}

/// The settings of the three-way test, by flag name.
fn settings(port: u16) -> Vec<(&'static str, String)> {
    let testdata = testdata().to_string_lossy().into_owned();
    vec![
        ("imagor-secret", "cli-secret".into()),
        ("imagor-signer-type", "sha256".into()),
        ("imagor-signer-truncate", "30".into()),
        ("file-loader-base-dir", testdata),
        ("imagor-cache-header-ttl", "90s".into()),
        ("imagor-cache-header-swr", "30s".into()),
        ("imagor-auto-webp", "true".into()),
        ("server-cors", "true".into()),
        ("server-path-prefix", "/img".into()),
        ("imagor-disable-params-endpoint", "true".into()),
        ("imagor-max-total-memory", "1073741824".into()),
        ("bind", format!("127.0.0.1:{port}")),
    ]
}

fn env_name(flag: &str) -> String {
    lookup(flag).expect("a flag").env_name()
}

/// The three forms of the same settings: command-line flags, environment
/// variables, a `.env` file named by `-config`.
struct Forms {
    flags: Vec<String>,
    env: Vec<(String, String)>,
    file_args: Vec<String>,
    _dir: TempDir,
}

fn forms(port: u16) -> Forms {
    let s = settings(port);
    let dir = TempDir::new("dotenv");
    let mut file = String::from("# the same settings, as imagor's .env\n");
    for (k, v) in &s {
        file.push_str(&format!("{}={v}\n", env_name(k)));
    }
    dir.write("imagor.env", file.as_bytes());
    Forms {
        flags: s.iter().map(|(k, v)| format!("-{k}={v}")).collect(),
        env: s.iter().map(|(k, v)| (env_name(k), v.clone())).collect(),
        file_args: vec!["-config".into(), dir.join("imagor.env")],
        _dir: dir,
    }
}

#[test]
fn flags_env_and_dotenv_give_the_same_options() {
    // parse() also reads ./.env (the test's working directory): none here.
    assert!(
        !std::path::Path::new(".env").exists(),
        "a .env in {:?}",
        std::env::current_dir()
    );
    let f = forms(8123);
    let none = |_: &str| None;
    let env_map = f.env.clone();
    let from_env = move |k: &str| env_map.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let configs = [
        ("flags", parse(&f.flags, &none)),
        ("env", parse(&[], &from_env)),
        (".env", parse(&f.file_args, &none)),
    ];
    let mut seen = Vec::new();
    for (form, config) in configs {
        let config = config.unwrap_or_else(|e| panic!("{form}: {e:?}"));
        let opts = options(&config);
        let server = format!("{:?}", server_options(&config, &opts));
        assert_eq!(opts.secret, "cli-secret", "{form}");
        assert_eq!(
            (opts.signer_type.as_str(), opts.signer_truncate),
            ("sha256", 30)
        );
        assert_eq!(opts.cache_header_ttl.as_secs(), 90, "{form}");
        assert!(opts.auto_webp && opts.disable_params_endpoint, "{form}");
        assert_eq!(opts.max_total_memory, 1 << 30, "{form}");
        assert!(
            server.contains("127.0.0.1:8123") && server.contains("/img"),
            "{form}: {server}"
        );
        seen.push((form, opts, server));
    }
    for (form, opts, server) in &seen[1..] {
        assert_eq!(*opts, seen[0].1, "{form} vs flags: Options");
        assert_eq!(*server, seen[0].2, "{form} vs flags: ServerOptions");
    }
}

/// Status, body and the headers that do not depend on the clock.
fn fingerprint(r: &Resp) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers = r
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("date") && !k.eq_ignore_ascii_case("expires"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    (r.status, headers, r.body.clone())
}

#[test]
fn flags_env_and_dotenv_serve_the_same() {
    let signer = Signer::new(SignerAlg::Sha256, 30, "cli-secret");
    let image = "fit-in/60x60/gopher-front.png";
    let requests = [
        Req::get(&format!("/img/{}/{image}", signer.sign(image)))
            .header("Accept", "image/webp,*/*")
            .header("Origin", "https://example.org"),
        Req::get(&format!(
            "/img/{}/{image}",
            Signer::sha1("cli-secret").sign(image)
        )),
        Req::get("/img/unsafe/gopher-front.png"),
        Req::get("/unsafe/gopher-front.png"),
        Req::get("/img/params/gopher-front.png"),
        Req::get("/img/healthcheck").header("Origin", "https://example.org"),
        Req::new("OPTIONS", "/img/x.png")
            .header("Origin", "https://example.org")
            .header("Access-Control-Request-Method", "GET"),
    ];
    let mut answers = Vec::new();
    for form in ["flags", "env", ".env"] {
        let port = free_port();
        let f = forms(port);
        let launch = Launch {
            port: Some(port),
            env: if form == "env" {
                f.env.clone()
            } else {
                Vec::new()
            },
            ..Launch::default()
        };
        let args = match form {
            "flags" => f.flags.clone(),
            "env" => Vec::new(),
            _ => f.file_args.clone(),
        };
        let server = Server::launch(&args, launch);
        let got: Vec<Resp> = requests.iter().map(|r| server.send(r)).collect();
        answers.push((form, got));
    }
    // The settings took effect (all three could be equally wrong).
    let first = &answers[0].1;
    let statuses: Vec<u16> = first.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 403, 403, 404, 200, 200, 204]);
    let ok = &first[0];
    assert_eq!(ok.header("Content-Type"), Some("image/webp"));
    assert_eq!(ok.header_all("Vary"), ["Origin", "Accept"]);
    assert_eq!(ok.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        ok.header("Cache-Control"),
        Some("public, s-maxage=90, max-age=90, no-transform, stale-while-revalidate=30")
    );
    assert!(first[4].body.is_empty(), "params endpoint disabled");
    for (form, got) in &answers[1..] {
        for (i, (a, b)) in first.iter().zip(got).enumerate() {
            assert_eq!(
                fingerprint(a),
                fingerprint(b),
                "request {i} ({}): flags vs {form}",
                requests[i].target
            );
        }
    }
    println!(
        "flags, env and .env: {} identical answers each",
        requests.len()
    );
}

/// `-server-access-log`: one JSON line per request the app sees; none for
/// the no-op routes or a path outside `-server-path-prefix` (imagor's
/// access log sits inside `http.StripPrefix`, spec §4.1, §4.10).
#[test]
fn access_log_records_app_requests_only() {
    let server = Server::start(&flags(&[
        ("imagor-unsafe", "true"),
        ("server-access-log", "true"),
        ("server-path-prefix", "/img"),
    ]));
    for target in [
        "/img/healthcheck",
        "/img/favicon.ico",
        "/other/x.png",
        "/img/unsafe/none.png",
    ] {
        server.get(target);
    }
    // Go's server refuses a malformed escape itself: 400, before the prefix.
    assert_eq!(server.get("/other/%zz").status, 400);
    assert_eq!(server.get("/img/unsafe/%zz.png").status, 400);
    server.send(&Req::new("HEAD", "/img/healthcheck").header("User-Agent", "e2e"));
    let access = || -> Vec<serde_json::Value> {
        server
            .stderr()
            .lines()
            .filter(|l| l.contains("\"msg\":\"access\""))
            .map(|l| serde_json::from_str(l).expect("JSON log line"))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while access().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines = access();
    let seen: Vec<(String, String, i64)> = lines
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or("").to_owned();
            (s("method"), s("uri"), l["status"].as_i64().unwrap_or(0))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".into(), "/unsafe/none.png".into(), 404),
            ("HEAD".into(), "/healthcheck".into(), 403)
        ],
        "{lines:?}"
    );
    assert_eq!(lines[1]["user-agent"], "e2e");
    assert_eq!(lines[1]["ip"], "127.0.0.1");
    assert!(lines[1]["took"].as_f64().is_some());
}

#[test]
fn log_ecs_writes_elastic_common_schema_lines_on_stdout() {
    use std::io::{BufRead, BufReader, Read, Write};
    let port = free_port();
    let cwd = TempDir::new("ecs");
    let mut child = Command::new(bin())
        .args(["-log-ecs", "-imagor-unsafe", "-server-access-log", "-bind"])
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(cwd.path())
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imagor");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| -> serde_json::Value {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {what} line on stdout"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    let listen = next("listen");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.write_all(b"GET /unsafe/none.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let access = next("access");
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    for (line, message) in [(&listen, "listen"), (&access, "access")] {
        assert_eq!(line["message"], message, "{line}");
        assert_eq!(line["log.level"], "info", "{line}");
        assert_eq!(line["ecs.version"], "1.6.0", "{line}");
        let at = line["@timestamp"].as_str().unwrap_or("");
        assert!(
            at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "{line}"
        );
        assert!(
            line["log.origin"]["file.name"]
                .as_str()
                .is_some_and(|f| f.ends_with(".rs")),
            "{line}"
        );
        assert!(line["log.origin"]["file.line"].as_u64().is_some(), "{line}");
        assert!(
            line.get("msg").is_none() && line.get("ts").is_none(),
            "{line}"
        );
    }
    assert_eq!(access["status"], 404, "{access}");
    assert_eq!(access["uri"], "/unsafe/none.png", "{access}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("\"msg\""), "zap lines on stderr: {stderr}");
}
