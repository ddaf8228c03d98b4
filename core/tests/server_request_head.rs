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

/// Heads still arriving count against `-imagor-max-total-memory` past
/// their first 16 KiB: connections the pool has no room for are closed at
/// once (2 000 unfinished 1 MB heads held 2 GB until the 10 s header
/// timeout in a server limited to 256 MiB), and the server serves others.
#[test]
fn unfinished_heads_are_held_within_the_memory_limit() {
    use std::io::{Read, Write};
    let dir = TempDir::new("request-head-memory");
    dir.write("gopher.png", &testdata_file("gopher.png"));
    // 8 MiB, of which heads (as sources) may take three quarters.
    let server = Server::start(&flags(&[
        ("imagor-unsafe", "true"),
        ("file-loader-base-dir", &dir.join("")),
        ("imagor-max-total-memory", "8388608"),
    ]));
    let mut head = b"GET /unsafe/10x10/gopher.png HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    head.resize(1000 << 10, b'a');
    let conns: Vec<std::net::TcpStream> = (0..30)
        .filter_map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).ok()?;
            let _ = s.write_all(&head);
            Some(s)
        })
        .collect();
    // Well before the 10 s header timeout, those past the pool are closed.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let closed = conns
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).expect("nonblocking");
            let mut byte = [0u8; 1];
            match (&mut &**s).read(&mut byte) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            }
        })
        .count();
    assert!(closed >= 20, "only {closed} of 30 closed");
    let r = server.get("/unsafe/10x10/gopher.png");
    assert_eq!(r.status, 200, "{}", r.text());
}
