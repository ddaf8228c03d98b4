//! imagor's command-line configuration (`imagor::server::config`): flags,
//! environment and `.env` file as imagor 1.9.5 reads them, `-h`, errors and
//! exit codes. `tests/data/imagor_help.txt` is Appendix A of the server spec:
//! the `-h` text generated from imagor's flag table (Apache-2.0).
#![cfg(feature = "server")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard};
use std::time::Duration;

use imagor::server::config::{
    help_text, parse, sorted, Config, ConfigError, Group, Kind, Source, Value, FLAGS, VERSION,
};

/// imagor's `-h`, with the flags of imagorface's face detector merged in.
const HELP: &str = include_str!("data/imagor_help.txt");

/// The working directory matters (the default config file is `./.env`):
/// every test runs in an empty scratch directory, and the one test that
/// changes it takes the write lock.
static CWD: RwLock<()> = RwLock::new(());

/// A fresh directory under this process's root in the temp dir. Roots of
/// earlier runs whose process is gone are removed on first use.
fn scratch_dir() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = ROOT.get_or_init(|| {
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("imagor-server-config-");
            if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        tmp.join(format!("imagor-server-config-{}", std::process::id()))
    });
    let dir = root.join(N.fetch_add(1, Ordering::SeqCst).to_string());
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn in_clean_cwd() -> RwLockReadGuard<'static, ()> {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    let guard = CWD.read().unwrap_or_else(|e| e.into_inner());
    let home = HOME.get_or_init(|| {
        let dir = scratch_dir();
        std::env::set_current_dir(&dir).expect("chdir");
        dir
    });
    assert_eq!(
        std::env::current_dir().ok().as_deref(),
        Some(home.as_path())
    );
    guard
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn run(argv: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let _cwd = in_clean_cwd();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(&args(argv), &|k| env.get(k).cloned())
}

fn ok(argv: &[&str], env: &[(&str, &str)]) -> Config {
    run(argv, env).unwrap_or_else(|e| panic!("{argv:?} {env:?}: {e}"))
}

fn err(argv: &[&str], env: &[(&str, &str)]) -> ConfigError {
    match run(argv, env) {
        Ok(_) => panic!("{argv:?} {env:?}: expected an error"),
        Err(e) => e,
    }
}

fn usage(msg: &str) -> ConfigError {
    ConfigError::Usage(msg.to_owned())
}

/// Write `text` as a config file in a fresh directory; its path.
fn env_file(text: &str) -> String {
    let path = scratch_dir().join("imagor.env");
    std::fs::write(&path, text).expect("write env file");
    path.to_string_lossy().into_owned()
}

/// Every value except `config` (which names the file in one case only).
fn values(cfg: &Config) -> Vec<(&'static str, Value)> {
    cfg.iter()
        .filter(|(f, _, _)| f.name != "config")
        .map(|(f, v, _)| (f.name, v.clone()))
        .collect()
}

const SETTINGS: [(&str, &str); 9] = [
    ("imagor-secret", "s3cr3t"),
    ("imagor-unsafe", "true"),
    ("port", "0x1F90"),
    ("imagor-process-concurrency", "-4"),
    ("imagor-request-timeout", "1m30s"),
    ("http-loader-block-networks", "10.1.2.3/8,::1/128"),
    ("s3-loader-bucket", "my-bucket"),
    ("gcloud-storage-expiration", "24h"),
    ("vips-cache-size", "1_000_000"),
];

