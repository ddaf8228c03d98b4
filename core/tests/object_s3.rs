//! The S3 loader, storage, result storage and bucket router against a
//! real S3 server (s3s-fs on 127.0.0.1, see `object_common`), through
//! `Imagor::serve` as a library user calls it.

mod object_common;

use std::time::{Duration, Instant};

use imagor::hasher::ResultStoragePathStyle;
use imagor::loader::Loader;
use imagor::{Error, Imagor, Options};
use object_common::{get, put, shared, S3Server};

fn gopher() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/gopher.png"
    ))
    .expect("gopher")
}

fn demo() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/demo1.jpg"
    ))
    .expect("demo1")
}

fn imagor(g: &S3Server, opts: Options) -> Imagor {
    Imagor::new(g.options(Options {
        unsafe_: true,
        ..opts
    }))
    .expect("imagor")
}

fn stat(g: &S3Server, bucket: &str, key: &str) -> Option<imagor::Stat> {
    pollster::block_on(g.raw(bucket).stat(key)).ok()
}

/// A scratch folder for a file loader.
fn folder(files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "imagor-objtest-{}-{}",
        std::process::id(),
        files.first().map_or("x", |f| f.0).replace('/', "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in files {
        std::fs::write(dir.join(name), data).unwrap();
    }
    dir
}

#[test]
fn loader_maps_keys_with_base_dir_prefix_and_safe_chars() {
    let g = shared();
    // imagor keeps `!"()*` in S3 keys and turns a space into `+`.
    put(g, "imagor", "loader-t/base/a+b(1).png", &gopher());
    let i = imagor(
        g,
        Options {
            s3_loader_bucket: "imagor".into(),
            s3_loader_base_dir: "loader-t/base".into(),
            s3_loader_path_prefix: "img".into(),
            ..Options::default()
        },
    );
    let out = i
        .serve("unsafe/fit-in/32x32/img/a b(1).png")
        .expect("served");
    assert_eq!(out.content_type, "image/png");
    assert_eq!(
        i.serve("unsafe/32x32/img/missing.png").unwrap_err(),
        Error::not_found("img/missing.png")
    );
    // Outside the path prefix: imagor's ErrInvalid.
    assert_eq!(
        i.serve("unsafe/32x32/other/a b(1).png")
            .unwrap_err()
            .status(),
        400
    );
    // `bucket/dir` sets the base dir too.
    let i = imagor(
        g,
        Options {
            s3_loader_bucket: "imagor/loader-t/base".into(),
            ..Options::default()
        },
    );
    assert!(i.serve("unsafe/16x16/a b(1).png").is_ok());
    // A bucket that does not exist is not found, as in imagor.
    let i = imagor(
        g,
        Options {
            s3_loader_bucket: "no-such-bucket".into(),
            ..Options::default()
        },
    );
    assert_eq!(
        i.serve("unsafe/16x16/a.png").unwrap_err(),
        Error::not_found("a.png")
    );
}

#[test]
fn storage_keeps_sources_loaded_elsewhere() {
    let g = shared();
    let dir = folder(&[("st-gopher.png", &gopher())]);
    let i = imagor(
        g,
        Options {
            file_loader_base_dir: dir.to_string_lossy().into(),
            s3_storage_bucket: "imagor".into(),
            s3_storage_base_dir: "storage-t".into(),
            ..Options::default()
        },
    );
    i.serve("unsafe/20x20/st-gopher.png").expect("served");
    let saved = get(g, "imagor", "storage-t/st-gopher.png").expect("source saved to S3");
    assert_eq!(&saved.data[..], &gopher()[..]);
    assert_eq!(saved.content_type.as_deref(), Some("image/png"));
    // Gone from the folder: now served from the S3 storage.
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(i.serve("unsafe/24x24/st-gopher.png").is_ok());
}

