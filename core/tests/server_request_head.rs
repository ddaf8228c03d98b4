//! The request head as Go's server reads it: header lines are not counted
//! (only the head's 1 MiB is), and a malformed percent-escape in the path,
//! a sign included, is refused before any handler runs.
#![cfg(feature = "server")]

mod server_common;

use server_common::*;

fn server() -> (Server, TempDir) {
    let dir = TempDir::new("request-head");
    dir.write("gopher.png", &testdata_file("gopher.png"));
    let server = Server::start(&flags(&[
        ("imagor-unsafe", "true"),
        ("file-loader-base-dir", &dir.join("")),
    ]));
    (server, dir)
}

#[test]
fn many_header_lines_are_read_as_go_reads_them() {
    let (server, _dir) = server();
    // hyper's default of 100 lines answered 431 here.
    let mut req = Req::get("/unsafe/10x10/gopher.png");
    for i in 0..300 {
        req = req.header(&format!("X-Forwarded-Hop-{i}"), "proxy.example");
    }
    let r = send(server.port, &req).expect("300 headers");
    assert_eq!(r.status, 200, "{}", r.text());
    // Past our bound (Go: as many as fit in 1 MiB), a 431 and nothing else.
    let mut req = Req::get("/unsafe/10x10/gopher.png");
    for i in 0..2000 {
        req = req.header(&format!("X-H{i}"), "x");
    }
    assert_eq!(send(server.port, &req).expect("2000 headers").status, 431);
}

#[test]
fn a_signed_escape_is_malformed_as_in_go() {
    let (server, _dir) = server();
    for bad in ["%zz", "%+F", "%-1", "%+0"] {
        let r = send(
            server.port,
            &Req::get(&format!("/unsafe/10x10/{bad}gopher.png")),
        )
        .expect("request");
        // Go's server refuses the request line: a plain-text 400, not the
        // JSON of a handler.
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(!r.text().contains("\"status\""), "{bad}: {}", r.text());
    }
    let ok = send(server.port, &Req::get("/unsafe/10x10/%67opher.png")).expect("request");
    assert_eq!(ok.status, 200, "{}", ok.text());
}
