"""Errors: one class per kind of imagor error, with .status, .code and
.message; a Rust panic is an InternalError, never a PanicException."""

import pickle
import time

import pytest

import imagor
from conftest import TESTDATA

# (class, code, status, message imagor uses for it)
KINDS = [
    (imagor.NotFoundError, "not_found", 404, "not found"),
    (imagor.InvalidError, "invalid", 400, "invalid"),
    (imagor.MethodNotAllowedError, "method_not_allowed", 405, "method not allowed"),
    (imagor.SourceNotAllowedError, "source_not_allowed", 403, "http source not allowed"),
    (imagor.SignatureMismatchError, "signature_mismatch", 403, "url signature mismatch"),
    (imagor.TimeoutError, "timeout", 408, "timeout"),
    (imagor.ExpiredError, "expired", 410, "expired"),
    (imagor.UnsupportedFormatError, "unsupported_format", 406, "unsupported format"),
    (imagor.MaxSizeExceededError, "max_size_exceeded", 400, "maximum size exceeded"),
    (imagor.MaxResolutionExceededError, "max_resolution_exceeded", 422,
     "maximum resolution exceeded"),
    (imagor.TooManyRequestsError, "too_many_requests", 429, "too many requests"),
    (imagor.CancelledError, "cancelled", 499, "client closed request"),
    (imagor.ProcessingError, "processing", 406, "VipsJpeg: premature end of file"),
    (imagor.InternalError, "internal", 500, "internal error"),
]


@pytest.mark.parametrize("cls,code,status,message", KINDS, ids=[k[1] for k in KINDS])
def test_every_kind_maps_to_its_class(cls, code, status, message):
    assert issubclass(cls, imagor.ImagorError) and issubclass(cls, Exception)
    assert (cls.code, cls.status, cls.__module__) == (code, status, "imagor")
    with pytest.raises(cls) as info:
        imagor._imagor._test_error(message, status)
    e = info.value
    assert type(e) is cls
    assert (e.status, e.code, e.message, str(e)) == (status, code, message, message)
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), again.status, again.code) == (cls, status, code)


def test_status_error_carries_any_status():
    with pytest.raises(imagor.StatusError) as info:
        imagor._imagor._test_error("I'm a teapot", 418)
    assert (info.value.status, info.value.code, info.value.message) == (418, "status",
                                                                         "I'm a teapot")


def test_builtin_bases():
    assert issubclass(imagor.InvalidError, ValueError)
    assert issubclass(imagor.TimeoutError, TimeoutError)
    assert not issubclass(imagor.NotFoundError, ValueError)


def test_real_failures(gopher):
    with pytest.raises(imagor.UnsupportedFormatError) as info:
        imagor.process(b"definitely not an image", "100x100")
    assert info.value.status == 406
    with pytest.raises(imagor.MaxResolutionExceededError) as info:
        imagor.process(gopher, "100x100", max_resolution=1000)
    assert info.value.status == 422
    with pytest.raises(imagor.InvalidError) as info:
        imagor.process(gopher, "filters:blur(a)")
    assert info.value.status == 400 and "blur" in info.value.message
    with pytest.raises(imagor.InvalidError):
        imagor.process(gopher, "filters:nope()", strict_filters=True)
    with pytest.raises(imagor.NotFoundError) as info:
        imagor.process(gopher, "filters:image(nope.png,0,0)")
    assert info.value.message == "not found: nope.png"
    im = imagor.Imagor(secret="k", file_loader_base_dir=str(TESTDATA))
    with pytest.raises(imagor.SignatureMismatchError) as info:
        im.serve("AAAA/100x100/gopher.png")
    assert (info.value.status, info.value.code) == (403, "signature_mismatch")
    with pytest.raises(imagor.NotFoundError) as info:
        imagor.Imagor(unsafe=True).serve("unsafe/100x100/gopher.png")
    assert info.value.status == 404
    assert str(info.value) == "not found: gopher.png"
    # The key as imagor normalises it (a space becomes '+'), so the lookup
    # that was really made is visible.
    im = imagor.Imagor(unsafe=True, file_loader_base_dir=str(TESTDATA))
    with pytest.raises(imagor.NotFoundError, match=r"^not found: images/a\+b\.jpg$"):
        im.serve("unsafe/images/a%20b.jpg")
    with pytest.raises(imagor.InvalidError, match="no secret"):
        imagor.Imagor().sign("a.jpg")
    with pytest.raises(imagor.InvalidError, match="signer type"):
        imagor.sign("a.jpg", "k", "md5")
    with pytest.raises(ValueError, match="truncate"):
        imagor.sign("a.jpg", "k", truncate=-1)
    with pytest.raises(TypeError, match="secret must be str or bytes"):
        imagor.sign("a.jpg", 1234)


