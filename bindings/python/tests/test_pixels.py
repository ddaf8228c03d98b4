"""Raw pixels in and out: process_pixels and to_pixels with numpy arrays
through the buffer protocol, and Pixels viewed by numpy without a copy."""

import numpy as np
import pytest

import imagor
from conftest import TESTDATA

GOPHER = (TESTDATA / "gopher.png").read_bytes()


def test_to_pixels_is_a_numpy_view_of_the_result():
    px = imagor.to_pixels(GOPHER, "fit-in/60x60")
    assert (px.width, px.height, px.bands, px.pages) == (44, 60, 4, 1)
    assert px.shape == (60, 44, 4) and len(px) == 60 * 44 * 4
    arr = np.asarray(px)
    assert arr.shape == (60, 44, 4) and arr.dtype == np.uint8
    # No copy: the array reads the result's own bytes, read-only.
    assert np.shares_memory(arr, np.frombuffer(px.data, dtype=np.uint8))
    assert not arr.flags.writeable
    copy = np.array(px)
    assert copy.flags.writeable and (copy == arr).all()
    # The same pixels as the encoded (lossless) result, decoded.
    png = imagor.process(GOPHER, "fit-in/60x60/filters:format(png)")
    assert bytes(imagor.to_pixels(png)) == px.data
    assert "Pixels(width=44, height=60, bands=4, pages=1)" == repr(px)


def test_numpy_arrays_go_in_by_their_shape():
    arr = np.asarray(imagor.to_pixels(GOPHER, "fit-in/60x60"))
    png = imagor.process_pixels(arr, "filters:format(png)")
    assert imagor.meta(png)["width"] == 44 and imagor.meta(png)["height"] == 60
    # Pixels in, pixels out; mirrored by the path.
    flipped = np.asarray(imagor.to_pixels(arr, "-0x0"))
    assert (flipped == arr[:, ::-1, :]).all()
    # A non-contiguous view is read in its logical order.
    assert (np.asarray(imagor.to_pixels(arr[:, ::-1, :])) == flipped).all()
    # Grey (2-D) and RGB arrays.
    grey = np.full((8, 10), 200, dtype=np.uint8)
    out = imagor.to_pixels(grey)
    assert out.shape == (8, 10, 3) and set(out.data) == {200}
    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    jpeg = imagor.process_pixels(rgb, "filters:format(jpeg)")
    assert imagor.meta(jpeg)["format"] == "jpeg"
    # A flat buffer with explicit dimensions.
    flat = imagor.process_pixels(rgb.tobytes(), "", width=6, height=4, bands=3)
    assert imagor.meta(flat)["width"] == 6
    im = imagor.Imagor(max_width=4000, strip_metadata=True)
    assert im.to_pixels(GOPHER, "fit-in/20x20").height == 20
    assert imagor.meta(im.process_pixels(rgb, "filters:format(png)"))["height"] == 4


def test_an_array_changed_after_the_call_is_not_seen():
    arr = np.zeros((16, 16, 3), dtype=np.uint8)
    out = imagor.to_pixels(arr, "fit-in/16x16")
    arr[:] = 255
    assert set(out.data) == {0}


def test_bad_pixel_input_is_a_clear_error():
    with pytest.raises(TypeError, match="uint8"):
        imagor.process_pixels(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="width= and height="):
        imagor.process_pixels(b"\0" * 48)
    with pytest.raises(ValueError, match="does not match the array's shape"):
        imagor.process_pixels(np.zeros((4, 4, 3), dtype=np.uint8), width=5)
    with pytest.raises(ValueError, match="dimensional"):
        imagor.process_pixels(np.zeros((2, 2, 2, 2), dtype=np.uint8))
    # Past 32 bits and past 64 bits alike: a ValueError, not an OverflowError.
    for big in (2**31, 2**70, -2**70):
        with pytest.raises(ValueError, match="out of range"):
            imagor.process_pixels(b"\0" * 48, width=big, height=4)
        with pytest.raises(ValueError, match="out of range"):
            imagor.Imagor().process_pixels(b"\0" * 48, width=4, height=4, bands=big)
    with pytest.raises(imagor.InvalidError):
        imagor.process_pixels(b"\0" * 10, width=4, height=4, bands=3)
    with pytest.raises(imagor.InvalidError, match="meta/"):
        imagor.to_pixels(GOPHER, "meta/fit-in/10x10")
    with pytest.raises(imagor.LimitExceededError, match="max_memory"):
        imagor.to_pixels(GOPHER, "fit-in/400x400", max_memory=100_000)
    with pytest.raises(imagor.UnsupportedFormatError):
        imagor.to_pixels(b"not an image")


def test_fast_shrink_on_load_keeps_sizes_and_stays_close():
    photo = (TESTDATA / "faces-astronaut.jpg").read_bytes()
    jpeg = imagor.process(photo, "3000x2000/filters:quality(92)")
    exact = np.asarray(imagor.to_pixels(jpeg, "512x512")).astype(int)
    fast = np.asarray(imagor.to_pixels(jpeg, "512x512", fast_shrink_on_load=True)).astype(int)
    assert exact.shape == fast.shape == (512, 512, 3)
    # Decoded at half size first: not the same pixels, but close.
    assert 0 < np.abs(exact - fast).mean() < 4
