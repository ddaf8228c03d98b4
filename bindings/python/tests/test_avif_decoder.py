"""Plain still AVIFs (one AV1 image or a grid of AV1 tiles) decode through the
core's own AV1 path (dav1d, feature `own-av1`: on in `make test`'s builds and
in the packages); every other AVIF through libvips' heifload. In a twin of each vector the `pixi` properties
(bits per channel, which decoding does not need) are renamed `free`: the core
leaves a file with a property it does not know to heifload, and libheif
ignores it and decodes the same image. The two must agree. Byte for byte on the bundled libvips 8.18, whose
libheif (1.23) does the arithmetic the core follows; within one level a
sample on an older libheif (Debian's 8.14 has 1.15), which rounds some
pixels the other way."""

import pytest

import imagor
from conftest import image

VECTORS = ["t_rgb", "t_rgb444", "t_rgba", "v709", "vlim", "vlima", "v222lim"]
# Rotated and mirrored (irot/imir, applied after decoding) ...
VECTORS += ["e_rgba_rot90", "e_rgb_mir0_rot270", "e_rgb_rot180_mir1", "t_rgb444_rot90_mir1"]
# 10 and 12 bits (4:2:0, 4:4:4, alpha, mirrored; libvips holds them as
# 16-bit RGB) ...
VECTORS += ["d10_rgb", "d10_rgba", "d10_444", "d12_rgba", "d10_rgba_mir1"]
# 4:2:2 (written by libavif, through pillow-avif-plugin) ...
VECTORS += ["s422", "s422a"]
# Grids of AV1 tiles (4:2:0 cut to an odd size, colour boxes on the tiles or
# differing from the grid's, alpha grid, 4:4:4, 10-bit, rotated) ...
VECTORS += ["g_rgb", "g_rgb_tilecolr", "g_rgb_even", "g_rgb_colr709", "g_rgba", "g_444"]
VECTORS += ["g10_rgb", "g_rgb_rot90"]
# The identity matrix (lossless AVIFs' GBR planes), full and limited range ...
VECTORS += ["i_rgb444", "i_d10_444lim"]
# Turns for which libheif first upsamples the chroma to 4:4:4 (odd-sized
# 4:2:0, 4:2:2 turned sideways or mirrored at an odd width; 8 to 12 bits, a
# grid), and one that turns 4:2:2 planes of an odd width as they are ...
VECTORS += ["t_rgb_rot90", "s422_rot90", "w_rgb_rot270", "w_rgb_mir0_rot90", "d10_rgb_rot180"]
VECTORS += ["d12_rgba_mir0", "s422_rot180", "s422a_mir1", "g_odd_rot90", "w_rgb_rot90", "h422_rot180"]
# Crops (clap): centred, from an odd column (upsampled), turned after or
# before, fractional with negative offsets, 10-bit, 4:2:2 ...
VECTORS += ["c_rgb", "c_rgb_odd", "c_rgba_rot90", "c_rgb_rot90_clap", "c_rgb444_frac", "c_d10"]
VECTORS += ["c422", "c422_odd", "c422_oddtop", "c_rgb_clamped_twice", "c_rgb_negleft_twice"]
# Monochrome, as it is and turned, cropped and mirrored ...
VECTORS += ["m_grey", "m_grey_rot90_clap"]
# 10- and 12-bit 4:2:2 and monochrome (written by libavif's avifenc), with
# alpha, turned, mirrored and cropped ...
VECTORS += ["s422_d10", "s422_d12a", "s422_d10_rot90", "s422_d10_rot180", "s422_d12a_mir1"]
VECTORS += ["c422_d10", "c422_d12a_rot270"]
VECTORS += ["m_d10", "m_d12", "m_d10a", "m_d10a_mir1", "m_d12_rot90_clap"]
# Film grain (AV1's synthesis, applied by the decoder): 8 bits at both
# ranges, turned, 4:4:4, 10-bit with alpha, 12-bit 4:2:2, 10-bit monochrome ...
VECTORS += ["fg8", "fg8lim", "fg8_rot90", "fg444", "fg10a", "fg422_d12", "fg_m10"]
# Chromaticity-derived matrices (12, 13: Kr and Kb from the primaries) ...
VECTORS += ["v_cd12", "v_cd13_d10"]
# YCgCo (8) and YCgCo-Re (16, limited range: the lifting form; with alpha) at 8 bits ...
VECTORS += ["v_ycgco", "v_ycgcore_a"]
# An alpha plane of another depth than its image (8/10, 10/8, 12/10, 10/12,
# 4:2:0, 4:2:2, 4:4:4, turned) ...
VECTORS += ["a8_alpha10", "a10_alpha8", "a12_alpha10", "a10_alpha12", "a8_alpha10_rot90"]
VECTORS += ["s422_alpha10"]
# ... and a turn that the core leaves to heifload (an alpha plane that does
# not turn with its image).
VECTORS += ["e_rgba_rot90_primary"]
PATHS = ["filters:format(png)", "fit-in/100x100/filters:format(png)", "60x60/smart/filters:format(png)"]