def test_argument_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument 'widht'.*'width'"):
        imagor.generate({"widht": 1, "image": "a"})
    with pytest.raises(TypeError, match="width: invalid type"):
        imagor.generate({"width": "1", "image": "a"})
    with pytest.raises(TypeError, match="keys must be str"):
        imagor.generate({1: 2})
    with pytest.raises(ValueError, match="not a finite number"):
        imagor.generate({"crop_left": float("inf")})
    with pytest.raises(ValueError, match="not both"):
        imagor.generate({"image": "a"}, "secret", unsafe=True)
    with pytest.raises(TypeError):
        imagor.generate("300x200/a.jpg")


def test_panic_is_an_internal_error():
    with pytest.raises(imagor.InternalError) as info:
        imagor._imagor._test_panic("boom")
    e = info.value
    assert isinstance(e, Exception) and type(e).__name__ == "InternalError"
    assert (e.status, e.code) == (500, "internal")
    assert "boom" in e.message
    # The module still works after a panic.
    assert imagor.sign("a", "b") == imagor.sign("a", "b")


def test_values_that_contain_themselves_nest_deeply_or_share_one_object_are_refused():
    cyclic = []
    cyclic.append(cyclic)
    cyclic_dict = {}
    cyclic_dict["k"] = cyclic_dict
    deep = []
    for _ in range(200_000):
        deep = [deep]
    shared = {"x": 1}
    for _ in range(40):
        shared = {"a": shared, "b": shared}  # 2^40 values to walk
    for value in (cyclic, cyclic_dict, deep, shared):
        with pytest.raises(ValueError, match="nested more than|more than 100000 values"):
            imagor.generate({"image": "a.jpg", "filters": [{"name": "blur", "args": "1", "junk": value}]})
        with pytest.raises((TypeError, ValueError)):
            imagor.generate({"image": "a.jpg", "width": value})




WORST_NESTING = r"""
import sys, threading, imagor
png = open(sys.argv[1], "rb").read()
DEPTH = 32  # imagor::MAX_OVERLAY_DEPTH, the most max_overlay_depth may be


def nest(inner):
    # max_overlay_depth image() overlays, the innermost loading `inner`.
    for _ in range(DEPTH):
        inner = f"filters:image(/4x4/{inner})/color:blue"
    return inner


def loader(key):
    n = int(key[1:-4])
    if n >= 32:  # the 32nd call: as deep as calls may nest
        return png
    return im.serve(f"unsafe/{nest(f'k{n + 1}.png')}").data


im = imagor.Imagor(unsafe=True, loader=loader, max_overlay_depth=DEPTH,
                   process_timeout=300, request_timeout=300)
outcome = []


def run():
    try:
        outcome.append(f"ok {len(im.serve('unsafe/' + nest('k1.png')).data)}")
    except Exception as e:
        outcome.append(f"{type(e).__name__} {getattr(e, 'status', '')}: {e}")


size = int(sys.argv[2])
if size:
    threading.stack_size(size)
    t = threading.Thread(target=run)
    t.start()
    t.join()
else:
    run()
print(outcome[0])
"""


@pytest.mark.parametrize("stack", [0, 8 << 20, 1 << 20, 256 << 10],
                         ids=["main-thread", "8MB-thread", "1MB-thread", "256KB-thread"])
