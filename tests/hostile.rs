//! Hostile input: a corpus generated in memory at test time (recipes of
//! `shared/docs/SECURITY-NOTES.md` §2.4: decompression bombs, huge
//! canvases, frame bombs, truncated copies of every testdata image,
//! malformed EXIF, SVG entity/include/remote-reference tricks, PDF page
//! bombs, ImageMagick probes, empty and random bytes) is fed to
//! `Imagor::process(bytes, "fit-in/100x100/filters:format(png)/x")` with the
//! default options.
//!
//! Every case must end, without a panic, in either an `Ok` PNG no larger
//! than 100x100 or a typed error with status 400, 406, 413 or 422 (the
//! empty input may also be imagor's 404, see `also_allowed`). Each case
//! runs in its own thread with a generous wall-clock bound (hang detection
//! only, never a speed assertion). The whole corpus then runs again from 8
//! threads sharing one `Imagor` and must classify every case the same way.
//! A loopback listener stands in for a remote host that SVG references
//! point at: it must see no connection.
//!
//! Run: `cargo test -p imagor-tests --test hostile -- --nocapture` (prints
//! the case -> result table).

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use imagor::vips::Image;
use imagor::{Imagor, Options};

const PATH: &str = "fit-in/100x100/filters:format(png)/x";
/// For cases named `... -> gif`: the output keeps the animation, so every
/// frame is decoded (subject to `max_animation_frames`).
const ANIMATED_PATH: &str = "fit-in/100x100/x";
/// Hang detection per case.
const CASE_BOUND: Duration = Duration::from_secs(20);
/// Hang detection for the 8-thread run of the whole corpus.
const PARALLEL_BOUND: Duration = Duration::from_secs(600);
const ALLOWED_STATUS: &[u16] = &[400, 406, 413, 422];

// ---------------------------------------------------------------- builders

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Bits of a deflate stream, least significant first.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.acc |= ((value >> i) & 1) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

/// zlib stream of `n` zero bytes: one fixed-Huffman block of a literal 0
/// followed by length-258/distance-1 copies (13 bits per 258 bytes), so a
/// 400 MB bomb is ~2.5 MB.
fn zlib_zeros(n: usize) -> Vec<u8> {
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman
    let lit0 = |b: &mut Bits| b.code(0x30, 8);
    let mut left = n;
    if left > 0 {
        lit0(&mut b);
        left -= 1;
    }
    while left >= 258 {
        b.code(0xC5, 8); // length symbol 285 = 258
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        lit0(&mut b);
    }
    b.code(0, 7); // end of block
    if b.n > 0 {
        b.out.push(b.acc as u8);
    }
    let adler = (((n % 65521) as u32) << 16) | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    let mut crc_in = kind.to_vec();
    crc_in.extend_from_slice(data);
    v.extend_from_slice(&crc32(&crc_in).to_be_bytes());
    v
}

/// 8-bit greyscale PNG with the given IHDR size and IDAT.
fn png(w: u32, h: u32, idat: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(chunk(b"IHDR", &ihdr));
    v.extend_from_slice(extra);
    v.extend(chunk(b"IDAT", idat));
    v.extend(chunk(b"IEND", b""));
    v
}

fn gif(sw: u16, sh: u16, frames: usize, fw: u16, fh: u16) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    for v in [sw, sh] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    b.extend_from_slice(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0");
    for _ in 0..frames {
        b.extend_from_slice(b"\x21\xf9\x04\0\x01\0\0\0\x2c\0\0\0\0");
        b.extend_from_slice(&fw.to_le_bytes());
        b.extend_from_slice(&fh.to_le_bytes());
        b.extend_from_slice(b"\0\x02\x02\x44\x01\0");
    }
    b.push(0x3b);
    b
}

fn bmp(w: i32, h: i32, bpp: u16, payload: &[u8]) -> Vec<u8> {
    let mut dib = Vec::new();
    dib.extend_from_slice(&40u32.to_le_bytes());
    dib.extend_from_slice(&w.to_le_bytes());
    dib.extend_from_slice(&h.to_le_bytes());
    dib.extend_from_slice(&1u16.to_le_bytes());
    dib.extend_from_slice(&bpp.to_le_bytes());
    dib.extend_from_slice(&0u32.to_le_bytes());
    dib.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    for v in [2835u32, 2835, 0, 0] {
        dib.extend_from_slice(&v.to_le_bytes());
    }
    let off = 14 + dib.len() as u32;
    let mut v = b"BM".to_vec();
    v.extend_from_slice(&(off + payload.len() as u32).to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&off.to_le_bytes());
    v.extend(dib);
    v.extend_from_slice(payload);
    v
}

