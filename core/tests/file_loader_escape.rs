//! The file loader never reads outside its base dir: not through `..` or
//! any encoding of it (SECURITY-NOTES Appendix B), not through a symbolic
//! link inside the base dir that points outside (to a file, a folder, or
//! along a chain of links), whether the key comes from the request
//! (`serve()`) or from an overlay (`image()`, `watermark()`). Links that
//! stay inside the base dir keep working, with relative or absolute targets.

use std::path::{Path, PathBuf};

use imagor::{Imagor, Options};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR")))
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("imagor-escape-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

struct Fixture {
    base: PathBuf,
    outside: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
        let _ = std::fs::remove_dir_all(&self.outside);
    }
}

fn fixture(test: &str) -> Fixture {
    let base = fresh_dir(&format!("{test}-base"));
    let outside = fresh_dir(&format!("{test}-outside"));
    let gopher = testdata("gopher.png");
    std::fs::create_dir_all(base.join("img")).unwrap();
    std::fs::copy(&gopher, base.join("img/inside.png")).unwrap();
    std::fs::create_dir_all(outside.join("secret")).unwrap();
    std::fs::copy(&gopher, outside.join("secret/private.png")).unwrap();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, base.join(name)).unwrap();
    link(&outside.join("secret/private.png"), "file-link.png");
    link(&outside.join("secret"), "dir-link");
    link(Path::new("dir-link"), "chain");
    link(Path::new("/etc"), "etc");
    link(Path::new("img/inside.png"), "inside-link.png");
    link(Path::new("img"), "inside-dir");
    link(&base.join("img/inside.png"), "absolute-inside.png");
    link(&base.join("img"), "absolute-inside-dir");
    Fixture { base, outside }
}

fn imagor(base: &Path) -> Imagor {
    Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: base.to_string_lossy().into_owned(),
        ..Options::default()
    })
    .expect("imagor")
}

#[test]
fn symlinks_out_of_the_base_dir_are_not_found() {
    let f = fixture("symlinks");
    let im = imagor(&f.base);
    for ok in [
        "img/inside.png",
        "inside-link.png",
        "inside-dir/inside.png",
        "absolute-inside.png",
        "absolute-inside-dir/inside.png",
    ] {
        let out = im.serve(&format!("unsafe/10x10/{ok}"));
        assert!(out.is_ok(), "{ok}: {out:?}");
    }
    for escape in [
        "file-link.png",
        "dir-link/private.png",
        "chain/private.png",
        "etc/passwd",
    ] {
        let e = im
            .serve(&format!("unsafe/10x10/{escape}"))
            .expect_err(escape);
        assert_eq!(e.status(), 404, "{escape}: {e}");
        for overlay in [
            format!("filters:image(10x10/{escape})"),
            format!("filters:watermark({escape},0,0,0)"),
        ] {
            let e = im
                .serve(&format!("unsafe/20x20/{overlay}/img/inside.png"))
                .expect_err(&overlay);
            assert_eq!(e.status(), 404, "{overlay}: {e}");
        }
    }
}

#[test]
fn traversal_keys_are_refused() {
    let f = fixture("traversal");
    let im = imagor(&f.base);
    let outside_name = f
        .outside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let keys = [
        "../../etc/passwd".to_owned(),
        "..%2f..%2fetc/passwd".to_owned(),
        "%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "%252e%252e/%252e%252e/etc/passwd".to_owned(),
        "....//....//etc/passwd".to_owned(),
        "../%2e%2e/etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        "//etc/passwd".to_owned(),
        "..\\..\\etc\\passwd".to_owned(),
        "%5c..%5c..%5cetc/passwd".to_owned(),
        "img.jpg%00.png".to_owned(),
        "%c0%ae%c0%ae/etc/passwd".to_owned(),
        format!("../{outside_name}/secret/private.png"),
        format!("img/../../{outside_name}/secret/private.png"),
        ".git/config".to_owned(),
        ".env".to_owned(),
        "a/./././b".to_owned(),
        "x".repeat(5000),
    ];
    for key in &keys {
        for path in [
            format!("unsafe/10x10/{key}"),
            format!("unsafe/20x20/filters:image(10x10/{key})/img/inside.png"),
        ] {
            match im.serve(&path) {
                Ok(_) => panic!("{path}: served"),
                Err(e) => assert!(
                    [400, 404].contains(&e.status()),
                    "{path}: {} {e}",
                    e.status()
                ),
            }
        }
    }
}

