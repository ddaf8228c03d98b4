//! The library entry points: paths without an image segment, `/meta`
//! extras together, raw pixels.

use imagor::{Imagor, Options};

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_image_segment_is_optional_in_process() {
    let png = testdata("gopher.png");
    for path in [
        "fit-in/100x100",
        "fit-in/100x100/",
        "fit-in/100x100/any.jpg",
        "unsafe/fit-in/100x100/x",
    ] {
        let m = imagor::meta(&imagor::process(&png, path).expect(path).data, "").expect("meta");
        assert_eq!((m.width, m.height), (73, 100), "{path}");
    }
    let out = imagor::process(&png, "filters:format(webp)").expect("format only");
    assert_eq!(out.content_type, "image/webp");
    assert_eq!(imagor::meta(&png, "50x0").expect("meta").width, 50);
}

#[test]
fn meta_extras_can_be_combined_on_every_source() {
    for name in [
        "demo1.jpg",
        "gopher.png",
        "demo3.webp",
        "dancing-banana.gif",
        "gopher-front.avif",
    ] {
        let m = imagor::meta(
            &testdata(name),
            "fit-in/100x100/filters:avgcolor():blurhash(4,3):thumbhash()",
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            m.average_color.is_some() && m.blurhash.is_some() && m.thumbhash.is_some(),
            "{name}"
        );
    }
}

#[test]
fn raw_pixels_are_processed() {
    let imagor = Imagor::new(Options::default()).expect("imagor");
    let out = imagor
        .process_pixels(
            &[255, 0, 0, 0, 255, 0, 0, 0, 255],
            3,
            1,
            3,
            "30x0/filters:format(png)",
        )
        .expect("pixels");
    let m = imagor.meta(&out.data, "").expect("meta");
    assert_eq!((m.width, m.height, m.format.as_str()), (30, 10, "png"));
    let bad = imagor
        .process_pixels(&[1, 2, 3], 3, 1, 3, "")
        .expect_err("short buffer");
    assert_eq!(bad.status(), 400);
}

#[test]
fn serve_answers_410_for_an_expired_url() {
    let imagor = Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: format!("{}/../testdata", env!("CARGO_MANIFEST_DIR")),
        ..Options::default()
    })
    .expect("imagor");
    let err = imagor
        .serve("unsafe/10x10/filters:expire(1000)/gopher.png")
        .expect_err("expired");
    assert_eq!((err.status(), err.code()), (410, "expired"));
    let future = "unsafe/10x10/filters:expire(99999999999999):format(png)/gopher.png";
    assert_eq!(
        imagor.serve(future).expect("not expired").content_type,
        "image/png"
    );
}

/// From imagor's held-back goldens: full-fit-in pads to the grown box, and
/// the adaptive swap applies first (gopher-front.png is 202x259).
#[test]
fn full_fit_in_fills_the_grown_box() {
    let png = testdata("gopher-front.png");
    for (path, size) in [
        (
            "adaptive-full-fit-in/200x100/filters:fill(yellow):format(jpeg)",
            (156, 200),
        ),
        (
            "adaptive-full-fit-in/500x400/filters:format(png)",
            (400, 513),
        ),
        (
            "adaptive-fit-in/200x100/filters:fill(white):format(png)",
            (100, 200),
        ),
        (
            "full-fit-in/100x0/filters:fill(yellow):format(png)",
            (100, 129),
        ),
        (
            "full-fit-in/300x200/filters:fill(yellow):format(png)",
            (300, 385),
        ),
    ] {
        let out = imagor::process(&png, path).expect(path);
        let m = imagor::meta(&out.data, "").expect("meta");
        assert_eq!((m.width, m.height), size, "{path}");
    }
}

