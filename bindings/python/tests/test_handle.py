"""Imagor.handle: the core's request handling (the server's) from Python."""

import threading

import pytest

import imagor
from conftest import TESTDATA


@pytest.fixture(scope="module")
def im():
    return imagor.Imagor(secret="s3cret", file_loader_base_dir=str(TESTDATA))


def test_image_response(im):
    path = "fit-in/20x20/filters:format(webp)/gopher.png"
    res = im.handle("GET", f"/{im.sign(path)}/{path}", headers={"Accept": "*/*"})
    assert res.status == 200
    assert res.header("content-type") == "image/webp"
    assert res.header("Content-Length") == str(len(res.body))
    assert ("Content-Disposition", "inline") in res.headers
    assert imagor.meta(res.body)["width"] <= 20
    assert "status=200" in repr(res)


def test_errors_are_responses(im):
    path = "10x10/gopher.png"
    bad = im.handle("GET", f"/{imagor.sign(path, 'wrong')}/{path}")
    assert bad.status == 403
    assert bad.body == b'{"message":"url signature mismatch","status":403}'
    assert im.handle("DELETE", "/unsafe/a.jpg").status == 405
    missing = im.handle("GET", f"/{im.sign('missing.png')}/missing.png")
    assert missing.status == 404
    assert missing.header("x-nope", "none") == "none"


def test_head_query_and_params(im):
    head = im.handle("head", "/params/unsafe/10x20/a.jpg?w=1")
    assert head.status == 200 and head.body == b""
    res = im.handle("GET", "/params/unsafe/10x20/a.jpg", query="w=1")
    assert b'"width": 10' in res.body


def test_uploads_and_header_pairs(gopher):
    up = imagor.Imagor(unsafe=True, upload_loader_enable=True)
    res = up.handle("POST", "/unsafe/fit-in/10x10/", headers=[("Content-Type", "image/png")],
                    body=bytearray(gopher))
    assert res.status == 200, res.body
    assert res.header("Content-Type") == "image/png"
    refused = up.handle("POST", "/unsafe/fit-in/10x10/", headers={"Content-Type": "text/plain"},
                        body=b"hello")
    # imagor answers an unaccepted upload type with 406 "unsupported format".
    assert refused.status == 406
    assert refused.body == b'{"message":"unsupported format","status":406}'


def test_bad_arguments(im):
    with pytest.raises(TypeError):
        im.handle("GET", "/unsafe/a.jpg", headers=[("a", 1)])
    with pytest.raises(TypeError):
        im.handle("GET", "/unsafe/a.jpg", body="text")
    with pytest.raises(TypeError):
        im.handle("GET", 1)


def test_threads_share_an_instance(im):
    path = "fit-in/16x16/gopher.png"
    url = f"/{im.sign(path)}/{path}"
    statuses = []

    def worker():
        for _ in range(5):
            statuses.append(im.handle("GET", url).status)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
