"""Plain still AVIFs decode through the core's own AV1 path (dav1d, feature
`own-av1`: on in `make test`'s builds and in the packages); every other AVIF
through libvips' heifload. In a twin of each vector the `pixi` properties
(bits per channel, which decoding does not need) are renamed `free`: the core
leaves a file with a property it does not know to heifload, and libheif
ignores it and decodes the same image. The two must agree. Byte for byte on the bundled libvips 8.18, whose
libheif (1.23) does the arithmetic the core follows; within one level a
sample on an older libheif (Debian's 8.14 has 1.15), which rounds some
limited-range and 4:4:4 pixels the other way."""

import pytest

import imagor
from conftest import image

VECTORS = ["t_rgb", "t_rgb444", "t_rgba", "v709", "vlim", "vlima", "v222lim"]
PATHS = ["filters:format(png)", "fit-in/100x100/filters:format(png)", "60x60/smart/filters:format(png)"]


def heifload_twin(data):
    assert b"pixi" in data
    return data.replace(b"pixi", b"free")


def pixels(data, path):
    px = imagor.to_pixels(imagor.process(data, path))
    return px.width, px.height, px.bands, px.data


def bundled():
    return tuple(imagor.libvips_version()[:2]) >= (8, 18)


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("path", PATHS)
def test_own_decoder_agrees_with_heifload(name, path):
    data = image(f"avif-decoder/{name}.avif")
    ours = pixels(data, path)
    theirs = pixels(heifload_twin(data), path)
    assert ours[:3] == theirs[:3]
    if bundled():
        assert ours[3] == theirs[3]
    else:
        assert max(abs(a - b) for a, b in zip(ours[3], theirs[3])) <= 1


def test_metadata_is_heifloads():
    data = image("avif-decoder/t_rgba.avif")
    assert imagor.meta(data) == imagor.meta(heifload_twin(data))