/// A `color:` path generates its image whatever bytes are passed, as JPEG
/// unless a format is asked for; `/meta` calls its format "unknown".
#[test]
fn color_paths_ignore_the_bytes() {
    let png = testdata("gopher-front.png");
    let out = imagor::process(&png, "fit-in/10x10/color:red").expect("color");
    assert_eq!(out.content_type, "image/jpeg");
    let m = imagor::meta(&out.data, "").expect("meta");
    assert_eq!((m.width, m.height), (10, 10));
    let out = imagor::process(&png, "filters:format(png)/color:red").expect("png");
    assert_eq!(out.content_type, "image/png");
    let m = imagor::meta(&png, "10x10/color:red").expect("meta of color");
    assert_eq!(
        (m.format.as_str(), m.content_type.as_str()),
        ("unknown", "")
    );
    assert_eq!((m.width, m.height, m.bands), (10, 10, 3));
}

/// The secret never shows in Debug output, and an instance without one
/// accepts no signed path; with neither a secret nor `unsafe` every path is
/// refused (imagor would sign with the empty key).
#[test]
fn secrets_and_unconfigured_signing() {
    let with_secret = Imagor::new(Options {
        secret: "topsecret".into(),
        ..Options::default()
    })
    .unwrap();
    assert!(!format!("{with_secret:?}").contains("topsecret"));
    assert!(!format!("{:?}", with_secret.options()).contains("topsecret"));
    // Nor do passwords in the HTTP loader's base URL and proxies.
    let with_urls = Options {
        http_loader_base_url: "https://u:baseP4ss@origin.example/img/".into(),
        http_loader_proxy_urls: vec!["http://p:proxyP4ss@proxy.example:3128".into()],
        ..Options::default()
    };
    let shown = format!("{with_urls:?}");
    assert!(!shown.contains("P4ss"), "{shown}");
    assert!(
        shown.contains("https://u:***@origin.example/img/"),
        "{shown}"
    );

    let empty_key_hash = imagor::sign::Signer::sha1("").sign("10x10/color:red");
    let unsafe_only = Imagor::new(Options {
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    assert!(unsafe_only.serve("unsafe/10x10/color:red").is_ok());
    let e = unsafe_only
        .serve(&format!("{empty_key_hash}/10x10/color:red"))
        .unwrap_err();
    assert_eq!(e.status(), 403);
    let nothing = Imagor::new(Options::default()).unwrap();
    let e = nothing.serve("unsafe/10x10/color:red").unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.to_string().contains("set a secret"), "{e}");
}

#[test]
fn a_mistyped_operation_is_refused_with_strict_filters() {
    let png = testdata("gopher.png");
    let strict = Imagor::new(Options {
        strict_filters: true,
        ..Default::default()
    })
    .expect("options");
    for (path, meant) in [
        ("fit_in/300x200/", "fit-in"),
        ("fitin/300x200/", "fit-in"),
        ("300X200/", "300x200"),
    ] {
        let err = strict.process(&png, path).expect_err(path);
        assert_eq!((err.status(), err.code()), (400, "invalid"), "{path}");
        assert!(
            err.to_string().starts_with("process: the path has `")
                && err
                    .to_string()
                    .contains(&format!("(did you mean `{meant}`?)")),
            "{path}: {err}"
        );
        let err = strict.meta(&png, path).expect_err(path);
        assert!(err.to_string().starts_with("meta: "), "{path}: {err}");
        // imagor's behaviour without strict_filters: the original image.
        let out = imagor::process(&png, path).expect(path);
        let m = imagor::meta(&out.data, "").expect("meta");
        assert_eq!((m.width, m.height), (1634, 2224), "{path}");
    }
    // An image name is not a typo, strict or not.
    assert!(strict
        .process(&png, "fit-in/30x30/photos/gopher.png")
        .is_ok());
}

#[test]
fn fail_on_makes_truncated_sources_a_406() {
    let png = testdata("gopher.png");
    let jpeg = testdata("demo1.jpg");
    let with = |fail_on: &str| {
        Imagor::new(Options {
            fail_on: fail_on.to_owned(),
            ..Default::default()
        })
    };
    // imagor's default (libvips' `none`): what could be decoded.
    for (cut, path) in [
        (&png[..100], "fit-in/10x10/"),
        (&jpeg[..5000], "fit-in/10x10/"),
    ] {
        assert!(imagor::process(cut, path).is_ok());
        for fail_on in ["truncated", "error"] {
            let err = with(fail_on)
                .expect("options")
                .process(cut, path)
                .expect_err(fail_on);
            assert_eq!(
                (err.status(), err.code()),
                (406, "unsupported_format"),
                "{err}"
            );
            assert!(err.to_string().contains("corrupt or truncated"), "{err}");
        }
    }
    // Whole files are unaffected.
    assert!(with("error")
        .expect("options")
        .process(&png, "fit-in/10x10/")
        .is_ok());
    let err = with("sometimes").expect_err("bad value");
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("fail_on"), "{err}");
}