/// A JPEG marker segment.
fn seg(marker: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff, marker];
    v.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn sof2_65535() -> Vec<u8> {
    let mut v = b"\xff\xd8".to_vec();
    let mut dqt = vec![0];
    dqt.extend_from_slice(&[1; 64]);
    v.extend(seg(0xDB, &dqt));
    v.extend(seg(0xC2, &[8, 0xff, 0xff, 0xff, 0xff, 1, 1, 0x11, 0]));
    let mut dht = vec![0, 1];
    dht.extend_from_slice(&[0; 16]);
    v.extend(seg(0xC4, &dht));
    v.extend(seg(0xDA, &[1, 1, 0, 0, 0, 0]));
    v.extend_from_slice(&[0; 16]);
    v.extend_from_slice(b"\xff\xd9");
    v
}

fn save(img: &Image, saver: &str, interlace: bool) -> Vec<u8> {
    common::save(img, saver, &[("interlace", interlace)]).expect("libvips encodes the corpus")
}

/// A small valid JPEG with an APP1 segment spliced in after SOI.
fn jpeg_with_app1(app1: &[u8]) -> Vec<u8> {
    let base = Image::black(64, 48, 3).expect("vips black");
    let clean = save(&base, "jpegsave_buffer", false);
    let mut v = clean[..2].to_vec();
    v.extend(seg(0xE1, app1));
    v.extend_from_slice(&clean[2..]);
    v
}

fn exif(body: &[u8]) -> Vec<u8> {
    let mut v = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    v.extend_from_slice(body);
    v
}

/// A PDF from object bodies (object i+1 = bodies[i]), with a valid xref.
fn pdf(bodies: &[String]) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(v.len());
        v.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = v.len();
    v.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1).as_bytes());
    for o in offsets {
        v.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    v.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            bodies.len() + 1
        )
        .as_bytes(),
    );
    v
}

fn pdf_pages(kids: &str, count: usize, extra: Vec<String>) -> Vec<u8> {
    let mut bodies = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!("<< /Type /Pages /Kids [{kids}] /Count {count} >>"),
    ];
    bodies.extend(extra);
    pdf(&bodies)
}

fn svg(attrs: &str, body: &str) -> Vec<u8> {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" {attrs}>{body}</svg>"
    )
    .into_bytes()
}

// ------------------------------------------------------------------ corpus

