"""What a new user meets first: asyncio, a custom loader, buffer-protocol
input, and typos in a path given to process() (an error with
strict_filters, an ImagorWarning without)."""

import array
import asyncio
import threading
import warnings

import pytest

import imagor
from conftest import image

TYPOS = ["fit_in/300x200/", "fitin/300x200/", "300X200/"]


@pytest.mark.parametrize("path", TYPOS)
def test_typo_is_an_error_with_strict_filters(gopher, path):
    with pytest.raises(imagor.InvalidError) as e:
        imagor.process(gopher, path, strict_filters=True)
    assert e.value.status == 400
    assert "did you mean" in e.value.message and "where an operation was expected" in e.value.message
    with pytest.raises(imagor.InvalidError):
        imagor.Imagor(strict_filters=True).process(gopher, path)


@pytest.mark.parametrize("path", TYPOS)
def test_typo_is_a_warning_without(gopher, path):
    with pytest.warns(imagor.ImagorWarning, match=r"process\(\): the path has `[^`]+` \(did you mean") as w:
        out = imagor.process(gopher, path)
    assert issubclass(w[0].category, UserWarning)
    assert imagor.meta(out)["width"] == 1634  # the original size, as imagor answers
    with pytest.warns(imagor.ImagorWarning, match=r"Imagor\.process\(\)"):
        imagor.Imagor().process(gopher, path)
    with pytest.warns(imagor.ImagorWarning, match=r"meta\(\)"):
        imagor.meta(gopher, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imagor.process(gopher, "fit-in/30x20/photos/gopher.png")  # an image name: no warning
        imagor.process(gopher, "fit-in/30x20/")


def test_process_async_runs_off_the_event_loop(gopher):
    async def main():
        loop_thread = threading.get_ident()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        outs = await asyncio.gather(
            *(imagor.process_async(gopher, f"fit-in/{n}x{n}/filters:format(webp)") for n in (40, 50, 60))
        )
        m = await imagor.meta_async(outs[0])
        im = imagor.Imagor(max_width=4000)
        out2 = await im.process_async(bytearray(gopher), "fit-in/32x32/")
        m2 = await im.meta_async(out2, "")
        t.cancel()
        return loop_thread, ticks, outs, m, m2

    loop_thread, ticks, outs, m, m2 = asyncio.run(main())
    assert [imagor.meta(o)["width"] for o in outs] == [29, 37, 44]
    assert m["format"] == "webp" and m2["width"] == 24
    # The loop kept turning while the images were processed elsewhere.
    assert ticks > 0


def test_process_async_errors_and_options(gopher):
    async def main():
        with pytest.raises(imagor.UnsupportedFormatError):
            await imagor.process_async(b"not an image", "10x10/")
        with pytest.raises(imagor.MaxResolutionExceededError):
            await imagor.process_async(gopher, "10x10/", max_resolution=100)
        # A mutable buffer changed after the call does not change the input.
        data = bytearray(gopher)
        pending = imagor.process_async(data, "fit-in/10x10/")
        data[:] = b"x" * len(data)
        return await pending

    assert imagor.meta(asyncio.run(main()))["width"] == 7


def test_process_async_needs_a_running_loop(gopher):
    with pytest.raises(RuntimeError, match="no running event loop"):
        imagor.process_async(gopher, "10x10/")


def test_serve_async_and_a_python_loader(gopher):
    calls = []

    def loader(key):
        calls.append((key, threading.get_ident()))
        if key == "gopher.png":
            return memoryview(gopher)
        if key == "forbidden.png":
            raise imagor.SourceNotAllowedError("http source not allowed")
        if key == "not-ours.png":
            raise imagor.SourceNotAllowedError("not one of our buckets")
        if key == "bad-key.png":
            raise imagor.InvalidError("keys are lower case")
        if key == "gone.png":
            raise imagor.NotFoundError("no such row")
        if key == "broken.png":
            raise KeyError("no such row")
        if key == "wrong.png":
            return 42
        return None

    im = imagor.Imagor(unsafe=True, loader=loader)
    out = im.serve("unsafe/fit-in/20x20/filters:format(png)/gopher.png")
    assert out.content_type == "image/png"
    assert imagor.meta(out.data)["width"] == 15
    with pytest.raises(imagor.NotFoundError):
        im.serve("unsafe/10x10/missing.png")
    with pytest.raises(imagor.SourceNotAllowedError):
        im.serve("unsafe/10x10/forbidden.png")
    with pytest.raises(imagor.SourceNotAllowedError):
        im.serve("unsafe/10x10/not-ours.png")
    with pytest.raises(imagor.InvalidError, match="keys are lower case"):
        im.serve("unsafe/10x10/bad-key.png")
    with pytest.raises(imagor.NotFoundError):
        im.serve("unsafe/10x10/gone.png")
    with pytest.raises(imagor.InternalError, match=r"loader\(\"broken.png\"\) raised KeyError"):
        im.serve("unsafe/10x10/broken.png")
    with pytest.raises(imagor.InternalError, match="must return bytes or None"):
        im.serve("unsafe/10x10/wrong.png")
    # Overlays load through it too.
    assert im.process(gopher, "fit-in/40x40/filters:watermark(gopher.png,0,0,50)")

    async def main():
        return await im.serve_async("unsafe/fit-in/16x16/gopher.png")

    assert imagor.meta(asyncio.run(main()).data)["height"] == 16
    assert [k for k, _ in calls].count("gopher.png") >= 3
    with pytest.raises(TypeError, match="loader must be a callable"):
        imagor.Imagor(loader="http://origin")
    assert imagor.Imagor(loader=None, unsafe=True)


def test_buffer_protocol_input(gopher):
    expected = imagor.process(gopher, "fit-in/16x16/filters:format(png)")
    for data in (bytearray(gopher), memoryview(gopher), array.array("B", gopher), memoryview(gopher)[0:]):
        assert imagor.process(data, "fit-in/16x16/filters:format(png)") == expected
    import numpy as np  # installed by run-tests.sh
    arr = np.frombuffer(gopher, dtype=np.uint8).copy()
    assert imagor.process(arr, "fit-in/16x16/filters:format(png)") == expected
    with pytest.raises(TypeError, match="not str"):
        imagor.process("gopher.png", "10x10/")


def test_fail_on_makes_truncated_sources_a_406(gopher):
    cut = gopher[:100]
    assert imagor.process(cut, "fit-in/10x10/")  # imagor's default: what could be decoded
    with pytest.raises(imagor.UnsupportedFormatError, match=r"corrupt or truncated; fail_on=truncated"):
        imagor.process(cut, "fit-in/10x10/", fail_on="truncated")
    with pytest.raises(ValueError, match="fail_on"):
        imagor.Imagor(fail_on="sometimes")


def test_meta_has_sharp_style_details():
    icc = image("jpg-24bit-icc-adobe-rgb.jpg")
    m = imagor.meta(icc)
    assert (m["format"], m["size"], m["has_alpha"], m["space"]) == ("jpeg", len(icc), False, "srgb")
    assert (m["has_profile"], m["profile_name"], m["density"]) == (True, "Adobe RGB (1998)", 300.0)
    gif = imagor.Imagor().meta(image("dancing-banana.gif"))
    assert gif["has_alpha"] and gif["delay"] == [100] * 8 and gif["loop"] == 0
    assert "density" not in gif and "profile_name" not in gif
    # imagor's /meta JSON (a meta/ path served) keeps imagor's fields only.
    im = imagor.Imagor(unsafe=True, file_loader_base_dir=str(image.__globals__["TESTDATA"]))
    served = __import__("json").loads(im.serve("unsafe/meta/dancing-banana.gif").data)
    assert set(served) == {"format", "content_type", "width", "height", "orientation", "pages", "bands", "exif"}
