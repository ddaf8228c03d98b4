//! Request coalescing (imagor's `suppress`) at the edges: what a follower
//! keeps of its own request, and a leader whose work panics.

mod wait_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use imagor::loader::Loader;
use imagor::request::Request;
use imagor::{Imagor, Options};
use wait_common::{eventually, Latch};

fn gopher() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher")
}

/// A loader that counts its calls, waits for `gate` and answers gopher.png.
fn gated_loader(gate: Latch, calls: Arc<AtomicUsize>) -> Arc<dyn Loader> {
    let image = gopher();
    Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        calls.fetch_add(1, Ordering::SeqCst);
        gate.wait();
        Ok(image.clone())
    })
}

fn instance(loader: Arc<dyn Loader>) -> Imagor {
    Imagor::new(Options {
        unsafe_: true,
        cache_header_ttl: Duration::from_secs(3600),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(loader)
}

fn header<'r>(res: &'r imagor::request::Response, name: &str) -> &'r str {
    res.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

/// `expire()` leaves the result key, so a request with it shares the work
/// of one without it (and the other way round); each still gets its own
/// `Cache-Control`, as imagor sets it from each request: `private` only
/// for the one with a future `expire()`.
#[test]
fn a_follower_keeps_its_own_expire_privacy() {
    let in_an_hour = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        + 3_600_000;
    let plain = "/unsafe/fit-in/40x40/same.png".to_owned();
    let expiring = format!("/unsafe/fit-in/40x40/filters:expire({in_an_hour})/same.png");
    for (first, second) in [(&plain, &expiring), (&expiring, &plain)] {
        let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Latch::default());
        let imagor = instance(gated_loader(gate.clone(), Arc::clone(&calls)));
        let leader = {
            let (imagor, path) = (imagor.clone(), first.clone());
            std::thread::spawn(move || imagor.handle(&Request::get(&path)))
        };
        assert!(eventually(|| calls.load(Ordering::SeqCst) == 1));
        let follower = {
            let (imagor, path) = (imagor.clone(), second.clone());
            std::thread::spawn(move || imagor.handle(&Request::get(&path)))
        };
        assert!(eventually(|| imagor.stats().following == 1));
        gate.open();
        let leader = leader.join().expect("leader");
        let follower = follower.join().expect("follower");
        assert_eq!((leader.status, follower.status), (200, 200));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one load for both");
        for (path, res) in [(first, &leader), (second, &follower)] {
            let cc = header(res, "Cache-Control");
            assert_eq!(
                cc.starts_with("private"),
                path.contains("expire("),
                "{path}: {cc}"
            );
        }
    }
}

/// A leader whose work panics (a loader or processor bug; the server
/// answers that request 500) must not leave its key taken: the next
/// request for it runs at once instead of waiting for a flight that
/// never lands.
#[test]
fn a_leader_that_panics_does_not_block_its_key() {
    let calls = Arc::new(AtomicUsize::new(0));
    let image = gopher();
    let counted = Arc::clone(&calls);
    let loader: Arc<dyn Loader> = Arc::new(move |_key: &str| -> imagor::Result<Vec<u8>> {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("a loader bug");
        }
        Ok(image.clone())
    });
    let imagor = Imagor::new(Options {
        unsafe_: true,
        request_timeout: Duration::from_secs(20),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(loader);
    let path = "/unsafe/fit-in/24x24/panics.png";
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        imagor.handle(&Request::get(path))
    }));
    assert!(first.is_err(), "the loader panicked");
    let started = Instant::now();
    let second = imagor.handle(&Request::get(path));
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?} for a flight whose leader was gone",
        started.elapsed()
    );
    assert_eq!(imagor.stats().following, 0);
}

/// imagor's `suppress` runs a request for a key its own work is already
/// producing (a loader that serves an image through the same instance,
/// whose image is in turn the outer one: a → b → a) instead of waiting for
/// itself (`TestSuppressDeadlockResolve`).
#[test]
fn a_request_within_its_own_work_does_not_wait_for_itself() {
    let me: Arc<std::sync::OnceLock<Imagor>> = Arc::default();
    let image = gopher();
    let calls = Arc::new(AtomicUsize::new(0));
    let (me_in, counted) = (Arc::clone(&me), Arc::clone(&calls));
    let outer = "/unsafe/fit-in/24x24/a.png";
    let loader: Arc<dyn Loader> = Arc::new(move |key: &str| -> imagor::Result<Vec<u8>> {
        let imagor = me_in.get().expect("instance");
        let nested = |path: &str| {
            let res = imagor.handle(&Request::get(path));
            match res.status {
                200 => Ok(res.body.to_vec()),
                s => Err(imagor::Error::Internal(format!("nested {path}: {s}"))),
            }
        };
        match (key, counted.fetch_add(1, Ordering::SeqCst)) {
            ("a.png", 0) => nested("/unsafe/fit-in/32x32/b.png"),
            ("b.png", _) => nested(outer),
            _ => Ok(image.clone()),
        }
    });
    let imagor = Imagor::new(Options {
        unsafe_: true,
        request_timeout: Duration::from_secs(10),
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(loader);
    let _ = me.set(imagor.clone());
    let started = Instant::now();
    let res = imagor.handle(&Request::get(outer));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
