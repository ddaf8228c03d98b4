"""imagor.CryptoURL against libthumbor itself: the same keyword arguments
give the same URL, byte for byte, over hundreds of generated option sets."""

import random

import pytest

import imagor

libthumbor = pytest.importorskip("libthumbor")

IMAGES = [
    "my.server.com/some/path/to/image.jpg",
    "s.glbimg.com/es/ge/f/original/2011/03/29/orlandosilva_60.jpg",
    "raw.githubusercontent.com/cshum/imagor/master/testdata/gopher.png",
    "http://example.com/a b/ç.png",
    "https://example.com/photo.webp",
    "/media/uploads/2024/img.jpeg",
    "gopher.png",
    "image with spaces.jpg",
    "ünïcödé/画像.png",
    "",
]
FILTERS = [
    "quality(80)", "format(webp)", "fill(white)", "blur(2)", "grayscale()",
    "watermark(logo.png,10,-10,50)", "brightness(-10)", "round_corner(20,255,255,255)",
    "focal(10x20:30x40)", "strip_icc()", "no_upscale()", "rgb(10,-10,0)",
    "watermark(s.glbimg.com/filters:label(abc)/a.jpg,0,0,0)",
]
# libthumbor encodes str keys as latin-1 and imagor as UTF-8: they agree on
# ASCII keys and on bytes keys.
KEYS = ["my-security-key", "MY_SECURE_KEY", "k", "a much longer secret " * 8,
        b"\xff\x00binary key"]
N_SETS = 600


def option_set(rng):
    opts = {"image_url": rng.choice(IMAGES)}
    fit = rng.choice([None, None, "fit_in", "full_fit_in", "adaptive_fit_in",
                      "adaptive_full_fit_in"])
    width = rng.choice([0, 0, 1, 100, 300, 1920, -200])
    height = rng.choice([0, 0, 1, 150, 200, 1080, -50])
    if rng.random() < 0.8:
        opts["width"] = width
    if rng.random() < 0.8:
        opts["height"] = height
    if fit and not (opts.get("width") or opts.get("height")):
        opts["width"] = 200
    if fit:
        opts[fit] = True
    for flag in ("smart", "meta", "flip", "flop"):
        if rng.random() < 0.25:
            opts[flag] = rng.random() < 0.8
    if rng.random() < 0.3:
        opts["halign"] = rng.choice(["left", "center", "right"])
    if rng.random() < 0.3:
        opts["valign"] = rng.choice(["top", "middle", "bottom"])
    if rng.random() < 0.2:
        opts["trim"] = rng.choice([True, ("bottom-right", 0), ("bottom-right", 15)])
    if rng.random() < 0.2:
        vals = [rng.choice([0, 0, 5, 10, 100, 0.25, 0.5]) for _ in range(4)]
        opts["crop"] = ((vals[0], vals[1]), (vals[2], vals[3]))
    if rng.random() < 0.5:
        opts["filters"] = rng.sample(FILTERS, rng.randint(0, 4))
    if rng.random() < 0.15:
        opts["unsafe"] = True
    return opts


SETS = [option_set(random.Random(seed)) for seed in range(N_SETS)]


@pytest.mark.parametrize("opts", SETS, ids=[f"set{i}" for i in range(N_SETS)])
def test_same_url_as_libthumbor(opts):
    key = KEYS[hash(repr(sorted(opts.items(), key=str))) % len(KEYS)]
    want = libthumbor.CryptoURL(key=key).generate(**opts)
    assert imagor.CryptoURL(key=key).generate(**opts) == want
    # The signed form verifies with imagor's signer, the unsafe one parses.
    if not opts.get("unsafe"):
        hash_, path = want[1:].split("/", 1)
        assert imagor.verify(path, hash_, key)


def test_cross_check_covers_the_option_space():
    keys = set()
    for opts in SETS:
        keys.update(opts)
    assert keys >= {"width", "height", "smart", "meta", "flip", "flop", "halign", "valign",
                    "trim", "crop", "filters", "unsafe", "fit_in", "full_fit_in",
                    "adaptive_fit_in", "adaptive_full_fit_in", "image_url"}
    assert len(SETS) >= 500


@pytest.mark.parametrize("kwargs", [
    {"width": 300, "height": 200, "fit_in": True},
    {"image_url": "a.jpg", "fit_in": True},
    {"image_url": "a.jpg", "halign": "middle"},
    {"image_url": "a.jpg", "valign": "center"},
])
def test_same_errors_as_libthumbor(kwargs):
    with pytest.raises(ValueError) as ours:
        imagor.CryptoURL("k").generate(**kwargs)
    with pytest.raises(ValueError) as theirs:
        libthumbor.CryptoURL("k").generate(**kwargs)
    assert str(ours.value) == str(theirs.value)


def test_extensions_and_documented_differences():
    c = imagor.CryptoURL("k")
    # No key: unsafe URLs.
    assert imagor.CryptoURL().generate(width=10, image_url="a.jpg") == "unsafe/10x0/a.jpg"
    # imagor's signers.
    signed = imagor.CryptoURL("k", signer_type="sha256", truncate=20).generate(image_url="a.jpg")
    assert signed == "/" + imagor.sign("a.jpg", "k", "sha256", 20) + "/a.jpg"
    # thumbor spellings.
    assert c.generate(image_url="a.jpg", horizontal_flip=True, width=5) == \
        c.generate(image_url="a.jpg", flip=True, width=5)
    assert c.generate(image_url="a.jpg", crop_left=1, crop_top=2, crop_right=3,
                      crop_bottom=4) == c.generate(image_url="a.jpg", crop=((1, 2), (3, 4)))
    # Unknown arguments are an error rather than ignored.
    with pytest.raises(TypeError, match="widht"):
        c.generate(image_url="a.jpg", widht=10)
    # Where the bytes differ from libthumbor's, both parse to the same params.
    lt = libthumbor.CryptoURL("k")
    for opts in ({"image_url": "a.jpg", "trim": ("top-left", 5)},
                 {"image_url": "a.jpg", "fit_in": True, "full_fit_in": True, "width": 9}):
        ours = imagor.parse(c.generate(**opts))
        theirs = imagor.parse(lt.generate(**opts))
        for key in ("path", "hash"):
            ours.pop(key)
            theirs.pop(key)
        if opts.get("full_fit_in"):
            # libthumbor repeats the segment: fit-in/full-fit-in/9x0
            assert ours["full_fit_in"] and ours["width"] == 9
        else:
            assert ours == theirs
    # An image URL with a query string is escaped so that it survives.
    out = c.generate(image_url="a.com/b.jpg?v=1")
    assert imagor.parse(out)["image"] == "a.com/b.jpg?v=1"