#[test]
fn library_meta_has_sharp_style_details_and_imagor_meta_json_does_not() {
    let imagor = Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: format!("{}/../testdata", env!("CARGO_MANIFEST_DIR")),
        ..Default::default()
    })
    .expect("options");
    let icc = testdata("jpg-24bit-icc-adobe-rgb.jpg");
    let m = imagor.meta(&icc, "").expect("meta");
    let d = m.details.as_ref().expect("details");
    assert_eq!(d.size, icc.len() as u64);
    assert!(!d.has_alpha && d.has_profile && d.space == "srgb", "{d:?}");
    assert_eq!(d.profile_name.as_deref(), Some("Adobe RGB (1998)"));
    assert_eq!(d.density, Some(300.0));
    let gif = imagor
        .meta(&testdata("dancing-banana.gif"), "")
        .expect("meta");
    let d = gif.details.as_ref().expect("details");
    assert!(
        d.has_alpha && !d.has_profile && d.density.is_none(),
        "{d:?}"
    );
    assert_eq!(d.delay.as_deref(), Some(&[100; 8][..]));
    assert_eq!(d.loop_count, Some(0));
    // Flattened into the same object, in snake_case.
    let json = serde_json::to_value(&gif).expect("json");
    assert_eq!(
        (json["has_alpha"].as_bool(), json["loop"].as_i64()),
        (Some(true), Some(0))
    );
    // imagor's /meta (a meta/ path served) is unchanged: no details.
    let out = imagor
        .serve("unsafe/meta/dancing-banana.gif")
        .expect("serve");
    let served: serde_json::Value = serde_json::from_slice(&out.data).expect("json");
    let keys: Vec<&str> = served
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    // (serde_json's map is sorted here.)
    assert_eq!(
        keys,
        [
            "bands",
            "content_type",
            "exif",
            "format",
            "height",
            "orientation",
            "pages",
            "width"
        ]
    );
}

#[test]
fn pixels_out_are_the_pixels_of_the_encoded_result() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let png = testdata("gopher.png");
    let px = imagor
        .process_to_pixels(&png, "fit-in/60x60/filters:format(webp):quality(5)")
        .expect("pixels");
    assert_eq!((px.width, px.height, px.bands, px.pages), (44, 60, 4, 1));
    assert_eq!(px.data.len(), 44 * 60 * 4);
    // The same path encoded losslessly, then decoded: the same samples.
    let encoded = imagor
        .process(&png, "fit-in/60x60/filters:format(png)")
        .expect("png");
    let decoded = imagor.process_to_pixels(&encoded.data, "").expect("decode");
    assert_eq!(decoded, px);
    // Pixels in, pixels out: an empty path is the identity.
    let same = imagor
        .process_pixels_to_pixels(&px.data, 44, 60, 4, "")
        .expect("round trip");
    assert_eq!(same, px);
    let flipped = imagor
        .process_pixels_to_pixels(&px.data, 44, 60, 4, "-0x0")
        .expect("flip");
    let row = 44 * 4;
    assert_eq!(flipped.data[..4], px.data[row - 4..row], "mirrored row");

    // Grey and 16-bit sources come out as 8-bit sRGB; frames stack.
    let grey = imagor
        .process_to_pixels(&testdata("lena_gray.bmp"), "32x32")
        .unwrap();
    assert_eq!((grey.width, grey.height), (32, 32));
    assert!(grey.bands == 3 || grey.bands == 4, "{} bands", grey.bands);
    let b = grey.bands as usize;
    assert!(
        grey.data.chunks(b).all(|p| p[0] == p[1] && p[1] == p[2]),
        "grey stays grey in RGB"
    );
    let gif = imagor
        .process_to_pixels(&testdata("dancing-banana.gif"), "fit-in/20x20")
        .unwrap();
    assert!(gif.pages > 1, "{} pages", gif.pages);
    assert_eq!(gif.height % gif.pages, 0);
    assert_eq!(gif.data.len() as u32, gif.width * gif.height * gif.bands);
    let solid = imagor
        .process_to_pixels(&[], "10x5/filters:fill(red)/color:blue")
        .unwrap();
    assert_eq!((solid.width, solid.height), (10, 5));
}

