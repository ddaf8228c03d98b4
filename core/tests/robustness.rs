//! Robustness of the path grammar and signer: random and hostile input never
//! panics, stays fast, and canonical paths round-trip as imagor's
//! `TestParseGenerate` requires (`GeneratePath(Parse(uri)) == uri`).

use std::time::{Duration, Instant};

use imagor::path::{
    generate, generate_path, generate_unsafe, normalize, parse, parse_filters, split_args, Filter,
    Params, SafeChars,
};
use imagor::sign::{Signer, SignerAlg};
use proptest::prelude::*;

/// Everything a path can be fed to; must not panic.
fn exercise(s: &str) -> Params {
    let p = parse(s);
    let generated = generate_path(&p);
    let again = parse(&generated);
    let _ = generate_path(&again);
    let _ = normalize(s, &SafeChars::default());
    let _ = normalize(s, &SafeChars::new("!\"()*é"));
    let _ = split_args(s);
    let _ = parse_filters(s);
    let _ = p.has_cache_bypass();
    let json = p.to_json();
    let back: Params = serde_json::from_str(&json).expect("to_json output is valid Params JSON");
    let finite = [p.crop_left, p.crop_top, p.crop_right, p.crop_bottom]
        .iter()
        .all(|v| v.is_finite());
    if finite {
        let mut expected = p.clone();
        expected.params = false;
        // Not serialised: JSON has the image's U+FFFD rendering, as Go's.
        expected.image_raw = None;
        assert_eq!(back, expected, "JSON round trip of {s:?}");
    }
    p
}

/// Strings made mostly of grammar pieces, so that they reach deep states.
fn grammar_soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "/",
        "//",
        "params/",
        "unsafe/",
        "meta/",
        "trim",
        ":top-left",
        ":bottom-right",
        ":",
        "x",
        "-",
        "0",
        "1",
        "0.",
        ".5",
        "99999999999999999999",
        "fit-in/",
        "adaptive-full-fit-in/",
        "full-fit-in/",
        "stretch/",
        "left/",
        "center/",
        "top/",
        "middle/",
        "smart/",
        "filters:",
        "(",
        ")",
        ",",
        "fill(red)",
        "b64:",
        "Zm9v",
        "%",
        "%2F",
        "%FF",
        "%0A",
        "+",
        "\n",
        "\u{2028}",
        "哈",
        "a.jpg",
        "abcdefghijklmnopq/",
        "..",
        "=",
    ]);
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        exercise(&s);
    }

    #[test]
    fn grammar_soup_never_panics(s in grammar_soup()) {
        exercise(&s);
    }
}

/// A crop value as the grammar can carry it: integral, or a fraction
/// below `max_fraction` (1 for left/top, 2 for right/bottom).
fn crop_value(max_fraction: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        (0u32..100_000).prop_map(f64::from),
        (1e-12..max_fraction).prop_filter("fraction", |v: &f64| v.fract() != 0.0),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    let args = prop_oneof![
        "[a-z0-9,.:/-]{0,10}",
        ("[a-z]{1,5}", "[a-z0-9,.:/]{0,6}").prop_map(|(n, a)| format!("{n}({a}),1")),
    ];
    ("[a-z_]{1,8}", args).prop_map(|(name, args)| Filter { name, args })
}

fn image() -> impl Strategy<Value = (String, bool)> {
    let plain = prop::collection::vec("[a-z0-9._-]{1,9}", 0..3).prop_map(|segs| {
        if segs.is_empty() {
            String::new()
        } else {
            format!("img{}", segs.join("/"))
        }
    });
    prop_oneof![
        plain.prop_map(|s| (s, false)),
        "img[a-z ]{0,5}\\(1\\),[a-z?]{0,3}\\.jpg".prop_map(|s| (s, false)),
        any::<String>().prop_map(|s| (s, true)),
    ]
}

prop_compose! {
    /// Params in the canonical form `generate_path` writes and `parse` reads.
    fn canonical_params()(
        meta in any::<bool>(),
        trim in prop::option::of((prop::sample::select(vec!["top-left", "bottom-right"]), 0i64..1000)),
        crop in (crop_value(1.0), crop_value(1.0), crop_value(2.0), crop_value(2.0)),
        fit in prop::option::of((any::<bool>(), any::<bool>())),
        stretch in any::<bool>(),
        size in (-100_000i64..100_000, -100_000i64..100_000, any::<bool>(), any::<bool>()),
        padding in prop::option::of(
            (0i64..500, 0i64..500, 0i64..500, 0i64..500)
                // Without left or top no dimensions are written, and
                // `0x0:RxB/` would read back as a crop (imagor does the same).
                .prop_filter("left or top padding", |p| p.0 > 0 || p.1 > 0),
        ),
        h_align in prop::sample::select(vec!["", "left", "right"]),
        v_align in prop::sample::select(vec!["", "top", "bottom"]),
        smart in any::<bool>(),
        filters in prop::collection::vec(filter(), 0..4),
        (image, base64_image) in image(),
    ) -> Params {
        let (trim_by, trim_tolerance) = trim.map_or(("", 0), |(by, tol)| (by, tol));
        let (fit_in, (adaptive_fit_in, full_fit_in)) = match fit {
            Some(f) => (true, f),
            None => (false, (false, false)),
        };
        let (padding_left, padding_top, padding_right, padding_bottom) =
            padding.unwrap_or_default();
        Params {
            meta,
            trim: trim.is_some(),
            trim_by: trim_by.to_owned(),
            trim_tolerance,
            crop_left: crop.0,
            crop_top: crop.1,
            crop_right: crop.2,
            crop_bottom: crop.3,
            fit_in,
            adaptive_fit_in,
            full_fit_in,
            stretch,
            width: size.0,
            height: size.1,
            h_flip: size.2,
            v_flip: size.3,
            padding_left,
            padding_top,
            padding_right,
            padding_bottom,
            h_align: h_align.to_owned(),
            v_align: v_align.to_owned(),
            smart,
            filters,
            image,
            base64_image,
            ..Params::default()
        }
    }
}