#[test]
fn flags_env_and_file_give_equal_configs() {
    let flag_args: Vec<String> = SETTINGS.iter().map(|(k, v)| format!("-{k}={v}")).collect();
    let flag_args: Vec<&str> = flag_args.iter().map(String::as_str).collect();
    let from_flags = ok(&flag_args, &[]);

    let env: Vec<(String, &str)> = SETTINGS
        .iter()
        .map(|(k, v)| (k.to_uppercase().replace('-', "_"), *v))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let from_env = ok(&[], &env);

    let text: String = SETTINGS.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let file = env_file(&text);
    let from_file = ok(&["-config", &file], &[]);

    assert_eq!(values(&from_flags), values(&from_env));
    assert_eq!(values(&from_flags), values(&from_file));
    assert_eq!(from_file.config_file(), Some(file.as_str()));

    let cfg = &from_flags;
    assert_eq!(cfg.str("imagor-secret"), "s3cr3t");
    assert!(cfg.bool("imagor-unsafe"));
    assert_eq!(cfg.int("port"), 8080);
    assert_eq!(cfg.int("imagor-process-concurrency"), -4);
    assert_eq!(
        cfg.duration("imagor-request-timeout"),
        Duration::from_secs(90)
    );
    assert_eq!(
        cfg.cidrs("http-loader-block-networks"),
        ["10.0.0.0/8", "::1/128"]
    );
    assert_eq!(cfg.str("s3-loader-bucket"), "my-bucket");
    assert_eq!(
        cfg.duration("gcloud-storage-expiration"),
        Duration::from_secs(86400)
    );
    assert_eq!(cfg.int("vips-cache-size"), 1_000_000);
    for (name, _) in SETTINGS {
        assert_eq!(from_flags.source(name), Source::CommandLine);
        assert_eq!(from_env.source(name), Source::Environment);
        assert_eq!(from_file.source(name), Source::ConfigFile);
    }
}

#[test]
fn precedence_flag_env_file_default() {
    let file = env_file("PORT=1\nIMAGOR_SECRET=file\nBIND=file:1\nSERVER_ADDRESS=file\n");
    let cfg = ok(
        &["-config", &file, "-port", "3"],
        &[("PORT", "2"), ("IMAGOR_SECRET", "env"), ("BIND", "")],
    );
    assert_eq!(
        (cfg.int("port"), cfg.source("port")),
        (3, Source::CommandLine)
    );
    assert_eq!(cfg.str("imagor-secret"), "env");
    assert_eq!(cfg.source("imagor-secret"), Source::Environment);
    // An empty environment value is skipped, so the file still applies.
    assert_eq!(
        (cfg.str("bind"), cfg.source("bind")),
        ("file:1", Source::ConfigFile)
    );
    assert_eq!(cfg.str("server-address"), "file");
    assert_eq!(cfg.str("server-path-prefix"), "");
    assert_eq!(cfg.source("server-path-prefix"), Source::Default);
    assert!(!cfg.is_set("server-path-prefix") && cfg.is_set("bind"));
    assert_eq!(cfg.source("config"), Source::CommandLine);
}

#[test]
fn defaults_as_imagor_prints_them() {
    let cfg = ok(&[], &[]);
    assert!(FLAGS.iter().all(|f| !cfg.is_set(f.name)));
    assert_eq!(cfg.iter().count(), 163);
    assert_eq!(cfg.int("port"), 8000);
    assert_eq!(cfg.str("config"), ".env");
    assert_eq!(cfg.config_file(), None, "no .env in the scratch directory");
    assert_eq!(
        cfg.duration("imagor-cache-header-ttl"),
        Duration::from_secs(7 * 86400)
    );
    assert_eq!(cfg.int("upload-loader-max-allowed-size"), 32 << 20);
    assert_eq!(cfg.str("http-loader-default-scheme"), "https");
    assert!(cfg.cidrs("http-loader-block-networks").is_empty());
    let shown: Vec<String> = cfg.iter().map(|(_, v, _)| v.to_string()).collect();
    let table: Vec<&str> = FLAGS.iter().map(|f| f.default).collect();
    assert_eq!(shown, table);
}

/// Deviation note: `-imagor-process-timeout` is `0s` unless set, as imagor's
/// table says; 0 (like any value <= 0) keeps imagor's effective 20s, which
/// the app builder applies, not the configuration.
#[test]
fn process_timeout_reports_zero_like_imagor() {
    let cfg = ok(&[], &[]);
    assert_eq!(cfg.duration("imagor-process-timeout"), Duration::ZERO);
    let flag = FLAGS.iter().find(|f| f.name == "imagor-process-timeout");
    assert_eq!(flag.map(|f| f.default), Some("0s"));
    assert!(help_text()
        .contains("  -imagor-process-timeout duration\n    \tTimeout for image processing\n"));
    let cfg = ok(&["-imagor-process-timeout=0"], &[]);
    assert!(cfg.is_set("imagor-process-timeout"));
    assert_eq!(cfg.duration("imagor-process-timeout"), Duration::ZERO);
    let cfg = ok(&["-imagor-process-timeout=-5s"], &[]);
    assert_eq!(cfg.duration_nanos("imagor-process-timeout"), -5_000_000_000);
    assert_eq!(cfg.duration("imagor-process-timeout"), Duration::ZERO);
}