#[test]
fn pixels_out_keep_the_call_budget_and_refuse_meta() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let png = testdata("gopher.png");
    let e = imagor
        .process_to_pixels(&png, "meta/fit-in/10x10")
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("invalid", 400), "{e}");
    let small = Imagor::new(Options {
        max_memory: 100_000,
        ..Options::default()
    })
    .unwrap();
    let e = small.process_to_pixels(&png, "fit-in/400x400").unwrap_err();
    assert_eq!(e.code(), "limit_exceeded", "{e}");
    assert!(e.to_string().contains("max_memory"), "{e}");
    let e = imagor.process_to_pixels(b"not an image", "").unwrap_err();
    assert_eq!(e.status(), 406, "{e}");
    let e = imagor
        .process_pixels_to_pixels(&[0; 10], 4, 4, 3, "")
        .unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
}

/// PNG output: adaptive row filtering (and zlib level 3 on the system
/// libvips) unless `compression()` says otherwise; lossless either way.
#[test]
fn png_output_is_filtered_and_lossless() {
    use imagor::vips::{Arg, Blob, Call, Image};
    let decode = |data: &[u8]| -> Image {
        let blob = Blob::copy_from(data);
        Call::new("pngload_buffer")
            .arg("buffer", Arg::Blob(&blob))
            .run()
            .unwrap()
            .out()
            .unwrap()
    };
    let photo = testdata("demo1.jpg");
    let ours = imagor::process(&photo, "512x0/filters:format(png)")
        .unwrap()
        .data;
    let level6 = imagor::process(&photo, "512x0/filters:format(png):compression(6)")
        .unwrap()
        .data;
    let pixels = decode(&ours);
    assert_eq!(
        pixels.write_to_memory().unwrap(),
        decode(&level6).write_to_memory().unwrap()
    );
    // libvips' default (imagor's output): no row filter, level 6.
    let unfiltered = Call::new("pngsave_buffer")
        .arg("in", Arg::Image(&pixels))
        .run()
        .unwrap()
        .blob("buffer")
        .unwrap();
    let unfiltered = unfiltered.as_slice().len() as f64;
    assert!(
        (ours.len() as f64) < 0.8 * unfiltered,
        "{} vs {unfiltered}",
        ours.len()
    );
    if imagor::formats::FLAVOUR == "system" {
        // Level 3 by default there; an explicit compression() is honoured.
        assert_ne!(ours, level6);
    }
}