/// What `parse(generate_path(p))` must give for canonical `p`.
fn expected_after_round_trip(p: &Params, path: &str) -> Params {
    let mut e = p.clone();
    e.path = path.to_owned();
    if e.width < 0 {
        e.width = -e.width;
        e.h_flip = !e.h_flip;
    }
    if e.height < 0 {
        e.height = -e.height;
        e.v_flip = !e.v_flip;
    }
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn canonical_paths_round_trip(p in canonical_params()) {
        let path = generate_path(&p);
        let q = parse(&path);
        prop_assert_eq!(&q, &expected_after_round_trip(&p, &path), "path {:?}", path);
        prop_assert_eq!(generate_path(&q), path.clone());

        let unsafe_path = generate_unsafe(&p);
        let u = parse(&unsafe_path);
        prop_assert!(u.r#unsafe);
        prop_assert_eq!(&u.path, &path);

        let signer = Signer::new(SignerAlg::Sha256, 0, "secret");
        let signed = parse(&generate(&p, Some(&signer)));
        prop_assert_eq!(&signed.path, &path);
        prop_assert!(signer.verify(&signed.path, &signed.hash));
    }
}

/// Generous bound: debug builds are ~20x slower than release.
const SLOW: Duration = Duration::from_secs(5);

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < SLOW, "{what} took {took:?}");
    out
}

#[test]
fn one_megabyte_paths() {
    const MB: usize = 1 << 20;
    let image = format!("unsafe/fit-in/10x10/{}", "a".repeat(MB));
    let p = timed("1 MB image", || exercise(&image));
    assert_eq!(p.image.len(), MB);

    let slashes = "/".repeat(MB);
    assert_eq!(
        timed("1 MB of slashes", || parse(&slashes)),
        Params::default()
    );

    let digits = format!("unsafe/{}x{}/a", "9".repeat(MB / 2), "9".repeat(MB / 2));
    let p = timed("1 MB of digits", || exercise(&digits));
    assert_eq!((p.width, p.height), (i64::MAX, i64::MAX));

    let crop = format!("{}x1:1x1/a", "9".repeat(MB));
    let p = timed("1 MB crop number", || parse(&crop));
    assert!(p.crop_left.is_infinite());
    let _ = generate_path(&p);

    let escapes = format!("unsafe/{}", "%41+".repeat(MB / 4));
    let p = timed("1 MB of escapes", || parse(&escapes));
    assert_eq!(p.image.len(), MB / 2);

    let b64 = format!("unsafe/b64:{}", "QUJD".repeat(MB / 4));
    let p = timed("1 MB base64", || parse(&b64));
    assert!(p.base64_image);

    let hash = format!("{}/a", "A".repeat(MB));
    assert_eq!(timed("1 MB hash", || parse(&hash)).hash.len(), MB);

    let filters = format!("filters:{}/a", "f(x):".repeat(MB / 5));
    let p = timed("200k filters", || parse(&filters));
    assert_eq!(p.filters.len(), MB / 5);

    let breaks = "\n\u{2028}".repeat(MB / 4);
    assert_eq!(
        timed("1 MB of line breaks", || parse(&breaks)),
        Params::default()
    );
}

#[test]
fn deeply_nested_parentheses() {
    const DEPTH: usize = 100_000;
    let nested = format!("{}{}", "(".repeat(DEPTH), ")".repeat(DEPTH));
    let path = format!("unsafe/filters:f{nested}:g()/img.png");
    let p = timed("100k nested parens", || exercise(&path));
    assert_eq!(p.filters.len(), 2);
    assert_eq!(p.filters[0].args.len(), 2 * DEPTH - 2);
    assert_eq!(p.image, "img.png");

    let unbalanced = format!("filters:f{}/img.png", "(".repeat(DEPTH));
    let p = timed("100k open parens", || exercise(&unbalanced));
    assert_eq!(p.filters, vec![Filter::new("f", "")]);
    assert_eq!(p.image, "");

    let closing = format!("filters:f{}/img.png", ")".repeat(DEPTH));
    timed("100k close parens", || exercise(&closing));

    let args = format!("{nested},{nested}");
    assert_eq!(timed("split 100k parens", || split_args(&args)).len(), 2);
}

#[test]
fn empty_inputs() {
    assert_eq!(parse(""), Params::default());
    assert_eq!(generate_path(&Params::default()), "");
    assert_eq!(generate_unsafe(&Params::default()), "unsafe/");
    assert!(split_args("").is_empty());
    assert_eq!(parse_filters(""), (vec![], String::new()));
    assert_eq!(normalize("", &SafeChars::default()), ".");
    assert_eq!(Params::default().to_json(), "{}");
}

#[test]
fn signer_edge_cases() {
    for alg in [SignerAlg::Sha1, SignerAlg::Sha256, SignerAlg::Sha512] {
        let full = Signer::new(alg, 0, "").sign("");
        assert_eq!(Signer::new(alg, full.len(), "").sign(""), full);
        assert_eq!(Signer::new(alg, usize::MAX, "").sign(""), full);
        assert_eq!(Signer::new(alg, 1, "").sign(""), full[..1]);
        let long_secret = vec![0xffu8; 10_000];
        let s = Signer::new(alg, 0, &long_secret);
        let hash = s.sign("p");
        assert!(s.verify("p", &hash));
        assert!(!s.verify("p", &hash[1..]));
        assert!(!s.verify("q", &hash));
    }
}