# libheif before 1.17 (Debian's 1.15) cannot mirror images deeper than 8
# bits, so there the twin of a deep mirrored vector is the unmirrored file,
# flipped by the path. A smart crop of a flipped image may choose another
# region: a centre crop that is symmetric stands in for it.
OLD_LIBHEIF_TWINS = {"d10_rgba_mir1": "d10_rgba", "m_d10a_mir1": "m_d10a"}
FLIPPED = {
    PATHS[0]: ("", "-0x0/filters:format(png)"),
    PATHS[1]: ("", "fit-in/-100x100/filters:format(png)"),
    PATHS[2]: ("84x84/filters:format(png)", "-84x84/filters:format(png)"),
}


# libheif 1.15 ignores a grid's colour box and converts with its tiles': there
# the twin's tiles get the grid's (BT.709 instead of BT.601), as 1.23 uses it.
OLD_LIBHEIF_COLR = {
    "g_rgb_colr709": (b"colrnclx\x00\x01\x00\x0d\x00\x06", b"colrnclx\x00\x01\x00\x0d\x00\x01"),
}


# libheif 1.15 maps limited-range identity (GBR) samples the wrong way (it
# compresses them toward limited range, where 1.23 expands them to full): no
# twin agrees with it there. The wheel's run and the core's goldens check
# these files against 1.23 byte for byte.
OLD_LIBHEIF_WRONG = {"i_d10_444lim"}

# libheif before 1.23 turns and crops subsampled chroma otherwise (1.23
# upsamples it to 4:4:4 first where a step would misplace it), and places a
# crop whose left edge falls outside the image otherwise: the core follows
# 1.23, so against Debian's 1.15 these differ by up to most of the range near
# edges. The wheel's run and the core's goldens check them byte for byte.
OLD_LIBHEIF_STEPS_OTHERWISE = {
    "t_rgb_rot90", "s422_rot90", "w_rgb_rot270", "w_rgb_mir0_rot90", "d10_rgb_rot180",
    "d12_rgba_mir0", "s422_rot180", "s422a_mir1", "g_odd_rot90", "h422_rot180",
    "c_rgb_odd", "c_rgb_rot90_clap", "c_d10", "c422", "c_rgb_negleft_twice",
    "s422_d10_rot90", "s422_d10_rot180", "c422_d10", "c422_d12a_rot270", "fg8_rot90",
}

# libheif 1.15 fails on a mirrored image deeper than 8 bits, and no flipped
# twin stands in where 1.23 first upsamples the chroma (4:2:2 of an odd
# width) or the mirror comes between other steps. The wheel's run and the
# core's goldens check them byte for byte.
OLD_LIBHEIF_NO_DEEP_MIRROR = {"s422_d12a_mir1", "m_d12_rot90_clap"}

# libheif 1.15 predates YCgCo-Re (matrix 16) and converts it with BT.601's
# coefficients; the wheel's run and the core's goldens check it against 1.23.
OLD_LIBHEIF_NO_YCGCO_RE = {"v_ycgcore_a"}

# libheif 1.15 fails on an alpha plane of another depth than its image (1.23
# brings it to the image's depth); checked against 1.23 as above.
OLD_LIBHEIF_NO_ALPHA_DEPTH = {
    "a8_alpha10", "a10_alpha8", "a12_alpha10", "a10_alpha12", "a8_alpha10_rot90", "s422_alpha10",
}


