//! Processing from many threads gives the same bytes as one thread, and
//! every failure is classified the same way.

use std::sync::Arc;

use imagor::{Imagor, Options};

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (input, path) pairs: valid images, corrupt ones and bad paths.
fn cases() -> Vec<(Vec<u8>, &'static str)> {
    let jpeg = testdata("demo1.jpg");
    let png = testdata("gopher-front.png");
    let gif = testdata("dancing-banana.gif");
    let mut truncated = jpeg.clone();
    truncated.truncate(jpeg.len() / 3);
    let mut garbage = png.clone();
    for b in garbage.iter_mut().skip(64).step_by(7) {
        *b ^= 0x5a;
    }
    vec![
        (jpeg.clone(), "fit-in/120x90/filters:format(webp)"),
        (png.clone(), "100x100/smart/filters:format(png)"),
        (gif.clone(), "fit-in/60x60"),
        (jpeg.clone(), "-80x60/filters:quality(60)"),
        (png.clone(), "meta/fit-in/50x50"),
        (truncated, "fit-in/100x100/filters:format(png)"),
        (garbage, "fit-in/100x100/filters:format(png)"),
        (
            b"definitely not an image, just some text".to_vec(),
            "100x100",
        ),
        (Vec::new(), "100x100"),
        (jpeg, "filters:quality(abc)"),
    ]
}

type Outcome = Result<(String, Vec<u8>), (u16, &'static str)>;

fn run(imagor: &Imagor, data: &[u8], path: &str) -> Outcome {
    imagor
        .process(data, path)
        .map(|o| (o.content_type, o.data))
        .map_err(|e| (e.status(), e.code()))
}

#[test]
fn eight_threads_match_sequential_results() {
    let imagor = Arc::new(Imagor::new(Options::default()).expect("imagor"));
    let cases = Arc::new(cases());
    let expected: Vec<Outcome> = cases.iter().map(|(d, p)| run(&imagor, d, p)).collect();
    // Sanity: the set really mixes successes and typed failures.
    assert!(expected.iter().filter(|r| r.is_ok()).count() >= 5);
    assert!(expected.iter().any(|r| matches!(r, Err((406, _)))));
    assert!(expected.iter().any(|r| matches!(r, Err((400, "invalid")))));
    let expected = Arc::new(expected);

    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (imagor, cases, expected) = (imagor.clone(), cases.clone(), expected.clone());
            std::thread::spawn(move || {
                for round in 0..6 {
                    for i in 0..cases.len() {
                        // Each thread walks the cases in a different order.
                        let k = (i * 7 + t * 3 + round) % cases.len();
                        let (data, path) = &cases[k];
                        let got = run(&imagor, data, path);
                        assert_eq!(got, expected[k], "thread {t} case {k} ({path}) differs");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread panicked");
    }
}

/// libvips 8.14 compiles a SIMD kernel with liborc for every resize it
/// builds and frees it with the operation; liborc (0.4.33, Debian 12)
/// frees code memory without the lock it allocates under, and eight
/// threads doing this crashed plain libvips (SIGSEGV in
/// `orc_code_allocate_codemem`) in 2 of 3 runs, and this test once in
/// `make test`. The core puts libvips' compiles and frees one at a time
/// (`vips/orc_guard.rs`): where liborc is loaded, the guard is in place,
/// and many threads building and dropping resizes and blurs finish.
#[test]
fn orc_kernels_are_built_and_freed_on_many_threads() {
    use imagor::vips::{Arg, Call, Image};
    imagor::vips::init().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    if maps.contains("liborc") {
        assert!(imagor::vips::orc_guarded(), "liborc is loaded, unguarded");
    }
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..1500 {
                    let img = Image::black(64 + (i + t) % 7, 64, 3).unwrap();
                    let small = Call::new("resize")
                        .arg("in", Arg::Image(&img))
                        .arg("scale", Arg::Double(0.37 + (i % 5) as f64 * 0.01))
                        .run()
                        .and_then(|o| o.out())
                        .unwrap();
                    // An integer blur: liborc's convolution kernel.
                    let blurred = Call::new("gaussblur")
                        .arg("in", Arg::Image(&small))
                        .arg("sigma", Arg::Double(1.5))
                        .run()
                        .and_then(|o| o.out())
                        .unwrap();
                    assert!(!blurred.write_to_memory().unwrap().is_empty());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread panicked");
    }
}
