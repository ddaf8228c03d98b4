"""Region detectors as Python callables: Imagor(detectors=[fn]) steers
smart crop, redact(), redact_oval(), draw_detections() and /meta; the
callable is called with the GIL held, processing runs without it; what it
raises is a DetectorError."""

import json
import threading

import pytest

import imagor
from conftest import TESTDATA, image, vectors

# imagor's test stub (processor_test.go), as in the golden manifest.
FACE_EYE = [(0.1, 0.1, 0.4, 0.6, 0.0, "face"), (0.6, 0.05, 0.9, 0.55, 0.0, "eye")]


def fixed(regions):
    def detect(pixels, width, height, bands):
        assert isinstance(pixels, bytes) and len(pixels) == width * height * bands
        assert bands in (3, 4) and max(width, height) <= 400
        return list(regions)
    return detect


def served(im, path):
    return im.serve("unsafe/" + path).data


def same_pixels(a, b):
    """Equal pixels: both re-encoded by libvips with the same settings."""
    norm = "filters:strip_metadata():format(png)"
    return imagor.process(a, norm) == imagor.process(b, norm)


@pytest.mark.parametrize("golden", [
    "draw_detections/filters%3Adraw_detections%28%29/gopher-front.png",
    "redact/filters%3Aredact%28black%29/gopher-front.png",
    "redact_oval/filters%3Aredact_oval%28white%29/gopher-front.png",
])
def test_goldens_through_a_python_detector(golden):
    im = imagor.Imagor(detectors=[fixed(FACE_EYE)], unsafe=True,
                       file_loader_base_dir=str(TESTDATA))
    path = golden.split("/", 1)[1].replace("%3A", ":").replace("%28", "(") \
        .replace("%29", ")").replace("%2C", ",")
    want = (TESTDATA / "golden" / golden).read_bytes()
    got = served(im, path)
    assert same_pixels(got, want)
    # Without the detector the filter does nothing, and differs.
    plain = imagor.Imagor(unsafe=True, file_loader_base_dir=str(TESTDATA))
    assert not same_pixels(served(plain, path), want)


def test_meta_vectors_with_stub_detectors():
    cases = [c for c in vectors("meta.json")["assertions"]
             if "detectors" in c.get("config", {})]
    assert len(cases) >= 3
    for case in cases:
        dets = [fixed([(r["left"], r["top"], r["right"], r["bottom"], r.get("score"),
                        r.get("name")) for r in d["stub_regions"]])
                for d in case["config"]["detectors"]]
        im = imagor.Imagor(detectors=dets, unsafe=True, file_loader_base_dir=str(TESTDATA))
        got = im.handle("GET", "/unsafe/" + case["path"])
        assert got.status == 200, case["id"]
        m = json.loads(got.body)
        regions = m.get("detected_regions", [])
        for f in case.get("expect_absent", []):
            assert f not in m, case["id"]
        if "expect_detected_region_names" in case:
            assert [r["name"] for r in regions] == case["expect_detected_region_names"]
        if "expect_detected_region_count" in case:
            assert len(regions) == case["expect_detected_region_count"]


def test_regions_in_meta_and_smart_crop():
    gopher = image("gopher-front.png")
    im = imagor.Imagor(detectors=[fixed([(0.1, 0.2, 0.3, 0.4, 9.5, "face"), (0.5, 0.5, 0.6, 0.7)])])
    m = im.meta(gopher, "fit-in/101x130/filters:redact()")
    assert m["detected_regions"][0] == {"left": 10, "top": 26, "right": 30, "bottom": 52,
                                        "score": 9.5, "name": "face"}
    # 0.5 * 101 = 50.5 rounds half away from zero, as Go's math.Round.
    assert m["detected_regions"][1] == {"left": 51, "top": 65, "right": 61, "bottom": 91}
    assert "detected_regions" not in im.meta(gopher, "fit-in/101x130")
    bottom = imagor.Imagor(detectors=[fixed([(0.0, 0.9, 1.0, 1.0)])])
    assert bottom.process(gopher, "200x40/smart") == imagor.process(gopher, "200x40/bottom")
    assert bottom.process(gopher, "200x40/smart") != imagor.process(gopher, "200x40/smart")


def test_the_gil_is_released_between_callbacks():
    calls = []

    def detect(pixels, width, height, bands):
        calls.append(threading.current_thread().name)
        return [(0.2, 0.2, 0.8, 0.8)]

    im = imagor.Imagor(detectors=[detect])
    gopher = image("gopher.png")
    errors = []

    def work():
        try:
            for _ in range(3):
                im.process(gopher, "fit-in/80x80/filters:redact(pixelate)")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, name=f"t{i}") for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(calls) == 12
    assert set(calls) == {"t0", "t1", "t2", "t3"}


def test_callback_errors_are_typed():
    gopher = image("gopher.png")

    def boom(*_):
        raise RuntimeError("model missing")

    with pytest.raises(imagor.DetectorError) as info:
        imagor.Imagor(detectors=[boom]).process(gopher, "filters:redact()")
    assert (info.value.status, info.value.code) == (500, "detector")
    assert "RuntimeError: model missing" in info.value.message
    for bad, what in [
        (lambda *_: 42, "list of tuples"),
        (lambda *_: [(0.1, 0.2)], "bad region"),
        (lambda *_: [("a", 0, 1, 1)], "bad region"),
        (lambda *_: [(float("nan"), 0, 1, 1)], "non-finite"),
        (lambda *_: [(0.9, 0, 0.1, 1)], "inverted"),
        (lambda *_: [(0, 0, 0.1, 0.1)] * 1000, "more than"),
    ]:
        with pytest.raises(imagor.DetectorError, match=what):
            imagor.Imagor(detectors=[bad]).process(gopher, "filters:redact()")
    # Out of range is clamped; None is "no regions".
    m = imagor.Imagor(detectors=[lambda *_: [(-1, -1, 2, 0.5)]]).meta(gopher, "filters:redact()")
    assert m["detected_regions"][0]["left"] == 0
    assert "detected_regions" not in imagor.Imagor(detectors=[lambda *_: None]).meta(
        gopher, "filters:redact()")
    with pytest.raises(TypeError, match="not callable"):
        imagor.Imagor(detectors=[1])
    with pytest.raises(TypeError, match="list of callables"):
        imagor.Imagor(detectors=fixed([]))
    assert issubclass(imagor.DetectorError, imagor.ImagorError)


def test_probe_size_option():
    seen = []

    def detect(pixels, width, height, bands):
        seen.append((width, height))
        return []

    imagor.Imagor(detectors=[detect], detector_probe_size=64).process(
        image("gopher.png"), "filters:draw_detections()")
    assert max(seen[0]) == 64
