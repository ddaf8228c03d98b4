//! A request that says it came through three imagor-rs loaders (`Via`)
//! has its own HTTP loads refused (the loop guard), and does not share its
//! work with plain requests for the same path: they would have received
//! its 403.

mod origin;
mod wait_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use imagor::request::Request;
use imagor::{Error, Imagor, Options};
use origin::Origin;
use wait_common::{eventually, Latch};

#[test]
fn a_request_claiming_three_hops_does_not_answer_plain_requests() {
    let origin = Origin::start();
    let gopher = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher");
    let gate = Latch::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (held, counted) = (gate.clone(), Arc::clone(&calls));
    let imagor = Imagor::new(Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        ..Options::default()
    })
    .expect("imagor")
    // The main image: held until the test lets it go. Anything else (the
    // watermark's URL) is the HTTP loader's.
    .with_loader(Arc::new(move |key: &str| -> imagor::Result<Vec<u8>> {
        if key != "slow.png" {
            return Err(Error::NOT_FOUND);
        }
        counted.fetch_add(1, Ordering::SeqCst);
        held.wait();
        Ok(gopher.clone())
    }));
    let path = format!(
        "/unsafe/fit-in/50x50/filters:watermark({},0,0,50)/slow.png",
        origin.url("/image/gopher.png")
    );
    let claimed = {
        let (imagor, mut req) = (imagor.clone(), Request::get(&path));
        req.headers.push((
            "via".to_owned(),
            "1.1 imagor-rs, 1.1 imagor-rs, 1.1 imagor-rs".to_owned(),
        ));
        std::thread::spawn(move || imagor.handle(&req).status)
    };
    assert!(eventually(|| calls.load(Ordering::SeqCst) == 1));
    let plain = {
        let (imagor, path) = (imagor.clone(), path.clone());
        std::thread::spawn(move || imagor.handle(&Request::get(&path)).status)
    };
    // The plain request loads for itself: it did not join the other.
    assert!(eventually(|| calls.load(Ordering::SeqCst) == 2));
    gate.open();
    assert_eq!(plain.join().expect("plain"), 200);
    assert_eq!(claimed.join().expect("claimed"), 403);
}

/// Past the hop limit a key with a scheme is refused (403), but a bare key
/// (`missing.png`, only guessed to name a host) is not found: the file
/// loader's 404 for a missing file stands rather than the loop guard's 403.
#[test]
fn past_the_hop_limit_a_missing_file_is_still_not_found() {
    let origin = Origin::start();
    let imagor = Imagor::new(Options {
        unsafe_: true,
        http_loader_block_loopback_networks: false,
        ..Options::default()
    })
    .expect("imagor")
    .with_loader(Arc::new(|_: &str| -> imagor::Result<Vec<u8>> {
        Err(Error::NOT_FOUND)
    }));
    let claiming = |path: &str| {
        let mut req = Request::get(path);
        req.headers.push((
            "via".to_owned(),
            "1.1 imagor-rs, 1.1 imagor-rs, 1.1 imagor-rs".to_owned(),
        ));
        imagor.handle(&req).status
    };
    assert_eq!(claiming("/unsafe/10x10/missing.png"), 404);
    let url = origin.url("/image/gopher.png");
    assert_eq!(claiming(&format!("/unsafe/10x10/{url}")), 403);
    assert_eq!(
        imagor
            .handle(&Request::get(&format!("/unsafe/10x10/{url}")))
            .status,
        200
    );
}