#[test]
fn result_storage_in_every_path_style_serves_without_the_source() {
    let g = shared();
    put(g, "imagor", "rs-src/gopher.png", &gopher());
    for style in ["original", "digest", "suffix", "size"] {
        let base = format!("results-{style}");
        let opts = Options {
            s3_loader_bucket: "imagor/rs-src".into(),
            s3_result_storage_bucket: "imagor".into(),
            s3_result_storage_base_dir: base.clone(),
            result_storage_path_style: style.into(),
            ..Options::default()
        };
        let path = "fit-in/40x30/filters:format(webp)/gopher.png";
        let first = imagor(g, opts.clone())
            .serve(&format!("unsafe/{path}"))
            .unwrap();
        let params = imagor::path::parse(path);
        let key = match style {
            "original" => path.to_owned(),
            s => s.parse::<ResultStoragePathStyle>().unwrap().hash(&params),
        };
        // The key as S3 stores it: `:` escaped, `()` kept.
        let key = key.replace(':', "%3A");
        let stored = get(g, "imagor", &format!("{base}/{key}"))
            .unwrap_or_else(|e| panic!("{style}: result at {base}/{key}: {e}"));
        assert_eq!(stored.data, first.data, "{style}");
        assert_eq!(stored.content_type.as_deref(), Some("image/webp"));
        // Another instance with no loader at all answers from the bucket.
        let no_source = imagor(
            g,
            Options {
                s3_loader_bucket: String::new(),
                ..opts
            },
        );
        let again = no_source.serve(&format!("unsafe/{path}")).unwrap();
        assert_eq!(again.data, first.data, "{style}");
    }
}

