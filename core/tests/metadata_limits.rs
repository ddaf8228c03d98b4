//! Metadata reads held to the call's budget: the library's `meta()`, whose
//! sharp-style details read the source's header a second time.

use std::time::{Duration, Instant};

use imagor::{Imagor, Options};

/// A 1x1 grey TIFF whose only directory holds `n` private tags besides
/// the baseline ones: libtiff 4.5 spends time growing with `n` squared
/// registering them at every open (0.35-0.7 s at 4 087).
fn tiff_with_private_tags(n: usize) -> Vec<u8> {
    let mut tags: Vec<(u16, u16, u32)> = vec![
        (256, 3, 1),
        (257, 3, 1),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (277, 3, 1),
        (278, 3, 1),
        (279, 4, 1),
    ];
    tags.extend((0..n).map(|i| (65535 - i as u16, 3, 7)));
    tags.sort();
    // Header, then the single pixel at offset 8, then the directory.
    let mut out = b"II*\0\x0a\0\0\0\x80\0".to_vec();
    out.extend((tags.len() as u16).to_le_bytes());
    for (tag, ty, value) in tags {
        out.extend(tag.to_le_bytes());
        out.extend(ty.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(value.to_le_bytes());
    }
    out.extend([0; 4]);
    out
}

/// More than the /meta step of the TIFF below takes (0.7-0.8 s), less than
/// twice that.
const BUDGET: Duration = Duration::from_secs(1);

#[test]
fn library_meta_reads_its_details_within_the_calls_budget() {
    let imagor = Imagor::new(Options {
        process_timeout: BUDGET,
        ..Options::default()
    })
    .unwrap();
    // Warm libvips and libtiff up.
    let small = tiff_with_private_tags(10);
    let m = imagor.meta(&small, "").expect("meta");
    assert_eq!(m.details.expect("details").space, "b-w");

    let tiff = tiff_with_private_tags(4087); // 49 KB
                                             // imagor's /meta alone: one budget, its header read charged.
    let started = Instant::now();
    let alone = imagor.process(&tiff, "meta/").map(drop);
    let alone_took = started.elapsed();
    // The library's meta(): the same /meta, then the details' header
    // read, which had a fresh budget of its own: 1.4-1.6 s of a 1 s
    // budget, where /meta alone took 0.75 s.
    let started = Instant::now();
    let meta = imagor.meta(&tiff, "");
    let took = started.elapsed();
    match (&alone, &meta) {
        (Ok(()), Ok(_)) => {}
        (_, Err(e)) => assert_eq!(e.status(), 408, "{e}"),
        (Err(e), Ok(_)) => panic!("/meta refused ({e}) where meta() answered"),
    }
    // No longer than the budget, or than /meta alone on a machine too
    // slow for it, and a little unwind.
    assert!(
        took < BUDGET.max(alone_took) + Duration::from_millis(300),
        "meta() took {took:?} of a {BUDGET:?} budget, its /meta step alone {alone_took:?}"
    );
}
