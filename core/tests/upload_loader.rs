//! The upload loader as imagor's (spec §7.2): POST only, empty key, raw
//! bodies and multipart forms, size limits, the accept list, and each
//! error's message and status.

use bytes::Bytes;
use imagor::loader::{LoadContext, Loader, UploadLoader, UploadLoaderOptions};
use imagor::request::Request;
use imagor::{Blob, Error};

const BOUNDARY: &str = "XyZ-boundary";

fn request(method: &str, content_type: Option<&str>, body: impl Into<Bytes>) -> Request {
    let mut headers = Vec::new();
    if let Some(ct) = content_type {
        headers.push(("content-type".to_owned(), ct.to_owned()));
    }
    Request {
        method: method.to_owned(),
        path: "/unsafe/".to_owned(),
        headers,
        body: body.into(),
        ..Request::default()
    }
}

fn load(loader: &UploadLoader, req: &Request, key: &str) -> Result<Blob, Error> {
    let ctx = LoadContext {
        request: Some(req),
        ..Default::default()
    };
    pollster::block_on(loader.get(ctx, key))
}

fn loader(max: usize, accept: &str, field: &str) -> UploadLoader {
    UploadLoader::new(UploadLoaderOptions {
        max_allowed_size: max,
        accept: accept.to_owned(),
        form_field_name: field.to_owned(),
    })
}

fn status_error(message: &str) -> Error {
    Error::Status {
        message: message.to_owned(),
        status: 400,
    }
}

/// A part: disposition parameters, optional Content-Type, content.
struct Part<'a>(&'a str, Option<&'a str>, &'a [u8]);

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for Part(disposition, content_type, data) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart(body: Vec<u8>) -> Request {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    request("POST", Some(&ct), body)
}

const IMAGE: &str = r#"form-data; name="image"; filename="a.png""#;

#[test]
fn only_post_requests_with_an_empty_key() {
    let l = UploadLoader::default();
    assert_eq!(l.name(), "upload");
    for method in ["GET", "HEAD", "PUT", "post"] {
        let req = request(method, Some("image/png"), &b"png"[..]);
        assert_eq!(load(&l, &req, ""), Err(Error::NOT_FOUND), "{method}");
    }
    let no_request = pollster::block_on(l.get(LoadContext::default(), ""));
    assert_eq!(no_request, Err(Error::NOT_FOUND));
    let req = request("POST", Some("image/png"), &b"png"[..]);
    let e = load(&l, &req, "a.png").expect_err("key");
    assert_eq!((e.clone(), e.status()), (Error::invalid(), 400));
}

#[test]
fn missing_content_type() {
    let l = UploadLoader::default();
    for ct in [None, Some("")] {
        let e = load(&l, &request("POST", ct, &b"png"[..]), "").expect_err("no type");
        assert_eq!(e, status_error("missing Content-Type header"));
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_json(),
            r#"{"message":"missing Content-Type header","status":400}"#
        );
    }
}

#[test]
fn raw_bodies() {
    let l = loader(10, "image/*", "image");
    let req = request("POST", Some("image/png"), &b"0123456789"[..]);
    let blob = load(&l, &req, "").expect("raw");
    assert_eq!(blob.data, &b"0123456789"[..]);
    assert_eq!(blob.content_type.as_deref(), Some("image/png"));
    // The declared type, verbatim.
    let req = request("POST", Some("Image/JPEG; charset=binary"), &b"x"[..]);
    let blob = load(&l, &req, "").expect("raw");
    assert_eq!(
        blob.content_type.as_deref(),
        Some("Image/JPEG; charset=binary")
    );

    for ct in ["text/plain", "image/", "image", "application/octet-stream"] {
        let e = load(&l, &request("POST", Some(ct), &b"x"[..]), "").expect_err(ct);
        assert_eq!((e.clone(), e.status()), (Error::unsupported(), 406), "{ct}");
    }
    // Too large: by the body, or by the declared Content-Length.
    let e = load(&l, &request("POST", Some("image/png"), vec![0u8; 11]), "").expect_err("11");
    assert_eq!((e.clone(), e.status()), (Error::MaxSizeExceeded, 400));
    let mut req = request("POST", Some("image/png"), &b"small"[..]);
    req.headers.push(("content-length".into(), "1000".into()));
    assert_eq!(load(&l, &req, ""), Err(Error::MaxSizeExceeded));
    let mut req = request("POST", Some("image/png"), &b"small"[..]);
    req.headers.push(("content-length".into(), "5".into()));
    assert!(load(&l, &req, "").is_ok());
    // The type is checked before the size.
    let e = load(&l, &request("POST", Some("text/plain"), vec![0u8; 11]), "").expect_err("both");
    assert_eq!(e, Error::unsupported());
    // An empty accept list takes anything.
    let any = loader(10, "", "image");
    let blob = load(&any, &request("POST", Some("text/plain"), &b"x"[..]), "").expect("any");
    assert_eq!(blob.content_type.as_deref(), Some("text/plain"));
}