# Debian's libheif 1.15.1-1+deb12u3 (a security update of December 2026)
# refuses an item with more than one rotation, mirror or crop, which earlier
# 1.15 builds and 1.23 apply in turn. Where the system libheif refuses the
# twin of such a vector there is nothing to compare with; the wheel's run
# and the core's goldens check it against 1.23 byte for byte.
REPEATED_STEPS = {"c_rgb_clamped_twice", "c_rgb_negleft_twice"}


def heifload_twin(data):
    assert b"pixi" in data
    return data.replace(b"pixi", b"free")


def pixels(data, path):
    px = imagor.to_pixels(imagor.process(data, path))
    return px.width, px.height, px.bands, px.data


def bundled():
    return tuple(imagor.libvips_version()[:2]) >= (8, 18)


@pytest.mark.skipif(
    imagor.formats()["av1_decoder"] != "dav1d",
    reason="built without the core's own AV1 path (feature own-av1): heifload decodes both files",
)
@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("path", PATHS)
def test_own_decoder_agrees_with_heifload(name, path):
    data = image(f"avif-decoder/{name}.avif")
    if not bundled() and name in OLD_LIBHEIF_WRONG:
        pytest.skip("libheif 1.15 converts limited-range identity samples wrongly")
    if not bundled() and name in OLD_LIBHEIF_STEPS_OTHERWISE:
        pytest.skip("libheif 1.15 turns and crops otherwise than 1.23")
    if not bundled() and name in OLD_LIBHEIF_NO_DEEP_MIRROR:
        pytest.skip("libheif 1.15 cannot mirror images deeper than 8 bits")
    if not bundled() and name in OLD_LIBHEIF_NO_YCGCO_RE:
        pytest.skip("libheif 1.15 converts YCgCo-Re as BT.601")
    if not bundled() and name in OLD_LIBHEIF_NO_ALPHA_DEPTH:
        pytest.skip("libheif 1.15 cannot decode an alpha plane of another depth")
    if not bundled() and name in OLD_LIBHEIF_TWINS:
        ours_path, their_path = FLIPPED[path]
        ours = pixels(data, ours_path or path)
        twin = heifload_twin(image(f"avif-decoder/{OLD_LIBHEIF_TWINS[name]}.avif"))
        theirs = pixels(twin, their_path)
    elif not bundled() and name in OLD_LIBHEIF_COLR:
        tiles, grid = OLD_LIBHEIF_COLR[name]
        assert data.count(tiles) == 1
        ours = pixels(data, path)
        theirs = pixels(heifload_twin(data.replace(tiles, grid)), path)
    else:
        ours = pixels(data, path)
        try:
            theirs = pixels(heifload_twin(data), path)
        except imagor.ImagorError:
            if bundled() or name not in REPEATED_STEPS:
                raise
            pytest.skip("this system libheif refuses more than one crop on an item")
    assert ours[:3] == theirs[:3]
    if bundled():
        assert ours[3] == theirs[3]
    else:
        # One level apart as decoded; a resize (two Lanczos passes, each
        # rounded to 8 bits) can take that to three.
        limit = 1 if path == PATHS[0] else 3
        assert max(abs(a - b) for a, b in zip(ours[3], theirs[3])) <= limit


@pytest.mark.parametrize("name", ["t_rgba", "e_rgba_rot90", "d10_rgba", "d12_rgba", "g_rgba", "g10_rgb"])
def test_metadata_is_heifloads(name):
    data = image(f"avif-decoder/{name}.avif")
    assert imagor.meta(data) == imagor.meta(heifload_twin(data))


def test_a_crop_that_libheif_sizes_otherwise_is_refused_as_by_heifload():
    # A 300x120 clap on a 257x171 image: libheif declares 300x120 and decodes
    # 257x120, and libvips refuses the mismatch. The core leaves the file to
    # it, so both answer the same error.
    data = image("avif-decoder/c_rgb_big.avif")
    errors = []
    for source in (data, heifload_twin(data)):
        with pytest.raises(imagor.ImagorError) as e:
            imagor.process(source, "fit-in/100x100/filters:format(png)")
        errors.append((type(e.value), e.value.code, e.value.status))
    assert errors[0] == errors[1]
