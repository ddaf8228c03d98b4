//! Source bytes count against `max_total_memory` while they are read, not
//! only once they are in: a body still arriving from an origin, a file and
//! an object are reserved in the pool as they come (or on their size, up
//! front), so a flood of requests for large sources is refused before
//! their bytes pile up. Its own binary, since the pool is process-wide.
//!
//! Run: `cargo test -p imagor --test source_memory`.

mod origin;

use std::time::{Duration, Instant};

use imagor::{Error, Imagor, Options};
use origin::Origin;

/// One test at a time: they read the process-wide pool's figures.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// An instance whose HTTP loader may reach the local origin, with a pool
/// of `cap` bytes.
fn imagor(cap: u64, files: Option<&std::path::Path>) -> Imagor {
    Imagor::new(Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        max_total_memory: cap,
        request_timeout: Duration::from_secs(3),
        file_loader_base_dir: files.map_or(String::new(), |d| d.display().to_string()),
        ..Options::default()
    })
    .unwrap()
}

/// Wait up to 10 s for `ok` to hold of the pool's bytes; `false` if it
/// never did.
fn wait_for(imagor: &Imagor, ok: impl Fn(u64) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if ok(imagor.stats().memory_reserved) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn is_total_memory_limit(e: &Error, what: &str) -> bool {
    let text = e.to_string();
    e.status() == 422 && text.contains("max_total_memory") && text.contains(what)
}

#[test]
fn a_body_still_arriving_holds_its_bytes_in_the_pool() {
    let _one = serial();
    let origin = Origin::start();
    let imagor = imagor(1 << 20, None);
    // `/drip` sends 1 KiB every 20 ms: its bytes are reserved as they come
    // (it is no image, so the call waits for all of it until the request
    // timeout).
    let drip = {
        let (imagor, url) = (imagor.clone(), origin.url("/drip"));
        std::thread::spawn(move || imagor.serve(&format!("unsafe/{url}")))
    };
    assert!(
        wait_for(&imagor, |held| held >= 64 << 10),
        "the arriving body is counted: {}",
        imagor.stats().memory_reserved
    );
    // While it holds its bytes, a body that fits the pool alone (750 000
    // of 786 432 bytes a source may take) finds no room: 429 at once,
    // whether it announces its length or not.
    for path in ["/big-cl/750000", "/big/750000"] {
        let started = Instant::now();
        let e = imagor
            .serve(&format!("unsafe/{}", origin.url(path)))
            .unwrap_err();
        assert_eq!(e, Error::TooManyRequests, "{path}");
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
    }
    let e = drip.join().unwrap().unwrap_err();
    assert_eq!(e.status(), 408, "{e}");
    assert!(wait_for(&imagor, |held| held == 0), "all given back");
    // Alone, the same body is read whole: zeros are no image (not a 429).
    let e = imagor
        .serve(&format!("unsafe/{}", origin.url("/big-cl/750000")))
        .unwrap_err();
    assert!(![422, 429].contains(&e.status()), "{e}");
    // One body larger than a call may take is a 422 naming the option,
    // refused as it arrives (without a length) or on its length, whether
    // processed while it arrives or read whole first (`raw()`).
    for path in ["/big/4000000", "/big-cl/4000000"] {
        for how in ["", "filters:raw()/"] {
            let e = imagor
                .serve(&format!("unsafe/{how}{}", origin.url(path)))
                .unwrap_err();
            assert!(
                is_total_memory_limit(&e, "the image body from the HTTP loader"),
                "{how}{path}: {e}"
            );
        }
    }
    assert!(wait_for(&imagor, |held| held == 0), "all given back");
}

/// The least pool (to within 1 %) in which `works` succeeds, between
/// `lo` (fails) and `hi` (succeeds).
fn least(mut lo: u64, mut hi: u64, works: impl Fn(u64) -> bool) -> u64 {
    assert!(works(hi) && !works(lo), "{lo}..{hi} brackets nothing");
    while hi - lo > hi / 100 {
        let mid = lo + (hi - lo) / 2;
        if works(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[test]
fn a_file_is_counted_on_its_size_before_it_is_read_and_only_once() {
    let _one = serial();
    let dir = std::env::temp_dir().join(format!("imagor-source-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A small photo followed by 2 MB that the decoder never reads: the
    // source's bytes, not its pixels, decide what it needs.
    let mut padded = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/faces-hopper.jpg"),
    )
    .unwrap();
    padded.resize(padded.len() + (2 << 20), 0);
    std::fs::write(dir.join("padded.jpg"), &padded).unwrap();
    std::fs::write(dir.join("large.png"), vec![0u8; 1 << 20]).unwrap();
    // A file past what a call may take of the pool: refused on its size.
    let e = imagor(1 << 20, Some(&dir))
        .serve("unsafe/large.png")
        .unwrap_err();
    assert!(is_total_memory_limit(&e, "the image file"), "{e}");
    // A file that fits is read, processed, and its bytes given back.
    let one = imagor(64 << 20, Some(&dir));
    assert!(!one
        .serve("unsafe/50x50/padded.jpg")
        .unwrap()
        .data
        .is_empty());
    assert_eq!(one.stats().memory_reserved, 0);
    // The file's bytes are counted once: serving it from the file loader
    // (reserved as it is read) needs the same pool as processing the same
    // bytes handed over in memory (reserved when processing starts).
    let size = padded.len() as u64;
    let served = least(size, 64 << 20, |cap| {
        imagor(cap, Some(&dir))
            .serve("unsafe/50x50/padded.jpg")
            .is_ok()
    });
    let processed = least(size, 64 << 20, |cap| {
        imagor(cap, None).process(&padded, "50x50").is_ok()
    });
    println!("least pool: served {served}, processed {processed}, source {size}");
    assert!(served > size * 4 / 3, "the source itself is counted");
    assert!(
        served.abs_diff(processed) <= processed / 20,
        "counted once: served {served}, processed {processed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
