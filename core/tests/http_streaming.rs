//! Sources processed while they arrive: the HTTP loader hands a JPEG or
//! PNG body to libvips as the origin sends it. The result must be the
//! same bytes as processing the whole file, and a body that goes wrong
//! midway (cut short, past the size limit, stalled) must fail the request
//! with the loader's error, never yield a half-decoded image.
//!
//! The origin here paces its bodies (it is on 127.0.0.1 and explicitly
//! allowed). Run: `cargo test -p imagor --test http_streaming`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagor::{Error, Imagor, Options};

/// Bodies served by name, in one of these ways (`/MODE/NAME`):
/// `whole`; `trickle` (16 KiB every 5 ms, with `Content-Length`);
/// `nocl` (trickled, no `Content-Length`, ends at close); `slow` (16
/// KiB every 40 ms, with `Content-Length`); `cut`
/// (`Content-Length` of the whole, then half of it and close); `stall`
/// (half, then nothing for 30 s).
struct PacedOrigin {
    addr: SocketAddr,
    bodies: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl PacedOrigin {
    fn start() -> PacedOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let bodies: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let b = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let b = b.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &b);
                });
            }
        });
        PacedOrigin { addr, bodies }
    }

    fn host(&self, name: &str, data: Vec<u8>) {
        self.bodies.lock().unwrap().insert(name.to_owned(), data);
    }

    fn url(&self, mode: &str, name: &str) -> String {
        format!("http://{}/{mode}/{name}", self.addr)
    }
}

fn serve(stream: TcpStream, bodies: &Mutex<HashMap<String, Vec<u8>>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
    }
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let (mode, name) = target
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", ""));
    let Some(data) = bodies.lock().unwrap().get(name).cloned() else {
        return out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    };
    let kind = if name.ends_with(".png") {
        "png"
    } else {
        "jpeg"
    };
    let mut head =
        format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: image/{kind}\r\n");
    if mode != "nocl" {
        head.push_str(&format!("Content-Length: {}\r\n", data.len()));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    match mode {
        "whole" => out.write_all(&data),
        "trickle" | "nocl" => {
            for chunk in data.chunks(16 << 10) {
                out.write_all(chunk)?;
                out.flush()?;
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        }
        "slow" => {
            for chunk in data.chunks(16 << 10) {
                out.write_all(chunk)?;
                out.flush()?;
                std::thread::sleep(Duration::from_millis(40));
            }
            Ok(())
        }
        "cut" => out.write_all(&data[..data.len() / 2]),
        "stall" => {
            out.write_all(&data[..data.len() / 2])?;
            out.flush()?;
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        }
        _ => Ok(()),
    }
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name),
    )
    .expect("testdata")
}

/// Options whose HTTP loader may reach the local origin.
fn local() -> Options {
    Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        process_timeout: Duration::from_secs(60),
        ..Options::default()
    }
}

/// A 3000x2000 photo as a baseline JPEG (decoded in one pass: the kind
/// that streams) and as a PNG without interlacing, made from testdata.
fn big_sources() -> (Vec<u8>, Vec<u8>) {
    let photo = testdata("faces-astronaut.jpg");
    let jpeg = imagor::process(&photo, "3000x2000/filters:quality(90)").expect("jpeg");
    let png = imagor::process(&photo, "1500x1000/filters:format(png)").expect("png");
    (jpeg.data, png.data)
}

#[test]
fn trickled_sources_render_exactly_as_whole_ones() {
    let (jpeg, png) = big_sources();
    assert!(jpeg.len() > 500 << 10, "a JPEG of {} bytes", jpeg.len());
    let origin = PacedOrigin::start();
    origin.host("big.jpg", jpeg.clone());
    origin.host("big.png", png.clone());
    // Progressive: waited for whole, then processed as bytes.
    let progressive = testdata("jpg-24bit-icc-adobe-rgb.jpg");
    origin.host("progressive.jpg", progressive.clone());
    let imagor = Imagor::new(local()).expect("imagor");
    for (name, data) in [
        ("big.jpg", &jpeg),
        ("big.png", &png),
        ("progressive.jpg", &progressive),
    ] {
        for path in [
            "300x200",
            "fit-in/400x400/filters:format(webp)",
            "trim/200x0",
            "meta/100x100",
        ] {
            let expected = imagor.process(data, path).expect("whole").data;
            for mode in ["trickle", "nocl", "whole"] {
                let url = origin.url(mode, name);
                let got = imagor
                    .serve(&format!("/unsafe/{path}/{url}"))
                    .unwrap_or_else(|e| panic!("{mode} {name} {path}: {e}"));
                assert!(
                    got.data == expected,
                    "{mode} {name} {path}: {} bytes, whole gives {}",
                    got.data.len(),
                    expected.len()
                );
            }
        }
    }
    // The baseline JPEG and the PNG were decoded while they arrived (3
    // modes x 4 paths each); the progressive JPEG was waited for.
    assert_eq!(imagor.stats().http.streamed, 24);
}

#[test]
fn a_body_cut_short_fails_instead_of_rendering_half_an_image() {
    let (jpeg, png) = big_sources();
    let origin = PacedOrigin::start();
    origin.host("big.jpg", jpeg);
    origin.host("big.png", png);
    let imagor = Imagor::new(local()).expect("imagor");
    for name in ["big.jpg", "big.png"] {
        let url = origin.url("cut", name);
        let err = imagor
            .serve(&format!("/unsafe/300x200/{url}"))
            .expect_err("a cut body must not render");
        assert_eq!(err.status(), 500, "{name}: {err}");
    }
}