#[test]
fn accept_list_matching() {
    let cases: &[(&str, &str, bool)] = &[
        ("image/*", "image/png", true),
        ("image/*", "IMAGE/PNG", true),
        ("image/*", "image/png; q=1", true),
        ("image/*", "image/png;", true),
        ("image/*", "imagex/png", false),
        ("image/*", "image", false),
        ("image/*", "text/plain", false),
        ("image/*", "", false),
        ("image/*", "image/png; bad", false),
        ("image/*", "image/png; a=1; a=2", false),
        ("*/*", "text/plain", true),
        ("*/*", "anything", true),
        ("*/*", "", false),
        ("image/png, image/jpeg", "image/jpeg", true),
        ("image/png, image/jpeg", "image/gif", false),
        (" image/png ; q=0.5 , text/* ", "text/html", true),
        (" image/png ; q=0.5 , text/* ", "image/png", true),
        ("IMAGE/PNG", "image/png", true),
        // Kept verbatim when it does not parse: matches nothing.
        ("image/png;;bad", "image/png", false),
        ("", "", true),
        ("", "text/plain", true),
        (" , ", "whatever/x", true),
    ];
    for &(accept, ct, want) in cases {
        let l = loader(10, accept, "image");
        assert_eq!(l.accepts(ct), want, "accept {accept:?}, type {ct:?}");
    }
}

