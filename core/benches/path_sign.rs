//! Path parsing, generation and URL signing.
//!
//! `cargo bench -p imagor --bench path_sign`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use imagor::path::{generate_path, parse};
use imagor::sign::{Signer, SignerAlg};

const TYPICAL: &str = "/unsafe/fit-in/300x200/filters:fill(white):format(webp):quality(80)/raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png";
const FULL: &str = "/OyGJyvfYJw8xNkYDmXU-4NPA2U0=/meta/trim:bottom-right:10/0.1x0.2:0.3x0.4/adaptive-full-fit-in/stretch/-300x-200/5x6:7x8/left/top/smart/filters:watermark(s.glbimg.com/es/ge/f/original/2011/03/29/orlandosilva_60.jpg,0,0,0):brightness(-50):grayscale()/https%3A%2F%2Fexample.com%2Fimage.jpg%3Fsize%3Dlarge";

fn long_path() -> String {
    // ~64 KiB: many filters plus a long image name.
    let mut s = String::from("unsafe/fit-in/300x200/filters:");
    for i in 0..2000 {
        s.push_str(&format!("fill(red):blur({i}):"));
    }
    s.push_str("format(webp)/");
    s.push_str(&"a".repeat(16 * 1024));
    s.push_str(".jpg");
    s
}

fn bench_parse(c: &mut Criterion) {
    let long = long_path();
    let mut g = c.benchmark_group("parse");
    g.bench_function("typical", |b| b.iter(|| parse(black_box(TYPICAL))));
    g.bench_function("full_grammar", |b| b.iter(|| parse(black_box(FULL))));
    g.bench_function("long_64k", |b| b.iter(|| parse(black_box(&long))));
    g.finish();
}

fn bench_generate(c: &mut Criterion) {
    let typical = parse(TYPICAL);
    let full = parse(FULL);
    let mut g = c.benchmark_group("generate_path");
    g.bench_function("typical", |b| b.iter(|| generate_path(black_box(&typical))));
    g.bench_function("full_grammar", |b| {
        b.iter(|| generate_path(black_box(&full)))
    });
    g.finish();
}

fn bench_sign(c: &mut Criterion) {
    let path = parse(TYPICAL).path;
    let mut g = c.benchmark_group("sign");
    for alg in [SignerAlg::Sha1, SignerAlg::Sha256, SignerAlg::Sha512] {
        let signer = Signer::new(alg, 0, "mysecret");
        g.bench_function(alg.as_str(), |b| b.iter(|| signer.sign(black_box(&path))));
    }
    let signer = Signer::new(SignerAlg::Sha256, 40, "mysecret");
    let hash = signer.sign(&path);
    g.bench_function("verify_sha256_t40", |b| {
        b.iter(|| signer.verify(black_box(&path), black_box(&hash)))
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_generate, bench_sign);
criterion_main!(benches);