/// A request whose image climbs above the root (`meta//../x.png`: the
/// loader's `/..` stops at the root, so it loads `x.png`) has a result key
/// that the result storage cleans into another request's key (`x.png`,
/// the plain image's). It is served, but its result is never stored under
/// that key: the plain image stays the plain image.
#[test]
fn a_path_that_cleans_to_another_requests_key_does_not_poison_its_result() {
    let f = fixture("poison");
    let results = fresh_dir("poison-results");
    let im = Imagor::new(Options {
        unsafe_: true,
        file_loader_base_dir: f.base.to_string_lossy().into_owned(),
        file_result_storage_base_dir: results.to_string_lossy().into_owned(),
        ..Options::default()
    })
    .expect("imagor");
    let meta = im.serve("unsafe/meta//../img/inside.png").expect("meta");
    assert!(meta.data.starts_with(b"{"), "meta is JSON");
    let grey = im
        .serve("unsafe/fit-in/8x8/filters:grayscale()//../img/inside.png")
        .expect("grayscale");
    for _ in 0..2 {
        let plain = im.serve("unsafe/img/inside.png").expect("plain");
        assert!(plain.data.starts_with(b"\x89PNG"), "plain is the PNG");
        let small = im.serve("unsafe/fit-in/8x8/img/inside.png").expect("small");
        assert_ne!(small.data, grey.data, "fit-in/8x8 is in colour");
    }
    let _ = std::fs::remove_dir_all(&results);
}

/// The `suffix` and `size` result key styles put the image and the last
/// `format()` argument into the key as they are: `format(png/../x)` makes
/// the key `img/other.<hash>.png/../x`, which the result storage cleans to
/// `img/x`. A request for one image could so write its result under the
/// key of another request (computable: the first 20 hex digits of the
/// SHA1 of its path), and every later request for that one was served the
/// attacker's image. Such a key is processed but neither read from nor
/// saved to the result storage, as with the original style.
#[test]
fn a_format_argument_cannot_write_another_requests_suffix_key() {
    use imagor::hasher::ResultStoragePathStyle;
    let f = fixture("suffix-poison");
    std::fs::copy(testdata("faces-solvay.png"), f.base.join("img/other.png")).unwrap();
    let victim = "10x10/img/inside.png";
    let expected = imagor(&f.base).serve(&format!("unsafe/{victim}")).unwrap();
    for style in ["suffix", "size"] {
        let results = fresh_dir(&format!("suffix-poison-results-{style}"));
        let im = Imagor::new(Options {
            unsafe_: true,
            file_loader_base_dir: f.base.to_string_lossy().into_owned(),
            file_result_storage_base_dir: results.to_string_lossy().into_owned(),
            result_storage_path_style: style.into(),
            ..Options::default()
        })
        .expect("imagor");
        let key = style
            .parse::<ResultStoragePathStyle>()
            .unwrap()
            .hash(&imagor::path::parse(victim));
        let name = key.rsplit('/').next().unwrap();
        let attack = format!("unsafe/10x10/filters:format(png/../{name})/img/other.png");
        im.serve(&attack).expect("the attacker's request is served");
        for _ in 0..2 {
            let got = im.serve(&format!("unsafe/{victim}")).expect("victim");
            assert_eq!(got.data, expected.data, "{style}: {key} was overwritten");
        }
        let _ = std::fs::remove_dir_all(&results);
    }
}
