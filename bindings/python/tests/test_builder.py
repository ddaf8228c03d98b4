"""imagor.url(): the typed builder's output equals generate()'s."""

import itertools

import pytest

import imagor
from conftest import vectors


def test_readme_example():
    u = imagor.url("raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png")
    signed = u.fit_in(500, 400).padding(0, 20).filter("fill", "white").sign("mysecret")
    gen = {c["id"]: c for c in vectors("path_parse.json")["generate"]}["gen-042"]
    assert signed == gen["expect_path"]


STEPS = {
    "meta": lambda u: u.meta(),
    "trim": lambda u: u.trim("bottom-right", 10),
    "crop": lambda u: u.crop(10, 20, 0.5, 100),
    "resize": lambda u: u.resize(300, 0),
    "fit_in": lambda u: u.fit_in(300, 200, full=True),
    "stretch": lambda u: u.stretch(50, 60),
    "flip": lambda u: u.flip(True, True),
    "padding": lambda u: u.padding(1, 2, 3, 4),
    "align": lambda u: u.align("left", "bottom"),
    "smart": lambda u: u.smart(),
    "filters": lambda u: u.filter("format", "webp").filter("watermark", "logo.png", 10, -10, 0.5),
    "b64": lambda u: u.base64_image(),
}
COMBOS = [c for n in (1, 2, 3) for c in itertools.combinations(sorted(STEPS), n)]


@pytest.mark.parametrize("combo", COMBOS, ids=["+".join(c) for c in COMBOS])
def test_builder_equals_generate(combo):
    u = imagor.url("path/to/image (1).jpg")
    for name in combo:
        u = STEPS[name](u)
    params = u.params()
    assert u.path() == imagor.generate(params) == str(u)
    assert u.unsafe() == imagor.generate(params, unsafe=True)
    assert u.sign("key") == imagor.generate(params, "key")
    assert u.sign("key", "sha512", 30) == imagor.generate(params, "key", signer_type="sha512",
                                                           truncate=30)
    # The generated path parses back to what was built.
    parsed = imagor.parse(u.unsafe())
    assert parsed["image"] == "path/to/image (1).jpg"


def test_builder_is_immutable_and_typed():
    base = imagor.url("a.jpg").fit_in(300, 200)
    webp = base.filter("format", "webp")
    assert base.path() == "fit-in/300x200/a.jpg"
    assert webp.path() == "fit-in/300x200/filters:format(webp)/a.jpg"
    assert base != webp and base == imagor.url("a.jpg").fit_in(300, 200)
    assert imagor.url("a.jpg").filter("upscale").path() == "filters:upscale()/a.jpg"
    assert imagor.url("a.jpg").filter("x", True, 1.5).path() == "filters:x(true,1.5)/a.jpg"
    with pytest.raises(TypeError):
        imagor.url(b"a.jpg")
    with pytest.raises(ValueError):
        imagor.url("a.jpg").align("middle")
    with pytest.raises(ValueError):
        imagor.url("a.jpg").trim("center")
    assert "fit-in/300x200/a.jpg" in repr(base)
    # A key from an unset environment variable is an error, as imagor.sign()
    # says, not the bare (unsigned) path it used to return.
    with pytest.raises(TypeError, match="IMAGOR_SECRET"):
        base.sign(None)
    with pytest.raises(TypeError):
        imagor.sign("a.jpg", None)