#[test]
fn fast_shrink_on_load_gives_the_same_sizes_and_nearly_the_same_pixels() {
    let photo = testdata("faces-astronaut.jpg");
    let jpeg = imagor::process(&photo, "3000x2000/filters:quality(92)")
        .unwrap()
        .data;
    let exact = Imagor::new(Options::default()).unwrap();
    let fast = Imagor::new(Options {
        fast_shrink_on_load: true,
        ..Options::default()
    })
    .unwrap();
    // (path, whether fast shrinks harder than libvips' thumbnail there)
    for (path, harder) in [
        ("512x512", true),        // 3.9: fast 2, thumbnail 1
        ("fit-in/400x400", true), // 7.5: fast 4, thumbnail 2
        ("300x0", true),
        ("stretch/600x300", true),
        ("512x512/smart", true),
        ("2000x1500", false),       // 1.3: neither
        ("fit-in/1500x1000", true), // exactly 2: decoded at the target size
        ("fit-in/749x499", true),   // 4.005: fast 4 (1 px margin), thumbnail 2
        ("fit-in/300x300/filters:format(png)", true),
    ] {
        let a = exact.process_to_pixels(&jpeg, path).unwrap();
        let b = fast.process_to_pixels(&jpeg, path).unwrap();
        assert_eq!(
            (a.width, a.height, a.bands),
            (b.width, b.height, b.bands),
            "{path}"
        );
        let mad = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
            .sum::<u64>() as f64
            / a.data.len() as f64;
        assert!(mad < 4.0, "{path}: mean absolute difference {mad}");
        assert_eq!(a.data != b.data, harder, "{path}: mad {mad}");
    }
}