#[test]
fn command_line_forms() {
    for form in [
        &["-port=1"][..],
        &["--port=1"],
        &["-port", "1"],
        &["--port", "1"],
        &["-port", "9", "-port=1"],
    ] {
        assert_eq!(ok(form, &[]).int("port"), 1, "{form:?}");
    }
    for form in [
        &["-debug"][..],
        &["--debug"],
        &["-debug=true"],
        &["-debug=1"],
        &["-debug=T"],
    ] {
        assert!(ok(form, &[]).bool("debug"), "{form:?}");
    }
    for form in [
        &["-debug=false"][..],
        &["-debug", "-debug=0"],
        &["--debug=F"],
    ] {
        let cfg = ok(form, &[]);
        assert!(!cfg.bool("debug") && cfg.is_set("debug"), "{form:?}");
    }
    // A value may look like a flag.
    let cfg = ok(
        &["-imagor-secret", "-debug", "-imagor-base-params", "a=b"],
        &[],
    );
    assert_eq!(cfg.str("imagor-secret"), "-debug");
    assert_eq!(cfg.str("imagor-base-params"), "a=b");
    assert!(!cfg.bool("debug"));
    let cfg = ok(&["-imagor-secret="], &[]);
    assert!(cfg.is_set("imagor-secret") && cfg.str("imagor-secret").is_empty());
    assert_eq!(ok(&["-port", "-1"], &[]).int("port"), -1);
}

#[test]
fn parsing_stops_at_first_non_flag_or_double_dash() {
    let cfg = ok(&["-port=1", "serve", "-port=2", "-nope"], &[]);
    assert_eq!(cfg.int("port"), 1);
    assert_eq!(cfg.positional(), ["serve", "-port=2", "-nope"]);
    let cfg = ok(&["-port=1", "--", "-port=2"], &[]);
    assert_eq!(cfg.int("port"), 1);
    assert_eq!(cfg.positional(), ["-port=2"]);
    let cfg = ok(&["-", "-port=2"], &[]);
    assert_eq!(cfg.int("port"), 8000);
    assert_eq!(cfg.positional(), ["-", "-port=2"]);
    // After the stop, `-h` and unknown flags are not looked at either.
    assert!(ok(&["x", "-h", "-foo"], &[]).positional().len() == 3);
}

/// Go's quirk: `-bool value` does not take `value`; it is the first
/// positional argument and every later flag is silently ignored.
#[test]
fn bool_followed_by_value_stops_parsing() {
    let cfg = ok(&["-imagor-unsafe", "false", "-port", "9000"], &[]);
    assert!(cfg.bool("imagor-unsafe"));
    assert_eq!(cfg.int("port"), 8000);
    assert_eq!(cfg.positional(), ["false", "-port", "9000"]);
}

