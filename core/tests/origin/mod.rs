//! Test origins for the HTTP loader tests: a tiny HTTP/1.1 server on
//! 127.0.0.1 (one thread per connection, `Connection: close`) with fixed
//! routes, and a canary listener that only counts the connections it gets.
//! No internet: everything listens on loopback.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// A request as the origin saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The test origin. Routes (path, query after `?`):
/// - `/`, `/ok`, anything containing `sleep` (after 50 ms): `ok`, `text/plain`;
/// - `/image/<testdata file>`: the file, with its image content type;
/// - `/text`: an HTML page;
/// - `/headers`: the request's headers, one `name: value` a line;
/// - `/cache/<file>`: the image with `Cache-Control`, `X-Origin`, `Set-Cookie`;
/// - `/redirect?to=URL` and `/to/URL`: 302 to URL; `/loop`: 302 to itself;
/// - `/big?n=BYTES`, `/big/BYTES`: that many zero bytes, no `Content-Length`
///   (ends at close);
/// - `/big-cl?n=BYTES`, `/big-cl/BYTES`: the same with `Content-Length`;
/// - `/gzip-bomb`: 32 MB of zeros gzipped (about 140 KB), `Content-Encoding: gzip`;
/// - `/status/N`: status N;
/// - `/slow/MS/<testdata file>`: the file after MS milliseconds;
/// - `/held/<testdata file>`: the file once [`Origin::release`] is called
///   (30 s at most);
/// - `/drip`: `image/jpeg` headers, then 1 KiB every 20 ms for 30 s
///   (while it runs, [`Origin::dripping`] counts it: the client closing
///   the connection ends it at the next write);
/// - an absolute-form target (`GET http://host/path`, as sent to a proxy):
///   the same routes for its path;
/// - anything else: 404.
pub struct Origin {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes of body written by `/big*` before the client went away.
    pub big_written: Arc<AtomicUsize>,
    /// `/drip` responses still being written.
    pub dripping: Arc<AtomicUsize>,
    /// Whether `/held/` responses may go.
    released: Arc<(Mutex<bool>, Condvar)>,
}

impl Origin {
    pub fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind origin");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let big_written = Arc::new(AtomicUsize::new(0));
        let dripping = Arc::new(AtomicUsize::new(0));
        let released = Arc::new((Mutex::new(false), Condvar::new()));
        let (s, b, d, r) = (
            seen.clone(),
            big_written.clone(),
            dripping.clone(),
            released.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, b, d, r) = (s.clone(), b.clone(), d.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, addr, &s, &b, &d, &r);
                });
            }
        });
        Origin {
            addr,
            seen,
            big_written,
            dripping,
            released,
        }
    }

    /// Let `/held/` responses go, now and from now on.
    pub fn release(&self) {
        *self.released.0.lock().unwrap() = true;
        self.released.1.notify_all();
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests for `target` the origin got.
    pub fn count(&self, target: &str) -> usize {
        self.seen().iter().filter(|s| s.target == target).count()
    }

    /// Wait up to `limit` for every `/drip` response to end; `true` if they
    /// did.
    pub fn drips_end_within(&self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while self.dripping.load(Ordering::SeqCst) > 0 {
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

/// Decrements `/drip`'s counter when the response ends, however it ends.
struct Dripping<'a>(&'a AtomicUsize);

impl Drop for Dripping<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("testdata")
}

/// 32 MB of zeros, gzipped once per process (fast level: a debug build
/// of the compressor takes seconds at the best level).
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..32 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    })
}

