"""The core's HTTP loader from Python: the keyword options reach it. A local
origin and a canary listener on 127.0.0.1 (nothing reaches the internet)."""

import http.server
import socket
import threading

import pytest

import imagor
from conftest import TESTDATA


class _Origin(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        _Origin.hits.append(self.path)
        if self.path == "/gopher.png":
            body = (TESTDATA / "gopher.png").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
        elif self.path.startswith("/to/"):
            body = b""
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/"):])
        else:
            body = b"no"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def canary():
    """A listener that counts the connections it gets."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    hits = []

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            hits.append(1)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield sock.getsockname()[1], hits
    sock.close()


def test_an_allowed_local_origin_is_loaded(origin):
    im = imagor.Imagor(unsafe=True, http_loader_block_loopback_networks=False,
                       http_loader_allowed_sources=[origin])
    out = im.serve(f"unsafe/fit-in/16x16/http://{origin}/gopher.png")
    assert out.content_type == "image/png"
    assert imagor.meta(out.data)["width"] <= 16
    res = im.handle("GET", f"/unsafe/fit-in/16x16/http://{origin}/gopher.png")
    assert res.status == 200
    # Through a redirect that stays on the origin, and by base URL.
    assert im.serve(f"unsafe/http://{origin}/to/http://{origin}/gopher.png").format == "png"
    based = imagor.Imagor(unsafe=True, http_loader_block_loopback_networks=False,
                          http_loader_base_url=f"http://{origin}/")
    assert based.serve("unsafe/fit-in/8x8/gopher.png").format == "png"


def test_loopback_and_redirects_to_it_are_refused(origin, canary):
    port, hits = canary
    before = len(_Origin.hits)
    # Default options: the origin (loopback) itself is refused.
    default = imagor.Imagor(unsafe=True)
    with pytest.raises(imagor.ImagorError) as e:
        default.serve(f"unsafe/http://{origin}/gopher.png")
    assert e.value.status == 403
    assert e.value.message == f"unauthorized request: loopback address blocked: http://{origin}/gopher.png"
    for url in [f"http://127.0.0.1:{port}/x.jpg", f"http://localhost:{port}/x.jpg",
                f"http://[::ffff:127.0.0.1]:{port}/x.jpg", "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/x.jpg"]:
        assert default.handle("GET", f"/unsafe/{url}").status == 403, url
    assert len(_Origin.hits) == before
    # Allowed origin, redirect to the canary: not an allowed source.
    im = imagor.Imagor(unsafe=True, http_loader_block_loopback_networks=False,
                       http_loader_allowed_sources=[origin])
    res = im.handle("GET", f"/unsafe/http://{origin}/to/http://127.0.0.1:{port}/x.jpg")
    assert res.status == 403
    assert res.body == b'{"message":"http source not allowed","status":403}'
    # Any source, loopback lifted: a network block still holds at the hop.
    lifted = imagor.Imagor(unsafe=True, http_loader_block_loopback_networks=False,
                           http_loader_block_networks=["127.0.0.0/8"])
    res = lifted.handle("GET", f"/unsafe/http://localhost:{port}/x.jpg")
    assert res.status == 403
    assert hits == []


def test_bad_http_loader_options_are_refused():
    with pytest.raises(imagor.InvalidError, match="http_loader_allowed_source_regexp"):
        imagor.Imagor(http_loader_allowed_source_regexp="(")
    with pytest.raises(imagor.InvalidError, match="http_loader_block_networks"):
        imagor.Imagor(http_loader_block_networks=["nope"])