#[test]
fn expired_results_are_misses_and_expired_sources_are_reloaded() {
    // S3 reports Last-Modified in whole seconds, so an object can look up
    // to a second older than it is: expirations of 3 s leave room for that.
    let g = shared();
    put(g, "imagor", "exp-src/gopher.png", &gopher());
    let opts = Options {
        s3_loader_bucket: "imagor/exp-src".into(),
        s3_result_storage_bucket: "imagor".into(),
        s3_result_storage_base_dir: "exp-results".into(),
        s3_result_storage_expiration: Duration::from_secs(3),
        ..Options::default()
    };
    imagor(g, opts.clone())
        .serve("unsafe/10x10/gopher.png")
        .unwrap();
    let no_source = imagor(
        g,
        Options {
            s3_loader_bucket: String::new(),
            ..opts.clone()
        },
    );
    assert!(
        no_source.serve("unsafe/10x10/gopher.png").is_ok(),
        "fresh result"
    );
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(
        no_source.serve("unsafe/10x10/gopher.png").unwrap_err(),
        Error::not_found("gopher.png"),
        "an expired result is a miss"
    );
    // Storage expiration: an expired source is loaded and saved again.
    let dir = folder(&[("exp-gopher.png", &gopher())]);
    let opts = Options {
        file_loader_base_dir: dir.to_string_lossy().into(),
        s3_storage_bucket: "imagor".into(),
        s3_storage_base_dir: "exp-storage".into(),
        s3_storage_expiration: Duration::from_secs(3),
        ..Options::default()
    };
    let i = imagor(g, opts);
    i.serve("unsafe/10x10/exp-gopher.png").unwrap();
    let t1 = stat(g, "imagor", "exp-storage/exp-gopher.png")
        .unwrap()
        .modified;
    i.serve("unsafe/11x11/exp-gopher.png").unwrap();
    let t2 = stat(g, "imagor", "exp-storage/exp-gopher.png")
        .unwrap()
        .modified;
    assert_eq!(t1, t2, "fresh: served from the storage, not saved again");
    std::thread::sleep(Duration::from_millis(3100));
    i.serve("unsafe/12x12/exp-gopher.png").unwrap();
    let t3 = stat(g, "imagor", "exp-storage/exp-gopher.png")
        .unwrap()
        .modified;
    assert!(
        t3 > t2,
        "expired: loaded and saved again ({t2:?} -> {t3:?})"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn modified_time_check_reprocesses_after_the_source_changes() {
    let g = shared();
    put(g, "imagor", "mtc-src/pic.img", &gopher());
    let opts = Options {
        s3_loader_bucket: "imagor/mtc-src".into(),
        s3_result_storage_bucket: "imagor".into(),
        s3_result_storage_base_dir: "mtc-results".into(),
        modified_time_check: true,
        ..Options::default()
    };
    let i = imagor(g, opts.clone());
    let path = "unsafe/fit-in/50x50/filters:format(png)/pic.img";
    let first = i.serve(path).unwrap();
    // S3 times have one-second resolution.
    std::thread::sleep(Duration::from_millis(1100));
    put(g, "imagor", "mtc-src/pic.img", &demo());
    let second = i.serve(path).unwrap();
    assert_ne!(first.data, second.data, "newer source: reprocessed");
    // Without the check the stored result is served as it is.
    put(g, "imagor", "mtc-src/pic.img", &gopher());
    let unchecked = imagor(
        g,
        Options {
            modified_time_check: false,
            ..opts
        },
    );
    assert_eq!(unchecked.serve(path).unwrap().data, second.data);
}

#[test]
fn wrong_credentials_are_403_and_oversized_objects_400() {
    let g = shared();
    put(g, "imagor", "auth/gopher.png", &gopher());
    let mut opts = g.options(Options {
        unsafe_: true,
        s3_loader_bucket: "imagor/auth".into(),
        ..Options::default()
    });
    opts.aws_secret_access_key = "0".repeat(64);
    let e = Imagor::new(opts.clone())
        .unwrap()
        .serve("unsafe/10x10/gopher.png")
        .unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    assert!(e.message().contains("access denied"), "{e}");
    opts.aws_access_key_id = "GK000000000000000000000000".into();
    let e = Imagor::new(opts)
        .unwrap()
        .serve("unsafe/10x10/gopher.png")
        .unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    // The size cap, on the object's size before anything is read.
    let small = imagor(
        g,
        Options {
            s3_loader_bucket: "imagor/auth".into(),
            object_storage_max_size: 100,
            ..Options::default()
        },
    );
    assert_eq!(
        small.serve("unsafe/10x10/gopher.png").unwrap_err(),
        Error::MaxSizeExceeded
    );
}

#[test]
fn an_outage_is_a_prompt_502_and_service_resumes() {
    // Its own server: this one is stopped and started again.
    let mut g = S3Server::start();
    put(&g, "imagor", "out/gopher.png", &gopher());
    let i = imagor(
        &g,
        Options {
            s3_loader_bucket: "imagor/out".into(),
            s3_result_storage_bucket: "imagor".into(),
            s3_result_storage_base_dir: "out-results".into(),
            ..Options::default()
        },
    );
    assert!(i.serve("unsafe/10x10/gopher.png").is_ok());
    g.stop();
    let t = Instant::now();
    let e = i.serve("unsafe/12x12/gopher.png").unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
    assert!(e.message().contains("unavailable"), "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t.elapsed()
    );
    g.restart();
    assert!(i.serve("unsafe/12x12/gopher.png").is_ok(), "recovered");
}

#[test]
fn bucket_router_and_wildcard_bucket() {
    let g = shared();
    for b in ["route-eu", "route-archive"] {
        g.create_bucket(b);
    }
    put(g, "route-eu", "eu/photo.png", &gopher());
    put(g, "route-archive", "us/old.png", &gopher());
    put(g, "route-eu", "plain.png", &gopher());
    let yaml = "routing_pattern: '^(?P<bucket>[a-z]+)/'\n\
                default_bucket: { name: imagor }\n\
                fallback_buckets: [ { name: route-archive } ]\n\
                rules:\n  - match: eu\n    bucket: { name: route-eu, region: us-east-1 }\n";
    let file = std::env::temp_dir().join(format!("imagor-router-{}.yaml", std::process::id()));
    std::fs::write(&file, yaml).unwrap();
    let i = imagor(
        g,
        Options {
            s3_loader_bucket_router_config: file.to_string_lossy().into(),
            ..Options::default()
        },
    );
    assert!(i.serve("unsafe/10x10/eu/photo.png").is_ok(), "rule");
    assert!(
        i.serve("unsafe/10x10/us/old.png").is_ok(),
        "default misses, fallback has it"
    );
    assert_eq!(
        i.serve("unsafe/10x10/us/none.png").unwrap_err(),
        Error::not_found("us/none.png")
    );
    std::fs::remove_file(&file).unwrap();
    // `*`: the bucket is the first path segment.
    let w = imagor(
        g,
        Options {
            s3_loader_bucket: "*".into(),
            ..Options::default()
        },
    );
    assert!(w.serve("unsafe/10x10/route-eu/plain.png").is_ok());
    // A `*` result storage takes its bucket from the source image key.
    let wr = imagor(
        g,
        Options {
            s3_loader_bucket: "*".into(),
            s3_result_storage_bucket: "*".into(),
            ..Options::default()
        },
    );
    let out = wr.serve("unsafe/14x14/route-eu/plain.png").unwrap();
    let stored =
        get(g, "route-eu", "14x14/route-eu/plain.png").expect("result in the source's bucket");
    assert_eq!(stored.data, out.data);
    assert_eq!(
        w.serve("unsafe/10x10/route-eu/none.png").unwrap_err(),
        Error::not_found("route-eu/none.png")
    );
    assert_eq!(
        w.serve("unsafe/10x10/Bad_Bucket!/x.png")
            .unwrap_err()
            .status(),
        400
    );
}

/// What an S3 write sends, seen by a one-request listener: path-style
/// URL, the canned ACL, the tags, the storage class and the content type,
/// all signed. (s3s-fs ignores ACLs, tags and classes, so they are checked
/// on the wire.)
#[test]
fn writes_carry_acl_tags_storage_class_and_content_type() {
    use imagor::storage::{S3Options, S3Storage, Storage};
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut conn = conn;
        conn.write_all(b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (head, body)
    });
    let s = S3Storage::new(S3Options {
        bucket: "bkt".into(),
        endpoint: format!("http://127.0.0.1:{port}"),
        force_path_style: true,
        region: "us-east-1".into(),
        access_key_id: "GK0123".into(),
        secret_access_key: "secret".into(),
        acl: "public-read".into(),
        tagging: "source=imagor&kind=derived".into(),
        storage_class: "STANDARD_IA".into(),
        ..S3Options::default()
    })
    .unwrap();
    pollster::block_on(s.put("dir/a.png", &imagor::Blob::new(gopher()))).expect("put");
    let (head, body) = seen.join().unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("PUT /bkt/dir/a.png "), "{head}");
    assert!(lower.contains("x-amz-acl: public-read"), "{head}");
    assert!(
        lower.contains("x-amz-tagging: source=imagor&kind=derived"),
        "{head}"
    );
    assert!(lower.contains("x-amz-storage-class: standard_ia"), "{head}");
    assert!(lower.contains("content-type: image/png"), "{head}");
    let auth = lower
        .lines()
        .find(|l| l.starts_with("authorization:"))
        .unwrap();
    assert!(
        auth.contains("x-amz-acl") && auth.contains("x-amz-tagging"),
        "signed: {auth}"
    );
    assert_eq!(body, gopher());
}