fn content_type_of(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

fn query(target: &str, key: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    out.write_all(head.as_bytes())?;
    out.write_all(body)
}

fn serve(
    stream: TcpStream,
    addr: SocketAddr,
    seen: &Mutex<Vec<Seen>>,
    big_written: &AtomicUsize,
    dripping: &AtomicUsize,
    released: &(Mutex<bool>, Condvar),
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    seen.lock().unwrap().push(Seen {
        target: target.clone(),
        headers: headers.clone(),
    });
    // A proxied request names the whole URL: serve its path (the origin
    // doubles as an HTTP proxy for the proxy tests).
    let target = match target.strip_prefix("http://") {
        Some(rest) => rest
            .find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned()),
        None => target,
    };
    let path = target.split('?').next().unwrap_or("").to_owned();
    let text = |s: &str| vec![("Content-Type", s.to_owned())];
    if path.contains("sleep") {
        std::thread::sleep(Duration::from_millis(50));
        return respond(&mut out, "200 OK", &text("text/plain"), b"ok");
    }
    if let Some(rest) = path.strip_prefix("/slow/") {
        let (ms, name) = rest.split_once('/').unwrap_or((rest, ""));
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        let data = std::fs::read(testdata().join(name)).unwrap_or_default();
        return respond(&mut out, "200 OK", &text(content_type_of(name)), &data);
    }
    if let Some(name) = path.strip_prefix("/held/") {
        let (go, changed) = released;
        let guard = go.lock().unwrap();
        drop(
            changed
                .wait_timeout_while(guard, Duration::from_secs(30), |go| !*go)
                .unwrap(),
        );
        let data = std::fs::read(testdata().join(name)).unwrap_or_default();
        return respond(&mut out, "200 OK", &text(content_type_of(name)), &data);
    }
    if path == "/drip" {
        dripping.fetch_add(1, Ordering::SeqCst);
        let _guard = Dripping(dripping);
        let head = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: image/jpeg\r\n\r\n";
        out.write_all(head.as_bytes())?;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            out.write_all(&[0u8; 1024])?;
            out.flush()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    if path == "/ok" || path == "/" {
        return respond(&mut out, "200 OK", &text("text/plain"), b"ok");
    }
    if let Some(name) = path.strip_prefix("/image/") {
        let data = std::fs::read(testdata().join(name)).unwrap_or_default();
        return respond(&mut out, "200 OK", &text(content_type_of(name)), &data);
    }
    if let Some(name) = path.strip_prefix("/cache/") {
        let data = std::fs::read(testdata().join(name)).unwrap_or_default();
        let h = vec![
            ("Content-Type", content_type_of(name).to_owned()),
            ("Cache-Control", "max-age=1234".to_owned()),
            ("X-Origin", "test-origin".to_owned()),
            ("Set-Cookie", "session=secret".to_owned()),
        ];
        return respond(&mut out, "200 OK", &h, &data);
    }
    if path == "/text" {
        return respond(&mut out, "200 OK", &text("text/html"), b"<html></html>");
    }
    if path == "/headers" {
        let body: String = headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        return respond(&mut out, "200 OK", &text("text/plain"), body.as_bytes());
    }
    if let Some(to) = target.strip_prefix("/to/") {
        return respond(&mut out, "302 Found", &[("Location", to.to_owned())], b"");
    }
    if path == "/redirect" {
        let to = query(&target, "to").unwrap_or_default();
        return respond(&mut out, "302 Found", &[("Location", to)], b"");
    }
    if path == "/loop" {
        let h = vec![("Location", format!("http://{addr}/loop"))];
        return respond(&mut out, "302 Found", &h, b"");
    }
    let sized = path
        .strip_prefix("/big-cl/")
        .map(|n| ("/big-cl", n))
        .or_else(|| path.strip_prefix("/big/").map(|n| ("/big", n)));
    let (path, n) = match sized {
        Some((p, n)) => (p.to_owned(), n.parse().ok()),
        None => (
            path.clone(),
            query(&target, "n").and_then(|v| v.parse().ok()),
        ),
    };
    if path == "/big" || path == "/big-cl" {
        let n: usize = n.unwrap_or(0);
        let mut head =
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: image/jpeg\r\n".to_owned();
        if path == "/big-cl" {
            head.push_str(&format!("Content-Length: {n}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        let chunk = [0u8; 64 * 1024];
        let mut left = n;
        while left > 0 {
            let k = left.min(chunk.len());
            out.write_all(&chunk[..k])?;
            big_written.fetch_add(k, Ordering::SeqCst);
            left -= k;
        }
        return Ok(());
    }
    if path == "/gzip-bomb" {
        let h = vec![
            ("Content-Type", "image/png".to_owned()),
            ("Content-Encoding", "gzip".to_owned()),
        ];
        return respond(&mut out, "200 OK", &h, gzip_bomb());
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let status = format!("{code} Status");
        return respond(&mut out, &status, &text("text/plain"), b"status");
    }
    respond(&mut out, "404 Not Found", &text("text/plain"), b"404")
}

/// A listener that counts connections and closes them at once: proof that
/// a refused address was never connected to.
pub struct Canary {
    pub port: u16,
    count: Arc<AtomicUsize>,
}

impl Canary {
    /// Listen on 127.0.0.1 (and on `::1` with the same port, when IPv6 is
    /// there) on a free port.
    pub fn start() -> Canary {
        let v4 = TcpListener::bind("127.0.0.1:0").expect("bind canary");
        let port = v4.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let mut listeners = vec![v4];
        if let Ok(v6) = TcpListener::bind(("::1", port)) {
            listeners.push(v6);
        }
        for l in listeners {
            let c = count.clone();
            std::thread::spawn(move || {
                for s in l.incoming() {
                    c.fetch_add(1, Ordering::SeqCst);
                    drop(s);
                }
            });
        }
        Canary { port, count }
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// The SSRF matrix of SECURITY-NOTES Appendix A as URLs: `PORT` is
/// replaced by the canary's port (loopback entries reach the canary if
/// they are ever connected to). Returns `(label, url)`.
pub fn ssrf_matrix(port: u16) -> Vec<(&'static str, String)> {
    let loopback = [
        ("127.0.0.1", "http://127.0.0.1:PORT/x.jpg"),
        ("127.0.0.2", "http://127.0.0.2:PORT/x.jpg"),
        ("127.1", "http://127.1:PORT/x.jpg"),
        ("decimal", "http://2130706433:PORT/x.jpg"),
        ("hex", "http://0x7f000001:PORT/x.jpg"),
        ("octal", "http://0177.0.0.1:PORT/x.jpg"),
        ("hex dotted", "http://0x7f.1:PORT/x.jpg"),
        ("0.0.0.0", "http://0.0.0.0:PORT/x.jpg"),
        ("0", "http://0:PORT/x.jpg"),
        ("localhost", "http://localhost:PORT/x.jpg"),
        ("LOCALHOST.", "http://LOCALHOST.:PORT/x.jpg"),
        ("[::1]", "http://[::1]:PORT/x.jpg"),
        ("[::]", "http://[::]:PORT/x.jpg"),
        ("[0:0:0:0:0:0:0:1]", "http://[0:0:0:0:0:0:0:1]:PORT/x.jpg"),
        ("mapped", "http://[::ffff:127.0.0.1]:PORT/x.jpg"),
        ("mapped hex", "http://[::ffff:7f00:1]:PORT/x.jpg"),
        ("compatible", "http://[::127.0.0.1]:PORT/x.jpg"),
        ("nat64", "http://[64:ff9b::7f00:1]:PORT/x.jpg"),
        ("6to4", "http://[2002:7f00:1::]:PORT/x.jpg"),
        (
            "teredo",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:PORT/x.jpg",
        ),
        (
            "fullwidth",
            "http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}:PORT/x.jpg",
        ),
        ("userinfo", "http://allowed@127.0.0.1:PORT/x.jpg"),
        ("fragment", "http://127.0.0.1:PORT#@allowed/x.jpg"),
        ("backslash", "http://127.0.0.1:PORT\\@allowed/x.jpg"),
        // Link-local, metadata, private, multicast: never reachable here,
        // and each is checked against the policy before it is requested.
        ("metadata", "http://169.254.169.254/latest/meta-data/"),
        ("ecs metadata", "http://169.254.170.2/v2/credentials"),
        ("fe80 zone", "http://[fe80::1%25eth0]/x.jpg"),
        ("mapped metadata", "http://[::ffff:169.254.169.254]/x.jpg"),
        ("nat64 metadata", "http://[64:ff9b::a9fe:a9fe]/x.jpg"),
        ("6to4 metadata", "http://[2002:a9fe:a9fe::]/x.jpg"),
        ("aws v6 metadata", "http://[fd00:ec2::254]/x.jpg"),
        ("10/8", "http://10.0.0.1/x.jpg"),
        ("172.16/12", "http://172.16.0.1/x.jpg"),
        ("192.168/16", "http://192.168.1.1/x.jpg"),
        ("cgnat", "http://100.64.0.1/x.jpg"),
        ("ula", "http://[fd00::1]/x.jpg"),
        ("nat64 local-use", "http://[64:ff9b:1:a00:0:100::]/x.jpg"),
        ("isatap", "http://[2001:db8::5efe:a00:1]/x.jpg"),
        ("multicast", "http://224.0.0.1/x.jpg"),
        ("broadcast", "http://255.255.255.255/x.jpg"),
    ];
    loopback
        .iter()
        .map(|(label, url)| (*label, url.replace("PORT", &port.to_string())))
        .collect()
}