fn corpus(canary_port: u16) -> Vec<(String, Vec<u8>)> {
    let mut c: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| c.push((name.to_owned(), bytes));

    // PNG
    add(
        "png 100000x100000 header only",
        png(100_000, 100_000, &zlib_zeros(64), b""),
    );
    add(
        "png 65535x65535 header only",
        png(65_535, 65_535, &zlib_zeros(64), b""),
    );
    add(
        "png 1x2147483647",
        png(1, 0x7fff_ffff, &zlib_zeros(64), b""),
    );
    add("png 0x10", png(0, 10, &zlib_zeros(64), b""));
    add(
        "png 20000x20000 real zeros",
        png(20_000, 20_000, &zlib_zeros(20_000 * 20_001), b""),
    );
    let text: Vec<u8> = (0..100_000)
        .flat_map(|_| chunk(b"tEXt", b"k\0vvvvvvvv"))
        .collect();
    add("png 100000 tEXt chunks", png(1, 1, &zlib_zeros(2), &text));
    // GIF
    add("gif 10000 frames 1x1", gif(1, 1, 10_000, 1, 1));
    add("gif 500 frames 1000x1000", gif(1000, 1000, 500, 1000, 1000));
    add("gif 65535x65535", gif(65_535, 65_535, 1, 1, 1));
    add("gif 10000 frames 1x1 -> gif", gif(1, 1, 10_000, 1, 1));
    add(
        "gif 500 frames 1000x1000 -> gif",
        gif(1000, 1000, 500, 1000, 1000),
    );
    let mut cut = gif(1, 1, 10_000, 1, 1);
    cut.truncate(cut.len() - 12);
    add("gif 10000 frames truncated", cut);
    // BMP
    add("bmp 512x1 40 bpp", bmp(512, 1, 40, &[0; 2560]));
    add("bmp 60000x60000", bmp(60_000, 60_000, 24, &[0; 16]));
    add("bmp 4x-2147483647", bmp(4, -2_147_483_647, 24, &[0; 48]));
    // JPEG
    add("jpeg SOF2 65535x65535", sof2_65535());
    let mut bomb_ifd = 0xFFFFu16.to_be_bytes().to_vec();
    bomb_ifd.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0x03, 0xE7, 0, 0, 0, 0, 0, 8]);
    add(
        "jpeg exif ifd count 65535, orientation 999, ifd loop",
        jpeg_with_app1(&exif(&bomb_ifd)),
    );
    let orient9 = [0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0];
    add("jpeg exif orientation 9", jpeg_with_app1(&exif(&orient9)));
    let mut rng = common::XorShift(0x1A2B_3C4D_5E6F_7788);
    let mut garbage = b"Exif\0\0".to_vec();
    garbage.extend(rng.bytes(400));
    add("jpeg exif garbage", jpeg_with_app1(&garbage));
    let flat = Image::black(8000, 8000, 3).expect("vips black 8000x8000");
    add(
        "jpeg progressive 8000x8000",
        save(&flat, "jpegsave_buffer", true),
    );
    // SVG
    let canary = format!("http://127.0.0.1:{canary_port}/x.png");
    add(
        "svg 100000x100000",
        svg("width=\"100000\" height=\"100000\"", ""),
    );
    add(
        "svg 1000000x1000000",
        svg(
            "width=\"1000000\" height=\"1000000\"",
            "<rect width=\"10\" height=\"10\"/>",
        ),
    );
    add(
        "svg viewBox 0 0 0 0",
        svg("viewBox=\"0 0 0 0\"", "<rect width=\"10\" height=\"10\"/>"),
    );
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>";
    add(
        "svg XXE file entity",
        [
            xxe.as_bytes(),
            &svg("width=\"50\" height=\"50\"", "<text y=\"20\">&xxe;</text>"),
        ]
        .concat(),
    );
    let remote = format!("<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY r SYSTEM \"{canary}\">]>");
    add(
        "svg external entity to canary",
        [
            remote.as_bytes(),
            &svg("width=\"50\" height=\"50\"", "<text y=\"20\">&r;</text>"),
        ]
        .concat(),
    );
    add(
        "svg image href file",
        svg(
            "width=\"50\" height=\"50\"",
            "<image xlink:href=\"file:///etc/passwd\" width=\"50\" height=\"50\"/>",
        ),
    );
    add(
        "svg image href canary",
        svg(
            "width=\"50\" height=\"50\"",
            &format!(
                "<image href=\"{canary}\" xlink:href=\"{canary}\" width=\"50\" height=\"50\"/>"
            ),
        ),
    );
    let xi = "xmlns:xi=\"http://www.w3.org/2001/XInclude\" width=\"50\" height=\"50\"";
    add(
        "svg xi:include /etc/passwd",
        svg(
            xi,
            "<text y=\"20\"><xi:include href=\"/etc/passwd\" parse=\"text\"/></text>",
        ),
    );
    add("svg xi:include .?../ traversal", svg(xi, "<text y=\"20\"><xi:include href=\".?../../../../../../../etc/passwd\" parse=\"text\"/></text>"));
    let mut lol = String::from("<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        lol.push_str(&format!(
            "<!ENTITY l{i} \"{}\">",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    lol.push_str("]>");
    add(
        "svg billion laughs",
        [
            lol.as_bytes(),
            &svg("width=\"50\" height=\"50\"", "<text y=\"20\">&l9;</text>"),
        ]
        .concat(),
    );
    add(
        "svg invalid utf-8 in text",
        [
            &svg("width=\"50\" height=\"50\"", "<text y=\"20\">")[..],
            b"\xff\xfe\xc3\x28\xa0\xa1",
            b"</text></svg>",
        ]
        .concat(),
    );
    add(
        "svg script and onload",
        svg(
            "width=\"50\" height=\"50\" onload=\"alert(1)\"",
            "<script>alert(1)</script><rect width=\"10\" height=\"10\"/>",
        ),
    );
    // PDF
    let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>".to_owned();
    add(
        "pdf MediaBox 14400x14400",
        pdf_pages("3 0 R", 1, vec![page]),
    );
    add("pdf Pages kids cycle", pdf_pages("2 0 R", 1, Vec::new()));
    let kids: Vec<String> = (3..10_003).map(|i| format!("{i} 0 R")).collect();
    let pages = (0..10_000)
        .map(|_| "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>".to_owned())
        .collect();
    add("pdf 10000 pages", pdf_pages(&kids.join(" "), 10_000, pages));
    // ImageMagick reachability probes (must not reach a coder).
    add("mvg text:/etc/passwd", b"push graphic-context\nviewbox 0 0 640 480\nimage over 0,0 0,0 'text:/etc/passwd'\npop graphic-context\n".to_vec());
    add("msl document", b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<image>\n<read filename=\"/etc/passwd\"/>\n<write filename=\"/tmp/imagor-msl-probe.png\"/>\n</image>\n".to_vec());
    // Trivial
    add("empty", Vec::new());
    add("one byte 0xff", vec![0xff]);
    add("png magic only", b"\x89PNG\r\n\x1a\n".to_vec());
    add("jpeg magic only", b"\xff\xd8\xff".to_vec());
    add("gif magic only", b"GIF89a".to_vec());
    add("webp magic only", b"RIFF\0\0\0\0WEBP".to_vec());
    add("random 4 KiB", rng.bytes(4096));
    add("random 64 KiB", rng.bytes(65_536));
    // Truncated copies of every testdata image.
    let mut files: Vec<_> = std::fs::read_dir(common::testdata())
        .expect("testdata/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            !matches!(ext, "md" | "json" | "imagor" | "")
        })
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for pct in [10, 50, 90] {
            add(
                &format!("{name} cut at {pct}%"),
                bytes[..bytes.len() * pct / 100].to_vec(),
            );
        }
    }
    c
}

