//! A real S3 server for the object-storage tests: a single-node Garage on
//! 127.0.0.1 (sqlite metadata, a scratch directory, free ports), with a
//! key and the bucket `imagor` created through its CLI. Started per test
//! binary and killed when dropped (and by the kernel if the test process
//! dies: PDEATHSIG). The binary comes from `$GARAGE_BIN`, `PATH` or
//! `~/.cargo/bin` (`tests/services/garage.sh install` builds it).
#![allow(dead_code)] // each test binary uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Garage binary, or a panic that says how to get it.
pub fn garage_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GARAGE_BIN") {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("garage");
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
    let p = home.join("bin/garage");
    assert!(
        p.is_file(),
        "no garage binary: run `tests/services/garage.sh install` (cargo install garage --locked) \
         or set GARAGE_BIN"
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
        if let Some(rest) = name.strip_prefix("imagor-garage-") {
            let pid = rest.split('-').next().unwrap_or("");
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The Garage shared by the tests of one test binary (never stopped: the
/// kernel kills it with the test process).
pub fn shared() -> &'static Garage {
    static SHARED: std::sync::OnceLock<Garage> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let g = Garage::start();
        eprintln!("garage started in {:?}", g.started_in);
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

/// A running single-node Garage.
pub struct Garage {
    child: Option<Child>,
    dir: PathBuf,
    config: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The access key allowed on every bucket this helper creates.
    pub key: String,
    pub secret: String,
    /// Time from spawn to a usable bucket.
    pub started_in: Duration,
}

impl Garage {
    /// Start a fresh node with bucket `imagor`.
    pub fn start() -> Garage {
        let t0 = Instant::now();
        remove_stale_dirs();
        let dir =
            std::env::temp_dir().join(format!("imagor-garage-{}-{}", std::process::id(), hex(4)));
        std::fs::create_dir_all(dir.join("meta")).expect("garage dir");
        std::fs::create_dir_all(dir.join("data")).expect("garage dir");
        let (s3, rpc, admin) = (free_port(), free_port(), free_port());
        let config = dir.join("garage.toml");
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\n\
                 [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                 root_domain = \".s3.garage.localhost\"\n\n[admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
                d = dir.display(),
                secret = hex(32),
            ),
        )
        .expect("garage config");
        let mut g = Garage {
            child: None,
            dir,
            config,
            endpoint: format!("http://127.0.0.1:{s3}"),
            key: format!("GK{}", hex(12)),
            secret: hex(32),
            started_in: Duration::ZERO,
        };
        g.spawn();
        let node = g.cli(&["node", "id", "-q"]);
        let node = node.trim().get(..64).expect("node id").to_owned();
        g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        g.cli(&["layout", "apply", "--version", "1"]);
        let (key, secret) = (g.key.clone(), g.secret.clone());
        g.cli(&["key", "import", "--yes", "-n", "imagor", &key, &secret]);
        g.create_bucket("imagor");
        g.started_in = t0.elapsed();
        g
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(garage_bin());
        cmd.arg("-c").arg(&self.config).arg("server");
        cmd.env("RUST_LOG", "warn");
        // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let log = std::fs::File::create(self.dir.join("garage.log")).expect("garage log");
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
        self.child = Some(rx.recv().expect("spawner").expect("spawn garage"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new(garage_bin())
                .arg("-c")
                .arg(&self.config)
                .arg("status")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok && std::net::TcpStream::connect(self.addr()).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("garage exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "garage did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn addr(&self) -> String {
        self.endpoint.trim_start_matches("http://").to_owned()
    }

    /// Garage's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("garage.log")).unwrap_or_default()
    }

    /// Run `garage <args>` against this node; panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(garage_bin())
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run garage cli");
        assert!(
            out.status.success(),
            "garage {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new bucket the key may read, write and own.
    pub fn create_bucket(&self, name: &str) {
        self.cli(&["bucket", "create", name]);
        self.cli(&[
            "bucket", "allow", "--read", "--write", "--owner", name, "--key", &self.key,
        ]);
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

    /// Options with path-style addressing, Garage's region and the key,
    /// on top of `base`.
    pub fn options(&self, base: imagor::Options) -> imagor::Options {
        imagor::Options {
            s3_endpoint: self.endpoint.clone(),
            s3_force_path_style: true,
            aws_region: "garage".into(),
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
            region: "garage".into(),
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

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Put `data` at `key` in `bucket` (raw key).
pub fn put(g: &Garage, bucket: &str, key: &str, data: &[u8]) {
    use imagor::storage::Storage;
    let blob = imagor::Blob::new(data.to_vec());
    pollster::block_on(g.raw(bucket).put(key, &blob)).expect("put object");
}

/// Get `key` from `bucket` (raw key).
pub fn get(g: &Garage, bucket: &str, key: &str) -> imagor::Result<imagor::Blob> {
    use imagor::loader::Loader;
    pollster::block_on(g.raw(bucket).get(Default::default(), key))
}