/// imagor's `-h` (Appendix A) with our deliberate deviations: the three
/// `-http-loader-block-*-networks` flags default to `true` (the HTTP loader
/// refuses loopback, private and link-local networks unless lifted with
/// `=false`), so Go's `-h` format adds ` (default true)` to their usage
/// lines; and our two memory limits and processing slots are listed. Each edit must apply
/// exactly once; nothing else differs.
fn expected_help() -> String {
    let mut help = HELP.to_owned();
    for (name, what) in [
        ("loopback", "loopback"),
        ("private", "private"),
        ("link-local", "link local"),
    ] {
        let line = format!(
            "  -http-loader-block-{name}-networks\n    \tHTTP Loader rejects connections to {what} network IP addresses.\n"
        );
        assert_eq!(help.matches(&line).count(), 1, "{line}");
        let ours = line.replace(".\n", ". (default true)\n");
        help = help.replace(&line, &ours);
    }
    // Our two memory limits and the bound on source waits, in their place
    // in the sorted list.
    let next = "  -imagor-modified-time-check\n";
    assert_eq!(help.matches(next).count(), 1);
    let ours = "  -imagor-max-memory int\n    \tMemory in bytes one request may use to process its image, estimated before the work starts (larger images get 422). 0 = no limit (default 268435456)\n  -imagor-max-source-waits int\n    \tRequests that may wait at once on their image's loader or storage (a network origin, an object store); more get 429 at once, so requests for local files always find a thread. 0 = 3072, -1 = no limit\n  -imagor-max-total-memory int\n    \tMemory in bytes all requests may hold together, their source images included (past it, requests get 429). -1 = half the memory of the machine or of its cgroup, 0 = no limit (default -1)\n";
    help = help.replace(next, &format!("{ours}{next}"));
    // And our processing slots, after imagor's process queue size.
    let next = "  -imagor-process-timeout duration\n";
    assert_eq!(help.matches(next).count(), 1);
    let ours = "  -imagor-process-slots int\n    \tRequests that do pixel work at once; more wait (after loading their image, before their process timeout starts) until their request timeout. 0 = one per core, -1 = no limit\n";
    help = help.replace(next, &format!("{ours}{next}"));
    help
}

/// The length of `-imagor-max-source-waits`' two lines of help.
const SOURCE_WAITS_HELP: usize = 235;

#[test]
fn help_is_appendix_a() {
    let help = expected_help();
    assert_eq!(help_text(), help);
    assert_eq!(
        help.len(),
        HELP.len() + 3 * " (default true)".len() + 401 + 206 + SOURCE_WAITS_HELP
    );
    for form in ["-h", "-help", "--h", "--help", "-help=1", "-h=x"] {
        let e = err(&["-port=1", form, "-foo"], &[]);
        assert_eq!(e, ConfigError::Help, "{form}");
        assert_eq!(e.exit_code(), 0);
        assert_eq!(e.stderr_text(), help);
        assert_eq!(e.stdout_text(), "");
    }
    // An earlier error wins over -h.
    assert_eq!(err(&["-foo", "-h"], &[]).exit_code(), 2);
}

#[test]
fn help_lists_every_flag_of_the_table() {
    let help = help_text();
    let entries: Vec<&str> = help
        .lines()
        .filter_map(|l| l.strip_prefix("  -"))
        .map(|l| l.split(' ').next().unwrap_or(l))
        .collect();
    let names: Vec<&str> = sorted().iter().map(|f| f.name).collect();
    assert_eq!(entries.len(), 163);
    assert_eq!(entries, names);
    for f in &FLAGS {
        let head = match f.kind.type_name() {
            "" => format!("  -{}\n", f.name),
            t => format!("  -{} {t}\n", f.name),
        };
        assert!(
            help.contains(&format!("{head}    \t{}", f.usage)),
            "-{}",
            f.name
        );
    }
    let groups: Vec<usize> = Group::ALL
        .iter()
        .map(|g| FLAGS.iter().filter(|f| f.group == *g).count())
        .collect();
    assert_eq!(groups.iter().sum::<usize>(), 163);
    assert_eq!(FLAGS.iter().filter(|f| f.kind == Kind::CidrList).count(), 1);
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let e = err(&["-foo"], &[]);
    assert_eq!(e, usage("flag provided but not defined: -foo"));
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.stderr_text(),
        format!("flag provided but not defined: -foo\n{}", expected_help())
    );
    assert_eq!(
        err(&["--foo=1"], &[]),
        usage("flag provided but not defined: -foo")
    );
    assert_eq!(
        err(&["-PORT=1"], &[]),
        usage("flag provided but not defined: -PORT")
    );
    assert_eq!(err(&["---port"], &[]), usage("bad flag syntax: ---port"));
    assert_eq!(err(&["-=1"], &[]), usage("bad flag syntax: -=1"));
    assert_eq!(err(&["--=1"], &[]), usage("bad flag syntax: --=1"));
}