// ------------------------------------------------------------------ runner

/// How a case ended: "ok" or "<status> <code>", or a violation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    Ok,
    Error(u16, &'static str),
    Violation(String),
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Class::Ok => write!(f, "ok"),
            Class::Error(s, c) => write!(f, "{s} {c}"),
            Class::Violation(v) => write!(f, "VIOLATION {v}"),
        }
    }
}

/// Statuses a specific case may answer besides [`ALLOWED_STATUS`].
fn also_allowed(case: &str) -> &'static [u16] {
    match case {
        // imagor answers an empty blob with ErrNotFound (404), as it does
        // for a loader that returns nothing; still a typed, clean refusal.
        "empty" => &[404],
        _ => &[],
    }
}

fn classify(imagor: &Imagor, case: &str, bytes: &[u8]) -> Class {
    let allowed = |s: u16| ALLOWED_STATUS.contains(&s) || also_allowed(case).contains(&s);
    let animated = case.ends_with("-> gif");
    let path = if animated { ANIMATED_PATH } else { PATH };
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| imagor.process(bytes, path)));
    match result {
        Err(_) => Class::Violation("panic".to_owned()),
        Ok(Err(e)) if allowed(e.status()) => Class::Error(e.status(), e.code()),
        Ok(Err(e)) => Class::Violation(format!(
            "status {} {}: {}",
            e.status(),
            e.code(),
            e.message()
        )),
        Ok(Ok(out)) => match common::decode(&out.data) {
            Ok(d)
                if d.width <= 100
                    && d.page_height <= 100
                    && (animated || (d.format == "png" && d.pages == 1)) =>
            {
                Class::Ok
            }
            Ok(d) => Class::Violation(format!(
                "output {} {}x{} pages {}",
                d.format, d.width, d.page_height, d.pages
            )),
            Err(e) => Class::Violation(format!("undecodable output: {e}")),
        },
    }
}

/// Run one case in its own thread; a hang past `CASE_BOUND` is a violation.
fn run_bounded(imagor: &Arc<Imagor>, case: &str, bytes: &Arc<Vec<u8>>) -> (Class, Duration) {
    let (tx, rx) = mpsc::channel();
    let (im, data, name) = (Arc::clone(imagor), Arc::clone(bytes), case.to_owned());
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(classify(&im, &name, &data));
    });
    let class = match rx.recv_timeout(CASE_BOUND) {
        Ok(c) => c,
        Err(_) => Class::Violation(format!("no answer within {CASE_BOUND:?}")),
    };
    (class, start.elapsed())
}