#[test]
fn an_object_past_max_total_memory_is_refused_on_its_size() {
    let g = shared();
    put(g, "imagor", "memory-t/large.jpg", &vec![0u8; 1 << 20]);
    put(g, "imagor", "memory-t/gopher.png", &gopher());
    let i = imagor(
        g,
        Options {
            s3_loader_bucket: "imagor".into(),
            s3_loader_base_dir: "memory-t".into(),
            max_total_memory: 1 << 20,
            ..Options::default()
        },
    );
    // More than a call may take of the pool: refused before it is read.
    let e = i.serve("unsafe/32x32/large.jpg").unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("the image object needs about 1 MiB"),
        "{text}"
    );
    assert!(text.contains("max_total_memory (1 MiB)"), "{text}");
    // An object that fits is served.
    let out = i.serve("unsafe/32x32/gopher.png").expect("served");
    assert_eq!(out.content_type, "image/png");
}

/// An S3 loader and storage on one bucket and base dir (imagor's own
/// example): an expired object is a storage miss, so the loader reads it;
/// it is neither written over itself nor deleted when processing fails
/// (imagor deletes it).
#[test]
fn a_storage_on_the_loaders_objects_never_rewrites_or_deletes_them() {
    let g = shared();
    put(g, "imagor", "same/keep.png", &gopher());
    let i = imagor(
        g,
        Options {
            s3_loader_bucket: "imagor".into(),
            s3_loader_base_dir: "same".into(),
            s3_storage_bucket: "imagor".into(),
            s3_storage_base_dir: "same".into(),
            s3_storage_expiration: Duration::from_secs(1),
            ..Options::default()
        },
    );
    // Last-Modified is in whole seconds: 2.1 s makes it surely expired.
    std::thread::sleep(Duration::from_millis(2100));
    let before = stat(g, "imagor", "same/keep.png").expect("stat").modified;
    let failing = "unsafe/fit-in/10x10/filters:watermark(nope.png,0,0,0)/keep.png";
    assert_eq!(i.serve(failing).expect_err(failing).status(), 404);
    let after = stat(g, "imagor", "same/keep.png").expect("the original is still there");
    assert_eq!(after.modified, before, "the original was written over");
    i.serve("unsafe/10x10/keep.png").expect("served");
    let after = stat(g, "imagor", "same/keep.png").expect("the original is still there");
    assert_eq!(after.modified, before, "the original was written over");
    assert_eq!(
        &get(g, "imagor", "same/keep.png").expect("get").data[..],
        &gopher()[..]
    );
}

