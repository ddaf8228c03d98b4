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