/// Count connections to a loopback port standing in for a remote host.
fn canary() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback canary port");
    let port = listener.local_addr().expect("canary address").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, hits)
}

#[test]
fn hostile_corpus() {
    let (port, hits) = canary();
    let cases: Vec<(String, Arc<Vec<u8>>)> = corpus(port)
        .into_iter()
        .map(|(n, b)| (n, Arc::new(b)))
        .collect();
    let imagor = Arc::new(Imagor::new(Options::default()).expect("Imagor::new(default)"));

    // Sequential, one bounded thread per case.
    let mut sequential = BTreeMap::new();
    let mut violations = Vec::new();
    println!("{:<48} {:>9} {:>8}  result", "case", "bytes", "ms");
    for (name, bytes) in &cases {
        let (class, took) = run_bounded(&imagor, name, bytes);
        println!(
            "{name:<48} {:>9} {:>8}  {class}",
            bytes.len(),
            took.as_millis()
        );
        if let Class::Violation(v) = &class {
            violations.push(format!("{name}: {v}"));
        }
        sequential.insert(name.clone(), class);
    }

    // The whole corpus again from 8 threads sharing one Imagor.
    let queue = Arc::new(Mutex::new(cases.iter().rev().cloned().collect::<Vec<_>>()));
    let parallel = Arc::new(Mutex::new(BTreeMap::new()));
    let (done_tx, done_rx) = mpsc::channel();
    for _ in 0..8 {
        let (queue, parallel, imagor, done) = (
            Arc::clone(&queue),
            Arc::clone(&parallel),
            Arc::clone(&imagor),
            done_tx.clone(),
        );
        std::thread::spawn(move || {
            loop {
                let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                let Some((name, bytes)) = next else { break };
                let class = classify(&imagor, &name, &bytes);
                if let Ok(mut p) = parallel.lock() {
                    p.insert(name, class);
                }
            }
            let _ = done.send(());
        });
    }
    drop(done_tx);
    let deadline = Instant::now() + PARALLEL_BOUND;
    for _ in 0..8 {
        let left = deadline.saturating_duration_since(Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            violations.push(format!(
                "8-thread run did not finish within {PARALLEL_BOUND:?}"
            ));
            break;
        }
    }
    let parallel = parallel.lock().expect("parallel results").clone();
    for (name, class) in &sequential {
        match parallel.get(name) {
            Some(p) if p == class => {}
            Some(p) => violations.push(format!("{name}: sequential {class}, 8 threads {p}")),
            None => violations.push(format!("{name}: no result from the 8-thread run")),
        }
    }

    let seen = hits.load(Ordering::SeqCst);
    if seen > 0 {
        violations.push(format!("the loopback canary saw {seen} connection(s)"));
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for class in sequential.values() {
        *counts.entry(class.to_string()).or_default() += 1;
    }
    println!("{} cases: {counts:?}; canary hits: {seen}", cases.len());
    assert!(
        violations.is_empty(),
        "hostile input violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn builders_are_well_formed() {
    // The bombs must be what they claim: libvips reads the declared sizes.
    let header = |bytes: &[u8]| {
        let (img, loader) = common::load(bytes, false).expect("header loads");
        (loader, img.width(), img.height())
    };
    let (l, w, h) = header(&png(100_000, 100_000, &zlib_zeros(64), b""));
    assert_eq!((l.as_str(), w, h), ("pngload_buffer", 100_000, 100_000));
    let (_, w, h) = header(&png(3, 2, &zlib_zeros(2 * 4), b""));
    assert_eq!((w, h), (3, 2));
    let (l, w, h) = header(&gif(1000, 1000, 3, 1000, 1000));
    assert_eq!((l.as_str(), w, h), ("gifload_buffer", 1000, 1000));
    let (l, w, h) = header(&jpeg_with_app1(&exif(&[
        0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0,
    ])));
    assert_eq!((l.as_str(), w, h), ("jpegload_buffer", 64, 48));
    // A small zero PNG decodes to zeros (the deflate writer is right).
    let small = png(300, 2, &zlib_zeros(2 * 301), b"");
    let d = common::decode(&small).expect("small zero png decodes");
    assert!(d.frames[0].iter().all(|&v| v == 0.0));
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
}
