"""Still WebP thumbnails decode through the core's own libwebp; animations
through libvips. Each still here is also wrapped, unchanged, as a one-frame
animation, which libvips decodes: both must give the same pixels, so the
two decoders (and, in the wheel, the bundled libvips' own libwebp) agree."""

import struct

import pytest

import imagor
from conftest import image


def chunk(fourcc, payload):
    pad = b"\0" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def chunks(data):
    """(fourcc, payload) of each chunk of a RIFF WEBP file."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    pos, out = 12, []
    while pos + 8 <= len(data):
        fourcc, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out.append((fourcc, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def u24(v):
    return struct.pack("<I", v)[:3]


def one_frame_animation(still):
    """The still's image chunks as the only frame of an animation, with
    its metadata chunks (ICC before, EXIF and XMP after, as the container
    orders them)."""
    meta = imagor.meta(still)
    w, h = meta["width"], meta["height"]
    found = chunks(still)
    picked = lambda *names: b"".join(chunk(c, p) for c, p in found if c in names)
    present = {c for c, _ in found}
    flags = 0x02  # animation
    for fourcc, bit in ((b"ICCP", 0x20), (b"EXIF", 0x08), (b"XMP ", 0x04)):
        flags |= bit if fourcc in present else 0
    flags |= 0x10 if meta["has_alpha"] else 0
    vp8x = chunk(b"VP8X", bytes([flags, 0, 0, 0]) + u24(w - 1) + u24(h - 1))
    anim = chunk(b"ANIM", b"\0\0\0\0" + struct.pack("<H", 0))
    frame = u24(0) + u24(0) + u24(w - 1) + u24(h - 1) + u24(100) + bytes([0x02])  # no blend
    anmf = chunk(b"ANMF", frame + picked(b"ALPH", b"VP8 ", b"VP8L"))
    body = b"WEBP" + vp8x + picked(b"ICCP") + anim + anmf + picked(b"EXIF", b"XMP ")
    return b"RIFF" + struct.pack("<I", len(body)) + body


STILLS = {
    "lossy with alpha": ("gopher.png", "filters:format(webp):quality(80)"),
    "lossy rgb": ("demo1.jpg", "fit-in/900x900/filters:format(webp):quality(75)"),
    "lossy rgb, odd size": ("demo1.jpg", "333x251/filters:format(webp):quality(60)"),
}

PATHS = [
    "fit-in/100x100/filters:format(png)",
    "37x250/filters:format(png)",
    "300x17/filters:format(png)",
    "fit-in/2000x2000/filters:format(png)",
    "200x0/filters:format(png)",
    "160x240/smart/filters:format(png)",
    "0x0/filters:format(png)",
]


@pytest.fixture(scope="module", params=sorted(STILLS))
def pair(request):
    name, path = STILLS[request.param]
    still = imagor.process(image(name), path)
    animation = one_frame_animation(still)
    assert imagor.meta(animation)["format"] == "webp"
    return request.param, still, animation


@pytest.mark.parametrize("path", PATHS)
def test_still_decoder_matches_libvips(pair, path):
    name, still, animation = pair
    ours, libvips = imagor.process(still, path), imagor.process(animation, path)
    assert imagor.meta(ours)["width"] == imagor.meta(libvips)["width"]
    assert ours == libvips, f"{name}: {path}"


def test_the_wrapper_is_an_animation_to_libvips():
    still = imagor.process(image("gopher.png"), "filters:format(webp)")
    meta = imagor.meta(one_frame_animation(still))
    assert meta["width"] == imagor.meta(still)["width"]
    assert meta["pages"] == 1
    assert meta["exif"] == imagor.meta(still)["exif"]


def test_a_truncated_still_is_a_typed_error():
    still = imagor.process(image("demo1.jpg"), "fit-in/400x400/filters:format(webp)")
    with pytest.raises(imagor.ImagorError) as err:
        imagor.process(still[: len(still) * 2 // 3], "fit-in/100x100/filters:format(png)")
    assert err.value.status == 406
