//! 2 000 mixed calls leave libvips' tracked memory, allocation count and
//! open files where they started: every image, blob and operation is
//! released, on success and on error.

use imagor::{Imagor, Options};

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn two_thousand_calls_leak_nothing() {
    let opts = Options {
        file_loader_base_dir: format!("{}/../testdata", env!("CARGO_MANIFEST_DIR")),
        unsafe_: true,
        ..Options::default()
    };
    let imagor = Imagor::new(opts).expect("imagor");
    let jpeg = testdata("demo1.jpg");
    let png = testdata("gopher-front.png");
    let gif = testdata("dancing-banana.gif");
    let mut truncated = jpeg.clone();
    truncated.truncate(jpeg.len() / 2);
    let calls: Vec<(&[u8], &str)> = vec![
        (&jpeg, "fit-in/64x64/filters:format(webp)"),
        (&png, "50x50/smart"),
        (&gif, "fit-in/40x40"),
        (&png, "meta/filters:fill(white)"),
        (&truncated, "fit-in/30x30/filters:format(png)"),
        (b"garbage garbage garbage garbage", "10x10"),
        (&jpeg, "filters:quality(nope)"),
        (&png, "fit-in/40x40/filters:fill(blur):format(jpeg)"),
    ];
    let run = |n: usize| {
        for i in 0..n {
            let (data, path) = calls[i % calls.len()];
            let _ = imagor.process(data, path);
            if i % 50 == 0 {
                let _ = imagor.serve("unsafe/20x20/filters:format(png)/gopher.png");
                let _ = imagor.serve("unsafe/20x20/missing.png");
            }
        }
    };
    // Warm up: libvips keeps per-thread buffers and per-class state, which
    // it may release lazily; a leak shows as growth over the calls.
    run(2 * calls.len());
    let before = imagor::vips::tracked();
    let mut peak = before;
    for _ in 0..4 {
        run(500);
        let now = imagor::vips::tracked();
        eprintln!("tracked after 500 more calls: {now:?}");
        peak = (peak.0.max(now.0), peak.1.max(now.1), peak.2.max(now.2));
    }
    let after = imagor::vips::tracked();
    eprintln!("before {before:?} after {after:?} peak {peak:?}");
    assert!(
        after.0 <= before.0 && after.1 <= before.1 && after.2 <= before.2,
        "libvips tracked (bytes, allocs, files) grew: {before:?} -> {after:?}"
    );
}
