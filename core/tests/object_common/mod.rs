//! A real S3 server for the object-storage tests: s3s-fs (the s3s project's
//! file-system S3 server, which checks SigV4 signatures) on 127.0.0.1 with
//! a scratch directory, a free port, one key and the bucket `imagor`.
//! Started per test binary and killed when dropped (and by the kernel if
//! the test process dies: PDEATHSIG). The binary comes from `$S3S_FS_BIN`,
//! `PATH` or `~/.cargo/bin` (`tests/services/s3.sh install` builds it).
#![allow(dead_code)] // each test binary uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The region the tests sign for (s3s-fs accepts any).
pub const REGION: &str = "us-east-1";

/// The s3s-fs binary, or a panic that says how to get it.
pub fn server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("S3S_FS_BIN") {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("s3s-fs");
            if p.is_file() {
                return p;
            }
        }
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    let p = home.join("bin/s3s-fs");
    assert!(
        p.is_file(),
        "no s3s-fs binary: run `tests/services/s3.sh install` or set S3S_FS_BIN"
    );
    p
}

/// Scratch dirs of earlier test processes that are gone.
fn remove_stale_dirs() {
    for entry in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix("imagor-s3-") {
            let pid = rest.split('-').next().unwrap_or("");
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The server shared by the tests of one test binary (never stopped: the
/// kernel kills it with the test process).
pub fn shared() -> &'static S3Server {
    static SHARED: std::sync::OnceLock<S3Server> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let g = S3Server::start();
        eprintln!("s3s-fs started in {:?}", g.started_in);
        g
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let f = std::fs::File::open("/dev/urandom").expect("urandom");
    std::io::Read::read_exact(&mut &f, &mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running s3s-fs.
pub struct S3Server {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The one access key the server accepts.
    pub key: String,
    pub secret: String,
    /// Time from spawn to a usable bucket.
    pub started_in: Duration,
}

impl S3Server {
    /// Start a fresh server with bucket `imagor`.
    pub fn start() -> S3Server {
        let t0 = Instant::now();
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!("imagor-s3-{}-{}", std::process::id(), hex(4)));
        std::fs::create_dir_all(dir.join("data")).expect("s3 dir");
        let port = free_port();
        let mut g = S3Server {
            child: None,
            dir,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            key: format!("AK{}", hex(10)),
            secret: hex(20),
            started_in: Duration::ZERO,
        };
        g.create_bucket("imagor");
        g.spawn();
        g.started_in = t0.elapsed();
        g
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(server_bin());
        cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &self.key, "--secret-key", &self.secret])
            .arg(self.dir.join("data"));
        cmd.env("RUST_LOG", "warn");
        // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let log = std::fs::File::create(self.dir.join("s3.log")).expect("s3 log");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // PDEATHSIG fires when the spawning *thread* ends, and a test's
        // thread ends with the test: spawn from a thread that never ends.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(cmd.spawn());
            loop {
                std::thread::park();
            }
        });
        self.child = Some(rx.recv().expect("spawner").expect("spawn s3s-fs"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.addr()).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("s3s-fs exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("s3.log")).unwrap_or_default()
    }

    /// A new bucket (a directory under the server's root).
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.dir.join("data").join(name)).expect("bucket dir");
    }

    /// Kill the server (an outage); data stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start the server again on the same data and ports.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Options with path-style addressing, the region and the key, on top
    /// of `base`.
    pub fn options(&self, base: imagor::Options) -> imagor::Options {
        imagor::Options {
            s3_endpoint: self.endpoint.clone(),
            s3_force_path_style: true,
            aws_region: REGION.into(),
            aws_access_key_id: self.key.clone(),
            aws_secret_access_key: self.secret.clone(),
            ..base
        }
    }

    /// An S3 storage on `bucket` with raw keys (no escaping, no prefix),
    /// to seed and inspect objects.
    pub fn raw(&self, bucket: &str) -> imagor::storage::S3Storage {
        imagor::storage::S3Storage::new(imagor::storage::S3Options {
            bucket: bucket.into(),
            safe_chars: "--".into(),
            endpoint: self.endpoint.clone(),
            force_path_style: true,
            region: REGION.into(),
            access_key_id: self.key.clone(),
            secret_access_key: self.secret.clone(),
            ..Default::default()
        })
        .expect("raw s3 storage")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Put `data` at `key` in `bucket` (raw key).
pub fn put(g: &S3Server, bucket: &str, key: &str, data: &[u8]) {
    use imagor::storage::Storage;
    let blob = imagor::Blob::new(data.to_vec());
    pollster::block_on(g.raw(bucket).put(key, &blob)).expect("put object");
}

/// Get `key` from `bucket` (raw key).
pub fn get(g: &S3Server, bucket: &str, key: &str) -> imagor::Result<imagor::Blob> {
    use imagor::loader::Loader;
    pollster::block_on(g.raw(bucket).get(Default::default(), key))
}