#[test]
fn bad_values_on_the_command_line() {
    let cases: [(&[&str], &str); 11] = [
        (
            &["-port=abc"],
            r#"invalid value "abc" for flag -port: parse error"#,
        ),
        (
            &["-port", "1.5"],
            r#"invalid value "1.5" for flag -port: parse error"#,
        ),
        (
            &["-port=08"],
            r#"invalid value "08" for flag -port: parse error"#,
        ),
        (
            &["-imagor-process-concurrency=9223372036854775808"],
            r#"invalid value "9223372036854775808" for flag -imagor-process-concurrency: value out of range"#,
        ),
        (
            &["-imagor-request-timeout=10"],
            r#"invalid value "10" for flag -imagor-request-timeout: parse error"#,
        ),
        (
            &["-debug=yes"],
            r#"invalid boolean value "yes" for -debug: parse error"#,
        ),
        (
            &["-debug="],
            r#"invalid boolean value "" for -debug: parse error"#,
        ),
        (
            &["-http-loader-block-networks=10.0.0.0/8,foo"],
            r#"invalid value "10.0.0.0/8,foo" for flag -http-loader-block-networks: invalid CIDR address: foo"#,
        ),
        (&["-port"], "flag needs an argument: -port"),
        (
            &["-debug", "-imagor-secret"],
            "flag needs an argument: -imagor-secret",
        ),
        (
            &["-port=\t"],
            "invalid value \"\\t\" for flag -port: parse error",
        ),
    ];
    for (argv, msg) in cases {
        let e = err(argv, &[]);
        assert_eq!(e, usage(msg), "{argv:?}");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.stderr_text(), format!("{msg}\n{}", expected_help()));
    }
}

#[test]
fn cidr_lists() {
    let cfg = ok(
        &[
            "-http-loader-block-networks",
            "127.0.0.0/8,::1/128,192.168.1.7/16",
        ],
        &[],
    );
    assert_eq!(
        cfg.cidrs("http-loader-block-networks"),
        ["127.0.0.0/8", "::1/128", "192.168.0.0/16"]
    );
    assert_eq!(
        cfg.get("http-loader-block-networks")
            .map(Value::to_string)
            .as_deref(),
        Some("127.0.0.0/8,::1/128,192.168.0.0/16")
    );
    // Each occurrence replaces the list.
    let cfg = ok(
        &[
            "-http-loader-block-networks=10.0.0.0/8",
            "-http-loader-block-networks=fe80::1/10",
        ],
        &[],
    );
    assert_eq!(cfg.cidrs("http-loader-block-networks"), ["fe80::/10"]);
    let cfg = ok(
        &[],
        &[("HTTP_LOADER_BLOCK_NETWORKS", "::ffff:10.9.9.9/104")],
    );
    assert_eq!(cfg.cidrs("http-loader-block-networks"), ["10.0.0.0/8"]);
    for bad in [
        "",
        "10.0.0.0/8,",
        "10.0.0.0/8, 1.0.0.0/8",
        "10.0.0.0",
        "10.0.0.0/33",
        "::1/129",
    ] {
        let e = err(&["-http-loader-block-networks", bad], &[]);
        assert!(
            matches!(e, ConfigError::Usage(ref m) if m.contains("invalid CIDR address")),
            "{bad:?}"
        );
    }
}

#[test]
fn environment_values() {
    let cfg = ok(
        &[],
        &[
            ("IMAGOR_UNSAFE", "1"),
            ("VIPS_CONCURRENCY", "0b11"),
            ("DEBUG", ""),
        ],
    );
    assert!(cfg.bool("imagor-unsafe"));
    assert_eq!(cfg.int("vips-concurrency"), 3);
    assert!(!cfg.is_set("debug"));
    // Only the exact upper-case name: no prefix, no other spelling.
    let cfg = ok(
        &[],
        &[
            ("imagor_secret", "x"),
            ("IMAGOR-SECRET", "y"),
            ("Port", "1"),
        ],
    );
    assert_eq!(cfg.str("imagor-secret"), "");
    assert_eq!(cfg.int("port"), 8000);
    // A set flag ignores its environment variable, even a bad one.
    assert_eq!(ok(&["-port=5"], &[("PORT", "nope")]).int("port"), 5);
}

