"""process() and meta() on the testdata images, the Imagor class and its
options."""

import json

import pytest

import imagor
from conftest import TESTDATA, image

SOURCES = [
    ("gopher.png", "png"),
    ("demo1.jpg", "jpeg"),
    ("demo3.webp", "webp"),
    ("gopher-front.avif", "avif"),
    ("dancing-banana.gif", "gif"),
    ("gopher.tiff", "tiff"),
    ("test.svg", "svg"),
    ("bmp_24.bmp", "bmp"),
]


@pytest.mark.parametrize("name,fmt", SOURCES)
def test_meta_of_sources(name, fmt):
    m = imagor.meta(image(name))
    assert m["format"] == fmt
    assert m["width"] > 0 and m["height"] > 0 and m["pages"] >= 1
    assert set(m) >= {"format", "content_type", "width", "height", "orientation", "pages",
                      "bands", "exif"}


@pytest.mark.parametrize("name,_", SOURCES)
@pytest.mark.parametrize("out", ["jpeg", "png", "webp", "avif", "gif"])
def test_fit_in_and_convert(name, _, out):
    src = imagor.meta(image(name))
    data = imagor.process(image(name), f"fit-in/120x90/filters:format({out})")
    m = imagor.meta(data)
    assert m["format"] == out
    assert m["content_type"] == f"image/{out}"
    assert m["width"] <= 120 and m["height"] <= 90
    if src["width"] > 120 or src["height"] > 90:
        assert m["width"] == 120 or m["height"] == 90
    else:  # fit-in does not enlarge
        assert (m["width"], m["height"]) == (src["width"], src["height"])


@pytest.mark.parametrize("size", [(50, 60), (200, 100), (1, 1)])
def test_cover_resize_is_exact(gopher, size):
    w, h = size
    m = imagor.meta(imagor.process(gopher, f"{w}x{h}/filters:format(png)"))
    assert (m["width"], m["height"]) == (w, h)


def test_paths_with_unsafe_signature_and_image_are_accepted(gopher):
    ref = imagor.process(gopher, "fit-in/64x64/filters:format(png)")
    assert imagor.process(gopher, "unsafe/fit-in/64x64/filters:format(png)") == ref
    assert imagor.process(gopher, "/fit-in/64x64/filters:format(png)/whatever.jpg") == ref
    signed = imagor.generate(imagor.parse("fit-in/64x64/filters:format(png)/x.jpg"), "k")
    assert imagor.process(gopher, signed) == ref


def test_input_types(gopher):
    ref = imagor.process(gopher, "fit-in/64x64/filters:format(webp)")
    assert imagor.process(bytearray(gopher), "fit-in/64x64/filters:format(webp)") == ref
    assert imagor.process(memoryview(gopher), "fit-in/64x64/filters:format(webp)") == ref
    # A non-contiguous view is read in order.
    doubled = bytes(b for pair in zip(gopher, gopher) for b in pair)
    assert imagor.process(memoryview(doubled)[::2], "fit-in/64x64/filters:format(webp)") == ref
    assert imagor.meta(bytearray(gopher)) == imagor.meta(gopher)
    with pytest.raises(TypeError, match="not str"):
        imagor.process("gopher.png", "100x100")
    with pytest.raises(TypeError):
        imagor.process(12, "100x100")
    with pytest.raises(TypeError):
        imagor.process(gopher, 100)


def test_meta_after_path_and_extras(gopher):
    m = imagor.meta(gopher, "fit-in/100x100/filters:format(webp)")
    assert (m["format"], m["height"]) == ("webp", 100)
    # One extra per call: several after a resize fail in the core today
    # ("out of order read"; reported).
    m = imagor.meta(gopher, "fit-in/100x100/filters:avgcolor()")
    assert set(m["average_color"]) == {"r", "g", "b"}
    assert isinstance(imagor.meta(gopher, "fit-in/100x100/filters:blurhash(4,3)")["blurhash"], str)
    assert isinstance(imagor.meta(gopher, "fit-in/100x100/filters:thumbhash()")["thumbhash"], str)
    raw = imagor.process(gopher, "meta/fit-in/100x100")
    assert json.loads(raw)["width"] == imagor.meta(gopher, "fit-in/100x100")["width"]


def test_animated_gif_keeps_frames():
    m = imagor.meta(imagor.process(image("dancing-banana.gif"), "fit-in/50x50/"))
    assert m["format"] == "gif" and m["pages"] > 1


def test_process_options(gopher):
    with pytest.raises(imagor.MaxResolutionExceededError):
        imagor.process(gopher, "100x100", max_width=100)
    assert imagor.process(gopher, "100x100/filters:blur(5)", disable_blur=True) == \
        imagor.process(gopher, "100x100/")
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_widht'.*max_width"):
        imagor.process(gopher, "100x100", max_widht=100)


def test_option_validation():
    assert "file_loader_base_dir" in imagor.option_names()
    assert "unsafe" in imagor.option_names()
    with pytest.raises(TypeError, match="max_width: invalid type"):
        imagor.Imagor(max_width="100")
    with pytest.raises(TypeError, match="max_width"):
        imagor.Imagor(max_width=True)
    with pytest.raises(TypeError, match="disable_filters"):
        imagor.Imagor(disable_filters="blur")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        imagor.Imagor(colour=1)
    with pytest.raises(ValueError, match="max_width"):
        imagor.Imagor(max_width=0)
    with pytest.raises(ValueError, match="avif_speed"):
        imagor.Imagor(avif_speed=12)
    with pytest.raises(ValueError, match="signer_truncate"):
        imagor.Imagor(signer_truncate=-1)
    with pytest.raises(ValueError, match="out of range"):
        imagor.Imagor(max_resolution=2**70)
    with pytest.raises(imagor.InvalidError, match="signer type"):
        imagor.Imagor(signer_type="md5")
    r = repr(imagor.Imagor(secret="hunter2", unsafe=True, disable_filters=["blur"]))
    assert "hunter2" not in r and "unsafe=True" in r and "blur" in r


def test_imagor_serve_and_sign():
    im = imagor.Imagor(secret="s3cret", file_loader_base_dir=str(TESTDATA))
    path = "fit-in/80x80/filters:format(webp)/gopher.png"
    hash_ = im.sign(path)
    assert hash_ == imagor.sign(path, "s3cret")
    assert im.sign("/" + path) == hash_
    out = im.serve(f"{hash_}/{path}")
    assert (out.content_type, out.format) == ("image/webp", "webp")
    assert bytes(out) == out.data and len(out) == len(out.data)
    assert imagor.meta(out.data)["width"] <= 80
    assert out.data == im.process(image("gopher.png"), path)
    with pytest.raises(imagor.SignatureMismatchError):
        im.serve(f"unsafe/{path}")
    with pytest.raises(imagor.NotFoundError):
        im.serve(f"{im.sign('x/nope.png')}/x/nope.png")
    m = im.meta(image("gopher.png"), "fit-in/10x10/")
    assert m["width"] <= 10


def test_imagor_unsafe_and_color_images():
    im = imagor.Imagor(unsafe=True)
    out = im.serve("unsafe/40x30/filters:format(png)/color:red")
    m = imagor.meta(out.data)
    assert (m["width"], m["height"], m["format"]) == (40, 30, "png")
    assert "Output(" in repr(out)