#[test]
fn multipart_forms() {
    let l = loader(10, "image/*", "image");
    let body = form(&[
        Part(r#"form-data; name="note""#, None, b"hello"),
        Part(IMAGE, Some("image/png"), b"0123456789"),
        Part(
            r#"form-data; name="image"; filename="b.png""#,
            Some("image/gif"),
            b"second",
        ),
    ]);
    let req = multipart(body);
    let blob = load(&l, &req, "").expect("form");
    assert_eq!(blob.data, &b"0123456789"[..]);
    assert_eq!(blob.content_type.as_deref(), Some("image/png"));
    // The part is a slice of the request body, not a copy of it.
    let body = req.body.as_ptr_range();
    assert!(
        body.contains(&blob.data.as_ptr()),
        "the image part was copied"
    );
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let req = multipart(form(&[
        Part(r#"form-data; name="note""#, None, b"hello"),
        Part(IMAGE, Some("image/png"), &big),
    ]));
    let blob = load(&loader(4 << 20, "image/*", "image"), &req, "").expect("3 MB form");
    assert_eq!(blob.data, big);
    assert!(
        req.body.as_ptr_range().contains(&blob.data.as_ptr()),
        "3 MB part copied"
    );

    // Another field name; RFC 2231 file names count.
    let custom = loader(10, "image/*", "file");
    let body = form(&[
        Part(IMAGE, Some("image/png"), b"not this"),
        Part(
            "form-data; name=file; filename*=UTF-8''%C3%A9.png",
            Some("image/webp"),
            b"this",
        ),
    ]);
    let blob = load(&custom, &multipart(body), "").expect("custom field");
    assert_eq!(blob.data, &b"this"[..]);
    assert_eq!(blob.content_type.as_deref(), Some("image/webp"));

    // A part without a type: refused by a non-empty accept list,
    // accepted (and sniffed later) by an empty one.
    let untyped = form(&[Part(IMAGE, None, b"raw")]);
    assert_eq!(
        load(&l, &multipart(untyped.clone()), ""),
        Err(Error::unsupported())
    );
    let blob = load(&loader(10, "", "image"), &multipart(untyped), "").expect("untyped");
    assert_eq!(blob.content_type, None);
    let text = form(&[Part(IMAGE, Some("text/plain"), b"raw")]);
    let e = load(&l, &multipart(text), "").expect_err("text");
    assert_eq!((e.clone(), e.status()), (Error::unsupported(), 406));
}

#[test]
fn multipart_sizes() {
    let l = loader(10, "image/*", "image");
    let exact = form(&[Part(IMAGE, Some("image/png"), &[7u8; 10])]);
    assert_eq!(load(&l, &multipart(exact), "").expect("10").data.len(), 10);
    let big = form(&[Part(IMAGE, Some("image/png"), &[7u8; 11])]);
    let e = load(&l, &multipart(big), "").expect_err("11");
    assert_eq!((e.clone(), e.status()), (Error::MaxSizeExceeded, 400));
    // The size is checked before the type.
    let big_text = form(&[Part(IMAGE, Some("text/plain"), &[7u8; 11])]);
    assert_eq!(
        load(&l, &multipart(big_text), ""),
        Err(Error::MaxSizeExceeded)
    );
    // Other files may be larger; values are bounded by max + 10 MiB.
    let other = form(&[
        Part(
            r#"form-data; name="other"; filename="o""#,
            None,
            &[1u8; 100],
        ),
        Part(IMAGE, Some("image/png"), b"ok"),
    ]);
    assert!(load(&l, &multipart(other), "").is_ok());
    let huge_value = vec![b'v'; (10 << 20) + 11];
    let values = form(&[
        Part(r#"form-data; name="v""#, None, &huge_value),
        Part(IMAGE, Some("image/png"), b"ok"),
    ]);
    assert_eq!(
        load(&l, &multipart(values), ""),
        Err(status_error(
            "failed to parse multipart form: multipart: message too large"
        ))
    );
}

#[test]
fn multipart_errors() {
    let l = UploadLoader::default();
    let no_file = status_error("failed to get form file 'image': http: no such file");
    for parts in [
        vec![Part(
            r#"form-data; name="image""#,
            Some("image/png"),
            b"value",
        )],
        vec![Part(
            r#"form-data; name="other"; filename="a.png""#,
            None,
            b"x",
        )],
        vec![Part(
            r#"attachment; name="image"; filename="a.png""#,
            None,
            b"x",
        )],
        vec![Part(r#"form-data; name="image"; filename="""#, None, b"x")],
        vec![],
    ] {
        let e = load(&l, &multipart(form(&parts)), "").expect_err("no file");
        assert_eq!(e, no_file);
        assert_eq!(e.status(), 400);
    }
    let custom = loader(10, "image/*", "upload");
    assert_eq!(
        load(&custom, &multipart(form(&[])), ""),
        Err(status_error(
            "failed to get form file 'upload': http: no such file"
        ))
    );

    let parse = |ct: &str, body: &[u8]| {
        load(&l, &request("POST", Some(ct), body.to_vec()), "").expect_err(ct)
    };
    assert_eq!(
        parse("multipart/form-data", b""),
        status_error("failed to parse multipart form: no multipart boundary param in Content-Type")
    );
    assert_eq!(
        parse("multipart/form-datax; boundary=a", b""),
        status_error(
            "failed to parse multipart form: request Content-Type isn't multipart/form-data"
        )
    );
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut truncated = form(&[Part(IMAGE, Some("image/png"), b"0123456789")]);
    truncated.truncate(truncated.len() - 20);
    let mut after = form(&[Part(IMAGE, Some("image/png"), b"png")]);
    let end = after.len() - format!("--{BOUNDARY}--\r\n").len();
    after.truncate(end);
    after.extend_from_slice(format!("--{BOUNDARY}\r\nbroken header line").as_bytes());
    for body in [&b""[..], b"garbage without boundaries", &truncated, &after] {
        let e = parse(&ct, body);
        assert_eq!(e.status(), 400);
        assert!(
            e.message().starts_with("failed to parse multipart form: "),
            "{e}"
        );
    }
    let many: Vec<Part<'_>> = (0..1001)
        .map(|_| Part(r#"form-data; name="n""#, None, b"x"))
        .collect();
    assert_eq!(
        load(&l, &multipart(form(&many)), ""),
        Err(status_error(
            "failed to parse multipart form: multipart: message too large"
        ))
    );
}
