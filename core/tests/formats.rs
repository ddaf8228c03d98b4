//! `imagor::formats()` says what this build loads and saves, and a format
//! it lacks answers 406 `unsupported_format` naming the format, in either
//! libvips flavour (system, or the prebuilt one the packages bundle: build
//! with `IMAGOR_VIPS_LIB_DIR`, see core/build.rs).

use imagor::Error;

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A 406 `unsupported_format` that names `name` and the build that has it.
fn assert_refused(err: &Error, name: &str, flavour: &str) {
    assert_eq!(err.code(), "unsupported_format", "{name}: {err}");
    assert_eq!(err.status(), 406, "{name}: {err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!(" {name} ")), "{name}: {msg}");
    if flavour == "bundled" {
        assert!(msg.contains("system libvips"), "{name}: {msg}");
    }
}

#[test]
fn the_common_formats_are_always_there() {
    let f = imagor::formats().expect("formats");
    for name in ["jpeg", "png", "gif", "webp", "avif", "tiff", "bmp", "svg"] {
        assert!(f.load.contains(&name), "load {name}: {f:?}");
    }
    for name in ["jpeg", "png", "gif", "webp", "avif", "tiff"] {
        assert!(f.save.contains(&name), "save {name}: {f:?}");
    }
    // Load-only formats are never listed as saved.
    for name in ["bmp", "svg", "pdf"] {
        assert!(!f.save.contains(&name), "save {name}: {f:?}");
    }
    assert!(["system", "bundled"].contains(&f.flavour), "{f:?}");
    assert!(f.libvips.starts_with("8."), "{f:?}");
    let own_av1 = cfg!(feature = "own-av1");
    assert_eq!(f.av1_decoder, if own_av1 { "dav1d" } else { "libheif" });
    if f.flavour == "bundled" {
        // npm's sharp-libvips: none of these codecs, so the 406 paths
        // below are the ones exercised.
        for name in ["jxl", "jp2", "pdf", "heif"] {
            assert!(!f.load.contains(&name), "load {name}: {f:?}");
        }
    }
}

#[test]
fn a_listed_input_decodes_and_an_unlisted_one_is_406() {
    let f = imagor::formats().expect("formats");
    // PDF, JPEG 2000 and JPEG XL loaders are flagged untrusted: allow them.
    let im = imagor::Imagor::new(imagor::Options {
        block_untrusted_loaders: false,
        ..Default::default()
    })
    .expect("imagor");
    for (name, file) in [
        ("jxl", "jxl-isobmff.jxl"),
        ("jp2", "gopher.jp2"),
        ("pdf", "sample.pdf"),
        ("heif", "gopher-front.heif"),
        ("avif", "gopher-front.avif"),
        ("tiff", "gopher.tiff"),
    ] {
        let data = testdata(file);
        let got = im.process(&data, "fit-in/64x64/filters:format(png)");
        if f.load.contains(&name) {
            let out = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(out.content_type, "image/png", "{name}");
        } else {
            assert_refused(&got.expect_err(name), name, f.flavour);
            let meta = im.meta(&data, "").expect_err(name);
            assert_refused(&meta, name, f.flavour);
        }
    }
}

#[test]
fn a_listed_output_encodes_and_an_unlisted_one_is_406() {
    let f = imagor::formats().expect("formats");
    let png = testdata("gopher.png");
    for (name, mime) in [
        ("jxl", "image/jxl"),
        ("jp2", "image/jp2"),
        ("heif", "image/heif"),
        ("avif", "image/avif"),
        ("webp", "image/webp"),
    ] {
        let got = imagor::process(&png, &format!("fit-in/32x32/filters:format({name})"));
        if f.save.contains(&name) {
            let out = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(out.content_type, mime, "{name}");
        } else {
            assert_refused(&got.expect_err(name), name, f.flavour);
        }
    }
}