#[test]
fn raw_answers_what_is_no_image_with_gos_sniffed_type() {
    let dir = std::env::temp_dir().join(format!("imagor-raw-sniff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let files: [(&str, &[u8], &str); 5] = [
        ("a.txt", b"just text\n", "text/plain; charset=utf-8"),
        (
            "b.html",
            b"<!DOCTYPE html><p>hi</p>",
            "text/html; charset=utf-8",
        ),
        ("c.bin", b"\x00\x01\x02binary", "application/octet-stream"),
        ("d.json", b"{\"a\": 1}", "application/json"),
        // imagor's JSON check is on the bytes as they come.
        ("e.json", b" {\"a\": 1}", "text/plain; charset=utf-8"),
    ];
    for (name, bytes, _) in &files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    let imagor = Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: dir.to_string_lossy().into_owned(),
        ..Options::default()
    })
    .expect("imagor");
    for (name, bytes, want) in &files {
        let out = imagor
            .serve(&format!("unsafe/filters:raw()/{name}"))
            .expect(name);
        assert_eq!(
            (out.content_type.as_str(), &out.data[..]),
            (*want, *bytes),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn timeouts_too_long_to_add_to_now_mean_none() {
    let png = testdata("gopher.png");
    let options = Options {
        process_timeout: std::time::Duration::MAX,
        request_timeout: std::time::Duration::MAX,
        load_timeout: std::time::Duration::MAX,
        save_timeout: std::time::Duration::MAX,
        unsafe_: true,
        ..Options::default()
    };
    let imagor = Imagor::new(options)
        .expect("options")
        .with_loader(std::sync::Arc::new(move |_: &str| Ok(png.clone())));
    let out = imagor.serve("unsafe/fit-in/50x50/a.png").expect("serve");
    assert_eq!(out.content_type, "image/png");
    let png = testdata("gopher.png");
    let out = imagor.process(&png, "fit-in/50x50").expect("process");
    assert_eq!(imagor::meta(&out.data, "").expect("meta").width, 37);
}

/// A path longer than the server reads (hyper's 414 past 65 534 bytes) is
/// refused at once in process too: parsing, the typo check and argument
/// parsing run before a call's budget, and a 64 MB path took a minute of
/// them. One just under the limit is read.
#[test]
fn paths_longer_than_the_server_reads_are_refused_at_once() {
    let png = testdata("gopher.png");
    let imagor = Imagor::new(Options {
        unsafe_: true,
        ..Options::default()
    })
    .unwrap();
    let long = format!("fit-in/10x10/{}", "a/".repeat(8_000_000));
    let started = std::time::Instant::now();
    let errors = [
        imagor.process(&png, &long).map(|_| ()).unwrap_err(),
        imagor
            .process_to_pixels(&png, &long)
            .map(|_| ())
            .unwrap_err(),
        imagor.meta(&png, &long).map(|_| ()).unwrap_err(),
        imagor
            .process_pixels(&[0; 3], 1, 1, 3, &long)
            .map(|_| ())
            .unwrap_err(),
        imagor
            .process_pixels_to_pixels(&[0; 3], 1, 1, 3, &long)
            .map(|_| ())
            .unwrap_err(),
        imagor.serve(&long).map(|_| ()).unwrap_err(),
        imagor.check_path(&long).unwrap_err(),
        imagor::path::try_parse(&long).map(|_| ()).unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.status(), 400, "{e}");
        assert!(e.to_string().contains("longer than 65534"), "{e}");
    }
    assert!(imagor::path::mistyped(&format!("fit_in/{long}")).is_none());
    let res = imagor.handle(&imagor::request::Request {
        method: "GET".into(),
        path: format!("/unsafe/{long}"),
        ..Default::default()
    });
    assert_eq!(res.status, 414);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    let just_under = format!("fit-in/10x10/filters:{}", "format(png):".repeat(5400));
    assert!(just_under.len() <= imagor::path::MAX_PATH_BYTES);
    let out = imagor
        .process(&png, &just_under)
        .expect("a long path within the limit");
    assert_eq!(out.content_type, "image/png");
}

#[test]
fn inputs_larger_than_max_memory_are_refused_before_they_are_copied() {
    // A small JPEG followed by 2 MiB of zeros (libjpeg stops at its end).
    let mut data = testdata("demo1.jpg");
    data.resize(2 << 20, 0);
    let bounded = Imagor::new(Options {
        max_memory: 1 << 20,
        ..Options::default()
    })
    .unwrap();
    let refusals = [
        bounded.process(&data, "10x10").map(drop).unwrap_err(),
        bounded
            .process_to_pixels(&data, "10x10")
            .map(drop)
            .unwrap_err(),
        bounded.meta(&data, "").map(drop).unwrap_err(),
        // Raw pixels too (3 MiB of them), as Node's processPixels did.
        bounded
            .process_pixels(&vec![0; 3 << 20], 1024, 1024, 3, "10x10")
            .map(drop)
            .unwrap_err(),
        bounded
            .process_pixels_to_pixels(&vec![0; 3 << 20], 1024, 1024, 3, "10x10")
            .map(drop)
            .unwrap_err(),
    ];
    for e in refusals {
        assert_eq!(e.status(), 422, "{e}");
        assert!(
            e.to_string()
                .contains("the input image is larger than max_memory (1 MiB)"),
            "{e}"
        );
    }
    // Without the bound the same bytes are an image.
    let unbounded = Imagor::new(Options {
        max_memory: 0,
        ..Options::default()
    })
    .unwrap();
    assert!(unbounded.process(&data, "10x10").is_ok());
}

#[test]
fn a_jpeg_whose_decoded_pixels_max_memory_cannot_hold_still_resizes() {
    // 2400x2000: 14.4 MB decoded at full size, which a 1000x800 thumbnail
    // needs (libvips' thumbnail leaves a shrink of two for the resize).
    // The decode into memory (feature `own-jpeg`) is not taken: libvips'
    // loader streams rows into the resize instead, under 12 MiB.
    let big = imagor::process(&testdata("demo1.jpg"), "2400x2000/filters:format(jpeg)").unwrap();
    let bounded = Imagor::new(Options {
        max_memory: 12 << 20,
        ..Options::default()
    })
    .unwrap();
    let out = bounded.process(&big.data, "1000x800").unwrap();
    let meta = imagor::meta(&out.data, "").unwrap();
    assert_eq!((meta.width, meta.height), (1000, 800));
    // The same call with room decodes the same pixels.
    let roomy = imagor::process(&big.data, "1000x800").unwrap();
    assert_eq!(out.data, roomy.data);
}
