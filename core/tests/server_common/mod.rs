//! Shared helpers of the end-to-end server tests (`server_*.rs`): start the
//! real `imagor` binary on a free loopback port, talk HTTP/1.1 to it
//! byte-exact over a `TcpStream`, scratch directories, and small readers of
//! image containers (GIF frames, animated WebP) for the checks.
//!
//! The client is hand-written on purpose: the request target goes on the
//! wire exactly as given (`%2e%2e`, `..\`, `//`), headers repeat as sent,
//! and the response headers come back in order with repeated names (two
//! `Vary` lines stay two lines).
#![allow(dead_code)] // each test binary uses a different part of this module

mod http;
mod media;
pub mod vectors;

#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use media::*;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_imagor")
}

/// The workspace root (`core/..`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

/// `<workspace>/testdata`.
pub fn testdata() -> PathBuf {
    workspace().join("testdata")
}

/// A file of `testdata/`.
pub fn testdata_file(name: &str) -> Vec<u8> {
    let p = testdata().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// A directory removed when dropped, under one root per test process
/// (roots of earlier runs whose process is gone are removed first).
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh empty directory; `name` only helps reading logs.
    pub fn new(name: &str) -> TempDir {
        static ROOT: OnceLock<PathBuf> = OnceLock::new();
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = ROOT.get_or_init(|| {
            let tmp = std::env::temp_dir();
            for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = file.strip_prefix("imagor-e2e-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
            tmp.join(format!("imagor-e2e-{}", std::process::id()))
        });
        let dir = root.join(format!("{}-{name}", N.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `self/rel` as a string (flag values).
    pub fn join(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }

    /// Write `bytes` at `rel`, creating folders.
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every regular file under `dir`, as paths relative to it, sorted; names
/// starting with `.` (in-progress atomic writes) are left out.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(base, &p, out),
                Ok(_) => out.push(
                    p.strip_prefix(base)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned(),
                ),
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Environment passed to every server: nothing of the caller's (imagor
/// reads `PORT`, `DEBUG`, `IMAGOR_*` ...), only what the process needs.
fn base_env(cmd: &mut Command) {
    cmd.env_clear();
    for key in ["PATH", "LD_LIBRARY_PATH", "HOME", "TMPDIR"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
}

/// A running `imagor` server; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    _cwd: TempDir,
}

/// How to start a server besides its flags.
#[derive(Default, Clone)]
pub struct Launch {
    /// Environment variables (on top of PATH and friends).
    pub env: Vec<(String, String)>,
    /// Working directory (default: an empty scratch dir, so no `./.env`).
    pub cwd: Option<PathBuf>,
    /// Do not add `-bind 127.0.0.1:<port>`: the caller passes the address
    /// (flag, env or file) for `port`.
    pub port: Option<u16>,
    /// Resource limits (`libc::RLIMIT_*`, soft, hard) set in the child
    /// before it runs.
    pub rlimits: Vec<(i32, u64, u64)>,
}

impl Server {
    /// Start `imagor <args> -bind 127.0.0.1:<free port>` and wait for its
    /// `listen` log line.
    pub fn start(args: &[String]) -> Server {
        Server::launch(args, Launch::default())
    }

    pub fn launch(args: &[String], launch: Launch) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            match Server::try_launch(args, &launch) {
                Ok(s) => return s,
                Err(log) if log.contains("in use") && launch.port.is_none() => last = log,
                Err(log) => panic!("imagor {args:?} did not start:\n{log}"),
            }
        }
        panic!("imagor {args:?} did not start:\n{last}");
    }

    fn try_launch(args: &[String], launch: &Launch) -> Result<Server, String> {
        let cwd = TempDir::new("cwd");
        let port = launch.port.unwrap_or_else(free_port);
        let mut cmd = Command::new(bin());
        cmd.args(args);
        if launch.port.is_none() {
            cmd.arg("-bind").arg(format!("127.0.0.1:{port}"));
        }
        base_env(&mut cmd);
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        // If this test process dies without dropping the server (a killed
        // run), the kernel kills the server too.
        // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
        // setrlimit is async-signal-safe too.
        let rlimits = launch.rlimits.clone();
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                for &(resource, soft, hard) in &rlimits {
                    let limit = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(resource as _, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd.current_dir(
            launch
                .cwd
                .clone()
                .unwrap_or_else(|| cwd.path().to_path_buf()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        let log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (lines, cv) = &*sink;
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                cv.notify_all();
            }
            sink.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("<eof>".into());
            sink.1.notify_all();
        });
        let mut server = Server {
            child: Some(child),
            port,
            log,
            _cwd: cwd,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = server.stderr();
            // Its `listen` line; a failed bind logs a fatal `listen` line.
            let listening = text
                .lines()
                .any(|l| l.contains("\"msg\":\"listen\"") && l.contains("\"level\":\"info\""));
            if listening {
                return Ok(server);
            }
            if text.contains("<eof>") || Instant::now() > deadline {
                server.kill();
                return Err(text);
            }
            let (lines, cv) = &*server.log;
            let guard = lines.lock().unwrap_or_else(|e| e.into_inner());
            let _ = cv.wait_timeout(guard, Duration::from_millis(50));
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.log
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Wait up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> Resp {
        self.send(&Req::get(target))
    }

    /// Send `req`; panics on a transport error (with the server's log).
    pub fn send(&self, req: &Req) -> Resp {
        send(self.port, req).unwrap_or_else(|e| {
            panic!(
                "{} {}: {e}\nserver log:\n{}",
                req.method,
                req.target,
                self.stderr()
            )
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// imagor's compact JSON error body.
pub fn error_body(message: &str, status: u16) -> String {
    format!("{{\"message\":\"{message}\",\"status\":{status}}}")
}

/// `-name=value` flags.
pub fn flags(list: &[(&str, &str)]) -> Vec<String> {
    list.iter().map(|(k, v)| format!("-{k}={v}")).collect()
}