#[test]
fn bad_environment_value_names_the_variable() {
    let e = err(&[], &[("PORT", "http"), ("DEBUG", "yes")]);
    // ff visits flags by name: -debug before -port.
    let msg = "error parsing environment variables: error setting flag \"debug\" from environment variable \"DEBUG\": parse error";
    assert_eq!(e, ConfigError::Invalid(msg.to_owned()));
    assert_eq!(e.exit_code(), 2);
    assert_eq!(e.stderr_text(), format!("{msg}\n"));
    let e = err(&[], &[("HTTP_LOADER_BLOCK_NETWORKS", "x")]);
    assert!(
        e.to_string()
            .ends_with("\"HTTP_LOADER_BLOCK_NETWORKS\": invalid CIDR address: x"),
        "{e}"
    );
    // A stray VERSION in the environment stops imagor too (quirk kept).
    assert_eq!(err(&[], &[("VERSION", "2.0")]).exit_code(), 2);
}

#[test]
fn version_from_any_source() {
    let file = env_file("version=1\n");
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: [Case; 3] = [
        (vec!["-version"], vec![]),
        (vec![], vec![("VERSION", "true")]),
        (vec!["-config", &file], vec![]),
    ];
    for (argv, env) in cases {
        let e = err(&argv, &env);
        assert_eq!(e, ConfigError::Version);
        assert_eq!(e.exit_code(), 0);
        assert_eq!(e.stdout_text(), format!("{VERSION}\n"));
        assert_eq!(e.stdout_text(), "1.9.5\n");
        assert_eq!(e.stderr_text(), "");
    }
    // A bad value elsewhere is reported first.
    assert_eq!(err(&["-version", "-port=x"], &[]).exit_code(), 2);
    assert!(ok(&["-version=false"], &[]).is_set("version"));
}

#[test]
fn env_file_edge_cases() {
    let file = env_file(
        "# comment\n\
         \n\
         \x20 IMAGOR_SECRET = \"quoted \\\"secret\\\"\\t\" \r\n\
         imagor-base-params='x'\n\
         server-path-prefix=`/raw\\n`\n\
         export PORT=1\n\
         prometheus-bind=:5000 # not a comment\n\
         imagor_unsafe=true\n\
         UNKNOWN_THING=1\n\
         unknown-flag=2\n\
         SERVER_ADDRESS=first\n\
         server-address=second\n\
         BIND=\"\"\n\
         vips-disable-filters='ab'\n\
         config=/elsewhere\n",
    );
    let cfg = ok(&["-config", &file], &[]);
    assert_eq!(cfg.str("imagor-secret"), "quoted \"secret\"\t");
    assert_eq!(cfg.str("imagor-base-params"), "x");
    assert_eq!(cfg.str("server-path-prefix"), "/raw\\n");
    assert_eq!(cfg.int("port"), 8000, "`export PORT` is not a flag");
    assert_eq!(cfg.str("prometheus-bind"), ":5000 # not a comment");
    assert!(
        !cfg.bool("imagor-unsafe"),
        "lower-case env form is not a key"
    );
    assert_eq!(cfg.str("server-address"), "second", "later lines win");
    assert!(cfg.is_set("bind") && cfg.str("bind").is_empty());
    assert_eq!(cfg.str("vips-disable-filters"), "'ab'");
    // `config=` in the file is skipped: -config was given.
    assert_eq!(cfg.str("config"), file);
    assert_eq!(cfg.source("config"), Source::CommandLine);
}

#[test]
fn env_file_errors_name_the_file_line() {
    let cases = [
        ("PORT=1\nPORT=\n", "line 2: invalid line: PORT="),
        ("# c\n=1\n", "line 2: invalid line: =1"),
        ("JUST_A_NAME\n", "line 1: invalid line: JUST_A_NAME"),
        ("\n\nPORT=x\n", "line 3: error setting flag \"PORT\" from config file: parse error"),
        ("debug=maybe\n", "line 1: error setting flag \"debug\" from config file: parse error"),
        ("HTTP_LOADER_BLOCK_NETWORKS=1.2.3.4\n", "line 1: error setting flag \"HTTP_LOADER_BLOCK_NETWORKS\" from config file: invalid CIDR address: 1.2.3.4"),
    ];
    for (text, tail) in cases {
        let file = env_file(text);
        let e = err(&["-config", &file], &[]);
        let want = format!("config file \"{file}\" {tail}");
        assert_eq!(e, ConfigError::Invalid(want.clone()), "{text:?}");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.stderr_text(), format!("{want}\n"));
    }
    // Flags set earlier skip their lines, bad or not; unknown keys too.
    let file = env_file("PORT=x\nDEBUG=maybe\nNOPE=\"\n");
    let cfg = ok(&["-config", &file, "-port=1"], &[("DEBUG", "1")]);
    assert_eq!(cfg.int("port"), 1);
    assert!(cfg.bool("debug"));
}