/// A key that names nothing under the base dir (`.`, `x/..`, a line
/// break alone, `/`) is refused: joined to the base dir it was the base
/// dir's own name, an object outside it (`secret-dir` for the base dir
/// `secret-dir`), which the S3 loader then served.
#[test]
fn keys_naming_nothing_never_reach_the_base_dirs_own_object() {
    let g = shared();
    put(g, "imagor", "base-obj", &demo());
    let i = imagor(
        g,
        Options {
            s3_loader_bucket: "imagor".into(),
            s3_loader_base_dir: "base-obj".into(),
            ..Options::default()
        },
    );
    for path in [
        "unsafe/%0A",
        "unsafe/.",
        "unsafe/%2F",
        "unsafe/meta/%C2%85",
        "unsafe/x/..",
    ] {
        match i.serve(path) {
            Ok(out) => panic!("{path}: served {} bytes", out.data.len()),
            Err(e) => assert!([400, 404].contains(&e.status()), "{path}: {e}"),
        }
    }
}

/// A result storage on the loader's bucket and base dir stores no result
/// (it never writes over what a loader serves): the server warns at start;
/// with a base dir of its own there is nothing to warn of.
#[test]
fn a_result_storage_sharing_the_loaders_place_is_warned_of() {
    use imagor::storage::{S3Options, S3Storage};
    let s3 = |base_dir: &str| {
        std::sync::Arc::new(
            S3Storage::new(S3Options {
                bucket: "bkt".into(),
                base_dir: base_dir.into(),
                endpoint: "http://127.0.0.1:1".into(),
                force_path_style: true,
                ..S3Options::default()
            })
            .unwrap(),
        )
    };
    let with = |result_dir: &str| {
        Imagor::new(Options::default())
            .unwrap()
            .with_loader(s3("images"))
            .with_result_storage(s3(result_dir))
            .result_storage_warnings()
    };
    let warned = with("images");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("results are not stored"), "{warned:?}");
    assert_eq!(with("results"), Vec::<String>::new());
}
