"""imagor.formats(): what this build loads and saves. A format missing from
it (the prebuilt wheel's libvips has no JPEG XL, JPEG 2000, PDF or HEIC) is
refused with UnsupportedFormatError (406) naming it; a listed one works."""

import os

import pytest

import imagor

from conftest import image

INPUTS = {
    "jxl": "jxl-isobmff.jxl",
    "jp2": "gopher.jp2",
    "pdf": "sample.pdf",
    "heif": "gopher-front.heif",
    "avif": "gopher-front.avif",
    "tiff": "gopher.tiff",
    "webp": "demo3.webp",
}


def refused(info, name):
    e = info.value
    assert e.status == 406 and e.code == "unsupported_format", e
    assert f" {name} " in e.message, e.message
    if imagor.formats()["flavour"] == "bundled":
        assert "system libvips" in e.message, e.message


def test_shape_and_the_common_formats():
    f = imagor.formats()
    assert set(f) == {"load", "save", "libvips", "flavour", "av1_decoder"}
    assert f["av1_decoder"] in ("dav1d", "libheif")
    # The packages and `make test`'s builds have the core's own AV1 path, so
    # the tests that compare it with heifload never skip there.
    if f["flavour"] == "bundled" or "own-av1" in os.environ.get("IMAGOR_FEATURES", ""):
        assert f["av1_decoder"] == "dav1d", f
    assert f["flavour"] in ("system", "bundled")
    assert f["libvips"] == ".".join(map(str, imagor.libvips_version()))
    for name in ("jpeg", "png", "gif", "webp", "avif", "tiff", "bmp", "svg"):
        assert name in f["load"], f
    for name in ("jpeg", "png", "gif", "webp", "avif", "tiff"):
        assert name in f["save"], f
    assert not {"bmp", "svg", "pdf"} & set(f["save"])
    if f["flavour"] == "bundled":
        assert not {"jxl", "jp2", "pdf", "heif"} & set(f["load"]), f


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_inputs_follow_formats(name):
    data = image(INPUTS[name])
    im = imagor.Imagor(block_untrusted_loaders=False)
    if name in imagor.formats()["load"]:
        assert im.meta(data)["format"] in (name, "jp2k")
    else:
        with pytest.raises(imagor.UnsupportedFormatError) as info:
            im.process(data, "fit-in/40x40/filters:format(png)")
        refused(info, name)


@pytest.mark.parametrize("name", ["jxl", "jp2", "heif", "avif", "webp", "gif"])
def test_outputs_follow_formats(name, gopher):
    path = f"fit-in/32x32/filters:format({name})"
    if name in imagor.formats()["save"]:
        assert imagor.process(gopher, path)
    else:
        with pytest.raises(imagor.UnsupportedFormatError) as info:
            imagor.process(gopher, path)
        refused(info, name)