#[test]
fn config_file_choice() {
    let file = env_file("IMAGOR_SECRET=from-file\n");
    // -config, CONFIG, or none at all.
    assert_eq!(
        ok(&["-config", &file], &[]).str("imagor-secret"),
        "from-file"
    );
    assert_eq!(
        ok(&[], &[("CONFIG", &file)]).str("imagor-secret"),
        "from-file"
    );
    assert_eq!(
        ok(&["-config="], &[("CONFIG", &file)]).str("imagor-secret"),
        ""
    );
    let missing = scratch_dir().join("missing.env");
    let cfg = ok(&["-config", &missing.to_string_lossy()], &[]);
    assert_eq!(cfg.config_file(), None);
    // A directory opens but reads nothing (as Go's scanner errors are ignored).
    let dir = scratch_dir();
    assert_eq!(
        ok(&["-config", &dir.to_string_lossy()], &[]).int("port"),
        8000
    );
    // A path that cannot be opened at all stops imagor.
    let e = err(&["-config", &format!("{file}/below")], &[]);
    assert!(
        matches!(e, ConfigError::Invalid(ref m) if m.contains("open ")),
        "{e}"
    );
}

#[test]
fn default_env_file_is_relative_to_the_working_directory() {
    drop(in_clean_cwd());
    let _lock = CWD.write().unwrap_or_else(|e| e.into_inner());
    let before = std::env::current_dir().expect("cwd");
    let dir = scratch_dir();
    std::fs::write(
        dir.join(".env"),
        "IMAGOR_SECRET=dot-env\nport=1234\nconfig=/elsewhere\n",
    )
    .expect("write");
    std::env::set_current_dir(&dir).expect("chdir");
    let none = |_: &str| None;
    let found = parse(&[], &none);
    let disabled = parse(&args(&["-config", ""]), &none);
    std::env::set_current_dir(&before).expect("chdir back");
    let found = found.expect("parse with ./.env");
    assert_eq!(found.str("imagor-secret"), "dot-env");
    assert_eq!(found.int("port"), 1234);
    // The file may set `config`; it is not read again.
    assert_eq!(found.config_file(), Some(".env"));
    assert_eq!(found.str("config"), "/elsewhere");
    assert_eq!(disabled.expect("parse").str("imagor-secret"), "");
}

#[test]
fn accessors_and_diagnostics() {
    let cfg = ok(
        &["-imagor-signer-truncate=0o20", "-vips-cache-ttl=1h1m1.5s"],
        &[],
    );
    assert_eq!(cfg.int("imagor-signer-truncate"), 16);
    assert_eq!(
        cfg.duration("vips-cache-ttl"),
        Duration::from_millis(3_661_500)
    );
    let shown: HashMap<&str, String> = cfg
        .iter()
        .map(|(f, v, _)| (f.name, v.to_string()))
        .collect();
    assert_eq!(shown["vips-cache-ttl"], "1h1m1.5s");
    assert_eq!(shown["imagor-signer-truncate"], "16");
    assert_eq!(shown["imagor-cache-header-swr"], "24h0m0s");
    assert_eq!(cfg.get("no-such-flag"), None);
    assert_eq!(cfg.get("port"), Some(&Value::Int(8000)));
    let sources: Vec<Source> = cfg
        .iter()
        .filter(|(_, _, s)| *s != Source::Default)
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(sources, [Source::CommandLine, Source::CommandLine]);
}

#[test]
#[should_panic(expected = "not a string flag")]
fn accessor_of_the_wrong_kind_panics() {
    let _ = Config::defaults().str("port");
}