def test_the_deepest_nesting_ends_cleanly_on_any_thread(stack):
    """32 nested calls (a loader calling serve() on its own instance), each
    nesting 32 image() overlays (the most max_overlay_depth allows): 9.5 MB of stack in a debug
    build, and SIGSEGV on an 8 MB thread. It ends with the image or with a
    typed error where the thread's stack runs short, never with a crash."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", WORST_NESTING, str(TESTDATA / "gopher.png"),
                           str(stack)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    outcome = done.stdout.strip()
    assert outcome.startswith(("ok ", "RecursionError", "InternalError 500", "LimitExceededError 422")), outcome
    if outcome.startswith("ok "):
        assert stack != 256 << 10, "a 256 KB stack cannot hold 32 nested calls"
    else:
        assert "stack" in outcome, outcome


def test_a_loader_calling_back_into_its_instance_does_not_wait_for_its_outer_call():
    """With process_concurrency=1 the outer request holds the only place while
    its loader runs: a loader's serve() or handle() on the same instance waited
    for that place until request_timeout (a 408 after 30 s by default). It runs
    under the outer request's place instead. A loader asking for the very
    request it loads for would wait for its own result; it runs the work
    again instead (as imagor), and without end stops at the nesting bound."""
    png = (TESTDATA / "gopher.png").read_bytes()

    def loader(key):
        if key == "inner.png":
            return png
        if key == "itself.png":
            return im.serve("unsafe/20x20/itself.png").data
        if key == "by-handle.png":
            res = im.handle("GET", "/unsafe/10x10/inner.png")
            assert res.status == 200, res.body
            return res.body
        return im.serve("unsafe/10x10/inner.png").data

    im = imagor.Imagor(unsafe=True, loader=loader, process_concurrency=1,
                       process_queue_size=4, request_timeout=5, http_loader_disable=True)
    started = time.monotonic()
    assert im.serve("unsafe/20x20/outer.png").data
    assert im.handle("GET", "/unsafe/20x20/by-handle.png").status == 200
    # The 33rd call is refused by this binding's own bound (RecursionError,
    # which the loader around it turns into a 500), before the core's.
    with pytest.raises(imagor.InternalError, match="imagor calls nested more than 32 deep"):
        im.serve("unsafe/20x20/itself.png")
    res = im.handle("GET", "/unsafe/20x20/itself.png")
    assert res.status == 500 and b"imagor calls nested more than 32 deep" in res.body, res.body
    assert time.monotonic() - started < 3  # not a request_timeout
    # The place is free again: an ordinary request is served.
    assert im.serve("unsafe/10x10/inner.png").data


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_ctrl_c_and_exit_in_a_callback_reach_the_caller(interrupt):
    """A loader's or detector's KeyboardInterrupt (Ctrl-C while it ran) or
    SystemExit stops the call and is raised as itself: it was turned into an
    InternalError / DetectorError, and the interrupt was lost."""
    png = (TESTDATA / "gopher.png").read_bytes()

    def loader(key):
        raise interrupt()

    def detector(pixels, width, height, bands):
        raise interrupt()

    loading = imagor.Imagor(unsafe=True, loader=loader)
    with pytest.raises(interrupt):
        loading.serve("unsafe/10x10/a.png")
    detecting = imagor.Imagor(detectors=[detector])
    with pytest.raises(interrupt):
        detecting.process(png, "filters:redact()")
    # The next calls are not affected; ordinary exceptions stay imagor errors.
    assert imagor.Imagor(unsafe=True, loader=lambda key: png).serve("unsafe/10x10/a.png")
    with pytest.raises(imagor.ImagorError):
        imagor.Imagor(unsafe=True, loader=lambda key: 1 / 0).serve("unsafe/10x10/a.png")


def test_a_callback_calling_back_into_imagor_without_end_is_a_recursion_error():
    """A loader or detector that calls the same instance again, without end,
    gets RecursionError from the nested call once calls nest 32 deep; each
    level takes native stack Python's recursion limit does not count, and
    such a loader ended the interpreter with SIGSEGV at about 340 levels."""
    png = (TESTDATA / "gopher.png").read_bytes()
    seen = []

    def loader(key):
        seen.append(key)
        return im.serve(f"unsafe/10x10/{key}x").data

    def detector(pixels, width, height, bands):
        seen.append(width)
        det.process(png, "fit-in/50x50/smart")
        return []

    im = imagor.Imagor(unsafe=True, loader=loader)
    with pytest.raises(imagor.ImagorError, match="RecursionError"):
        im.serve("unsafe/10x10/a.png")
    assert len(seen) == 32  # the 33rd call is refused
    seen.clear()
    det = imagor.Imagor(detectors=[detector])
    with pytest.raises(imagor.DetectorError, match="RecursionError"):
        det.process(png, "fit-in/50x50/smart")
    assert len(seen) == 32  # the 33rd call is refused
    # Nesting that ends is served, and the thread's count is back to zero.
    assert imagor.Imagor(unsafe=True, loader=lambda key: png).serve("unsafe/10x10/a.png").data

