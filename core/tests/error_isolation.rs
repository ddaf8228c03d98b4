//! libvips keeps one error buffer for the whole process. Errors must never
//! carry another call's text: 8 threads make 20 000 failing calls each, of
//! kinds that fail inside libvips and outside it, and every error must be
//! exactly the one the same call gives alone (status, code and message).

use std::sync::Arc;

use imagor::{Imagor, Options};

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const CALLS_PER_THREAD: usize = 20_000;
const THREADS: usize = 8;

#[test]
fn errors_never_carry_another_calls_text() {
    let imagor = Arc::new(
        Imagor::new(Options {
            process_timeout: std::time::Duration::from_secs(60),
            // `watermark(missing.png)` must fail in the file layer, not ask
            // DNS for `missing.png` 13 000 times through the HTTP loader.
            http_loader_disable: true,
            ..Options::default()
        })
        .expect("imagor"),
    );
    let jpeg = testdata("demo1.jpg");
    let png = testdata("gopher-front.png");
    let gif = testdata("dancing-banana.gif");
    let cut = |b: &[u8], n: usize| b[..n.min(b.len())].to_vec();
    // Failing calls with distinct errors: decoders failing inside libvips,
    // operations libvips refuses, argument and limit checks of ours.
    let cases: Vec<(Vec<u8>, String)> = vec![
        (cut(&jpeg, 30), "fit-in/10x10/filters:format(png)".into()),
        (cut(&png, 40), "fit-in/11x11".into()),
        (cut(&gif, 20), "fit-in/12x12".into()),
        (b"RIFF\0\0\0\0WEBPVP8 garbage".to_vec(), "13x13".into()),
        (b"not an image".to_vec(), "14x14".into()),
        (png.clone(), "filters:blur(0,1001)".into()),
        (png.clone(), "filters:quality(1000)".into()),
        (png.clone(), "filters:watermark(missing.png,0,0,0)".into()),
        (png.clone(), "99999x99999/filters:format(png)".into()),
        (png.clone(), "filters:text(b64:PGJpZz4,0,0)".into()),
        (jpeg.clone(), "filters:padding(white,50000,50000)".into()),
        (png.clone(), "filters:image(50x50/color:red,0,0,abc)".into()),
    ];
    let expected: Vec<(u16, &'static str, String)> = cases
        .iter()
        .map(|(data, path)| {
            let e = match imagor.process(data, path) {
                Ok(_) => panic!("{path} should fail"),
                Err(e) => e,
            };
            (e.status(), e.code(), e.message())
        })
        .collect();
    let cases = Arc::new(cases);
    let expected = Arc::new(expected);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (imagor, cases, expected) = (
                Arc::clone(&imagor),
                Arc::clone(&cases),
                Arc::clone(&expected),
            );
            std::thread::spawn(move || {
                let mut wrong = Vec::new();
                for i in 0..CALLS_PER_THREAD {
                    let k = (i * 7 + t * 3) % cases.len();
                    let (data, path) = &cases[k];
                    match imagor.process(data, path) {
                        Ok(_) => wrong.push(format!("{path}: succeeded")),
                        Err(e) => {
                            let got = (e.status(), e.code(), e.message());
                            if got != expected[k] {
                                wrong.push(format!("{path}: {got:?} != {:?}", expected[k]));
                            }
                        }
                    }
                }
                wrong
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for h in handles {
        wrong.extend(h.join().expect("thread"));
    }
    wrong.truncate(20);
    assert!(
        wrong.is_empty(),
        "errors changed under concurrency:\n{}",
        wrong.join("\n")
    );
}
