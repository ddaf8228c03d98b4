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