#[test]
fn a_streamed_body_past_the_size_limit_is_refused() {
    let (jpeg, _) = big_sources();
    let origin = PacedOrigin::start();
    origin.host("big.jpg", jpeg.clone());
    let imagor = Imagor::new(Options {
        http_loader_max_allowed_size: (jpeg.len() / 2) as i64,
        ..local()
    })
    .expect("imagor");
    // Without Content-Length the limit is found while libvips decodes.
    let url = origin.url("nocl", "big.jpg");
    let err = imagor
        .serve(&format!("/unsafe/300x200/{url}"))
        .expect_err("past the limit");
    assert_eq!(err, Error::MaxSizeExceeded);
    // With it, before the body.
    let url = origin.url("whole", "big.jpg");
    let err = imagor
        .serve(&format!("/unsafe/300x200/{url}"))
        .expect_err("past the limit");
    assert_eq!(err, Error::MaxSizeExceeded);
}

#[test]
fn a_body_that_stalls_midway_ends_at_the_load_timeout() {
    let (jpeg, _) = big_sources();
    let origin = PacedOrigin::start();
    origin.host("big.jpg", jpeg);
    let imagor = Imagor::new(Options {
        load_timeout: Duration::from_secs(1),
        ..local()
    })
    .expect("imagor");
    let url = origin.url("stall", "big.jpg");
    let start = Instant::now();
    let err = imagor
        .serve(&format!("/unsafe/300x200/{url}"))
        .expect_err("stalled");
    assert_eq!(err.status(), 408, "{err}");
    // Bounded by the load timeout, not by the origin's 30 s stall.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn waiting_for_a_slow_origin_is_not_processing_time() {
    let (jpeg, _) = big_sources();
    let origin = PacedOrigin::start();
    origin.host("big.jpg", jpeg.clone());
    // The body takes about 4 s to arrive (16 KiB per 40 ms); processing
    // itself takes well under a second. A process_timeout of 1 s applies
    // to the processing, as it does when the body is read first.
    let imagor = Imagor::new(Options {
        process_timeout: Duration::from_secs(1),
        load_timeout: Duration::from_secs(60),
        ..local()
    })
    .expect("imagor");
    let url = origin.url("slow", "big.jpg");
    let got = imagor
        .serve(&format!("/unsafe/300x200/{url}"))
        .expect("a slow origin within the load timeout is served");
    let expected = Imagor::new(local())
        .unwrap()
        .process(&jpeg, "300x200")
        .unwrap();
    assert!(got.data == expected.data);
}

#[test]
fn an_empty_body_is_not_found_as_when_buffered() {
    let origin = PacedOrigin::start();
    origin.host("empty.jpg", Vec::new());
    let imagor = Imagor::new(local()).expect("imagor");
    let url = origin.url("trickle", "empty.jpg");
    let streamed = imagor
        .serve(&format!("/unsafe/300x200/{url}"))
        .expect_err("empty");
    // raw() never streams: the buffered answer for the same body.
    let buffered = imagor
        .serve(&format!("/unsafe/filters:raw()/{url}"))
        .expect_err("empty");
    assert_eq!(streamed.status(), 404, "{streamed}");
    assert_eq!(streamed, buffered);
    assert_eq!(imagor.stats().processed, 0);
}

/// `jpeg` with `n` APP13 segments (IPTC's marker) of 10 bytes after SOI
/// (25 000 of them fill all but 12 KiB of the 256 KiB head).
fn with_app13_segments(jpeg: &[u8], n: usize) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    for _ in 0..n {
        out.extend_from_slice(&[0xFF, 0xED, 0, 8, b'n', b'o', b'n', b'e', b'!', b'?']);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// libjpeg appends every APP1, APP2, APP13 and APP14 segment to a list by
/// walking it from its head: 25 000 of them in a JPEG's first 256 KiB held
/// its header read for 3.4 s (a 408), a million for hours. Such a body is
/// waited for, and libvips gets it without those past the first 1024;
/// with 1000 (and the photo's own), it streams.
#[test]
fn a_jpeg_with_too_many_metadata_segments_waits_to_be_whole() {
    let (photo, _) = big_sources();
    let origin = PacedOrigin::start();
    let many = with_app13_segments(&photo, 25_000);
    origin.host("many.jpg", many.clone());
    origin.host("some.jpg", with_app13_segments(&photo, 1000));
    let imagor = Imagor::new(Options {
        process_timeout: Duration::from_secs(2),
        ..local()
    })
    .expect("imagor");
    let expected = imagor.process(&many, "300x200").expect("bytes").data;
    let got = imagor
        .serve(&format!(
            "/unsafe/300x200/{}",
            origin.url("trickle", "many.jpg")
        ))
        .expect("served");
    assert!(got.data == expected);
    assert_eq!(imagor.stats().http.streamed, 0);
    imagor
        .serve(&format!(
            "/unsafe/300x200/{}",
            origin.url("trickle", "some.jpg")
        ))
        .expect("served");
    assert_eq!(imagor.stats().http.streamed, 1);
}
