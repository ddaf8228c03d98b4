"""The per-call budget: process_timeout (seconds or a Go duration) and
max_memory, and max_total_memory shared by all calls, as keyword arguments; refusals are typed and name their option."""

from concurrent.futures import ThreadPoolExecutor

import pytest

import imagor
from conftest import TESTDATA, image


def test_a_blur_over_the_time_budget_is_a_timeout_naming_the_option():
    for timeout, shown in [(0.3, "300ms"), ("300ms", "300ms"), (1, "1s")]:
        with pytest.raises(imagor.TimeoutError) as info:
            imagor.process(b"", "2000x2000/filters:blur(0,1000)/color:red", process_timeout=timeout)
        assert info.value.status == 408 and info.value.code == "timeout"
        assert f"process_timeout ({shown})" in info.value.message
        assert isinstance(info.value, TimeoutError)


def test_memory_over_the_budget_is_limit_exceeded():
    im = imagor.Imagor(max_memory=1_000_000)
    with pytest.raises(imagor.LimitExceededError) as info:
        im.process(image("gopher.png"), "filters:format(webp)")
    e = info.value
    assert (e.status, e.code) == (422, "limit_exceeded")
    assert "max_memory" in e.message
    assert isinstance(e, imagor.ImagorError)


def test_calls_together_share_max_total_memory():
    with pytest.raises(imagor.LimitExceededError) as info:
        imagor.Imagor(max_total_memory=1000).process(image("gopher.png"), "filters:format(webp)")
    assert (info.value.status, info.value.code) == (422, "limit_exceeded")
    assert "max_total_memory" in info.value.message
    # Room for a call or two at a time: a flood from 8 threads (the GIL is
    # released) waits for room, or is refused with 429 once a call holds
    # memory and the others hold the rest; nothing else goes wrong.
    im = imagor.Imagor(max_total_memory=1 << 20, process_timeout=60)
    data = image("gopher.png")

    def one(_):
        try:
            return im.process(data, "fit-in/300x300/filters:format(webp)")
        except imagor.TooManyRequestsError as e:
            return e

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    done = [r for r in results if isinstance(r, bytes)]
    assert done and all(r[8:12] == b"WEBP" for r in done)
    assert all(isinstance(r, (bytes, imagor.TooManyRequestsError)) for r in results)


def test_a_source_file_counts_against_max_total_memory_before_it_is_read():
    im = imagor.Imagor(unsafe=True, file_loader_base_dir=str(TESTDATA), max_total_memory=1 << 20)
    with pytest.raises(imagor.LimitExceededError) as info:
        im.serve("unsafe/50x50/jpg-24bit-icc-adobe-rgb.jpg")
    assert "the image file needs about 1.2 MiB" in info.value.message
    assert "max_total_memory (1 MiB)" in info.value.message
    assert im.serve("unsafe/50x50/gopher.png").data.startswith(b"\x89PNG")


def test_a_loaders_answer_counts_against_max_total_memory_before_it_is_copied():
    huge = bytes(2 << 20)
    im = imagor.Imagor(unsafe=True, loader=lambda key: huge if key == "huge" else image(key),
                       max_total_memory=1 << 20)
    with pytest.raises(imagor.LimitExceededError) as info:
        im.serve("unsafe/50x50/huge")
    assert "the loaded image needs about 2 MiB" in info.value.message
    assert "max_total_memory (1 MiB)" in info.value.message
    assert im.serve("unsafe/50x50/gopher.png").data.startswith(b"\x89PNG")


def test_zero_lifts_the_limits_and_bad_durations_are_refused():
    out = imagor.process(image("gopher.png"), "fit-in/50x50/filters:format(png)",
                         process_timeout=0, max_memory=0)
    assert out.startswith(b"\x89PNG")
    with pytest.raises((ValueError, imagor.InvalidError)):
        imagor.process(image("gopher.png"), "fit-in/50x50/", process_timeout="soon")


def test_untrusted_formats_are_refused_unless_allowed():
    if "pdf" not in imagor.formats()["load"]:
        # The prebuilt wheel's libvips has no PDF loader: refused either way,
        # saying so (test_formats.py checks the message).
        for im in (imagor.Imagor(), imagor.Imagor(block_untrusted_loaders=False)):
            with pytest.raises(imagor.UnsupportedFormatError, match="pdf"):
                im.meta(image("sample.pdf"))
        return
    with pytest.raises(imagor.UnsupportedFormatError) as info:
        imagor.meta(image("sample.pdf"))
    assert "untrusted" in info.value.message and "block_untrusted_loaders" in info.value.message
    meta = imagor.Imagor(block_untrusted_loaders=False).meta(image("sample.pdf"))
    assert meta["format"] == "pdf"


def test_repr_hides_the_secret():
    im = imagor.Imagor(secret="topsecret")
    assert "topsecret" not in repr(im)


# Inputs larger than max_memory are refused on their length before the
# binding copies them: under an address-space limit with room for the input
# but not for a copy, a copy would end the interpreter (Rust aborts when an
# allocation fails); the refusal is a LimitExceededError, for encoded images
# and raw pixels alike. Uploads to handle()
# are refused so too, answered as Node's handle() answers them, and so is a
# loader's answer larger than max_total_memory.
_NO_COPY = r"""
import resource, sys
import imagor
n = 512 << 20
imagor.process(open(sys.argv[1], "rb").read(), "fit-in/8x8")
im = imagor.Imagor(unsafe=True)
with open("/proc/self/status") as f:
    vm = next(int(l.split()[1]) << 10 for l in f if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + n + (256 << 20), resource.RLIM_INFINITY))
data = bytearray(n)
for call in (lambda: imagor.process(data, ""), lambda: imagor.meta(memoryview(data)),
             lambda: im.process(data, ""), lambda: imagor.to_pixels(data, ""),
             lambda: imagor.process_async(data, ""), lambda: im.meta_async(data),
             lambda: imagor.process_pixels(data, "", width=32768, height=16384, bands=1),
             lambda: im.to_pixels(memoryview(data).cast("B", (16384, 32768, 1)), "")):
    try:
        call()
    except imagor.LimitExceededError as e:
        assert "max_memory (256 MiB)" in e.message, e.message
    else:
        raise AssertionError("not refused")
res = im.handle("POST", "/unsafe/", body=data)
assert res.status == 422 and b"max_memory" in res.body, (res.status, res.body)
# A loader's bytearray answer is refused on its length before it is copied.
loads = imagor.Imagor(unsafe=True, max_total_memory=n // 2, loader=lambda key: data)
try:
    loads.serve("unsafe/fit-in/8x8/a.png")
except imagor.LimitExceededError as e:
    assert "max_total_memory" in e.message, e.message
else:
    raise AssertionError("loader answer not refused")
print("refused")
"""


def test_inputs_over_max_memory_are_refused_before_they_are_copied():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _NO_COPY, str(TESTDATA / "gopher.png")],
                         capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "refused"), out.stderr[-2000:]
