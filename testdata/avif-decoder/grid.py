#!/usr/bin/env python3
"""Write AVIF stills whose primary item is a HEIF `grid` of AV1 tiles.

    grid.py [--out DIR] [--libvips DIR] [--work DIR] [NAME ...]

Makes VECTORS (below; all unless NAMEs are given) in DIR (default: here).
The source (`t_rgb.avif`, `t_rgba.avif` here) is decoded and padded (edges
repeated) by the `vips` CLI, cut into tiles, and each tile encoded by
libvips' `heifsave` (AV1, `Q` 50 unless VECTORS says otherwise): by the CLI
for 8 bits, for 10 by the libvips-cpp.so.8.18.7 in `--libvips DIR` through
ctypes (without it, those vectors are skipped). The tiles' primary items,
with `av1C`, `ispe`, `pixi` (and their alpha items), go into a new file:
ftyp (avif), meta (hdlr pict, pitm, iinf, iloc v1, iref, iprp, idat), mdat.
Item 1, the primary, is a `grid` (ImageGrid in `idat`; `ispe` = output
size, `pixi`, `colr` (the tiles' nclx, else 1/13/6 full range), any `irot`)
referencing its hidden `av01` tiles by `dimg` in raster order. Alpha, as
libavif lays it out: a second, not hidden `grid` (`ispe`, `pixi`, `auxC`)
with `auxl` to item 1 and `dimg` to hidden `av01` alpha tiles (with `auxC`).
Written for imagor-rs' test vectors; stdlib only.
"""
import argparse
import ctypes
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
URN = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\0"
# name: (source, columns, rows, tile width, tile height, output width,
#        output height, options)
VECTORS = {
    "g_rgb": ("t_rgb", 2, 2, 128, 86, 255, 171, {}),
    "g_rgb_tilecolr": ("t_rgb", 2, 2, 128, 86, 255, 171, {"tile_colr": 1}),
    "g_rgb_even": ("t_rgb", 2, 2, 128, 86, 256, 170, {}),
    # The grid's colr (BT.709 matrix) differs from its tiles' (BT.601).
    "g_rgb_colr709": ("t_rgb", 2, 2, 128, 86, 256, 170,
                      {"colr": (1, 13, 1, 1), "tile_colr": (1, 13, 6, 1)}),
    "g_rgba": ("t_rgba", 2, 2, 128, 86, 256, 170, {"Q": 30}),  # 44 KB at Q 50
    "g_444": ("t_rgb", 3, 1, 86, 171, 257, 171, {"subsample": "off"}),
    "g10_rgb": ("t_rgb", 2, 2, 128, 86, 256, 170, {"bitdepth": 10}),
    "g_rgb_rot90": ("t_rgb", 2, 2, 128, 86, 256, 170, {"irot": 1}),
    # Malformed: the last tile 2 pixels wider and taller than the others;
    # dimg (and the file) one tile short of rows x columns.
    "g_uneven": ("t_rgb", 2, 2, 128, 86, 256, 170, {"uneven": 1}),
    "g_short": ("t_rgb", 2, 2, 128, 86, 256, 170, {"short": 1}),
}


def boxes(data):
    """(type, body) of each box that fills `data` (32-bit sizes only)."""
    out, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        assert 8 <= size <= len(data) - at, "unsupported box size"
        out.append((kind, data[at + 8:at + size]))
        at += size
    return out


def box(kind, body):
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full(kind, version, flags, body):
    return box(kind, struct.pack(">I", version << 24 | flags) + body)


def field(data, at, n):
    """The big-endian unsigned field of n bytes (0 gives 0) at `at`, and
    the offset after it."""
    return int.from_bytes(data[at:at + n], "big"), at + n


def read_still(path):
    """The primary item of a heifsave AVIF and its alpha item (or None),
    each as (coded bytes, {property type: whole property box})."""
    data = open(path, "rb").read()
    meta = dict(boxes(dict(boxes(data))[b"meta"][4:]))
    primary = field(meta[b"pitm"], 4, 2)[0]
    iloc = meta[b"iloc"]
    version, (off_size, len_size), base_size = iloc[0], divmod(iloc[4], 16), iloc[5] >> 4
    index_size = iloc[5] & 15 if version else 0
    count, at = field(iloc, 6, 2)
    coded = {}
    for _ in range(count):
        item, at = field(iloc, at, 2)
        method, at = field(iloc, at, 2 if version else 0)
        assert method & 15 == 0, "file data only"
        base, at = field(iloc, at + 2, base_size)
        extents, at = field(iloc, at, 2)
        chunks = []
        for _ in range(extents):
            _, at = field(iloc, at, index_size)
            offset, at = field(iloc, at, off_size)
            length, at = field(iloc, at, len_size)
            chunks.append(data[base + offset:base + offset + length])
        coded[item] = b"".join(chunks)
    iprp = dict(boxes(meta[b"iprp"]))
    ipco = [box(k, b) for k, b in boxes(iprp[b"ipco"])]
    ipma = iprp[b"ipma"]
    id_size, index_size = 4 if ipma[0] else 2, 2 if ipma[3] & 1 else 1
    count, at = field(ipma, 4, 4)
    props = {}
    for _ in range(count):
        item, at = field(ipma, at, id_size)
        n, at = field(ipma, at, 1)
        for _ in range(n):
            index, at = field(ipma, at, index_size)
            prop = ipco[(index & ~(1 << (8 * index_size - 1))) - 1]  # no essential bit
            props.setdefault(item, {}).setdefault(prop[4:8], prop)
    alpha = None
    for kind, body in boxes(meta.get(b"iref", bytes(4))[4:]):
        src, _, dst = struct.unpack(">HHH", body[:6])
        if kind == b"auxl" and dst == primary and URN[:-1] in props[src].get(b"auxC", b""):
            alpha = (coded[src], props[src])
    return (coded[primary], props[primary]), alpha


def ispe(w, h):
    return full(b"ispe", 0, 0, struct.pack(">II", w, h))


def nclx(cp, tc, mc, full_range):
    return box(b"colr", b"nclx" + struct.pack(">HHHB", cp, tc, mc, full_range << 7))


def write_grid(path, tiles, cols, rows, width, height, opt):
    """`tiles`: read_still() of each tile, in raster order; `opt` as in
    VECTORS: colr (the grid's nclx), tile_colr (1: the grid's; or an
    nclx), irot, short."""
    image0, alpha0 = tiles[0]
    colr = nclx(*opt["colr"]) if "colr" in opt else image0[1].get(b"colr") or nclx(1, 13, 6, 1)
    tile_colr = opt.get("tile_colr")
    tile_colr = nclx(*tile_colr) if isinstance(tile_colr, tuple) else tile_colr and colr
    if opt.get("short"):
        tiles = tiles[:-1]
    wide = max(width, height) > 0xFFFF  # flags bit 0: 32-bit output size
    grid = struct.pack(">BBBB", 0, wide, rows - 1, cols - 1)
    grid += struct.pack(">II" if wide else ">HH", width, height)
    # items: (id, type, hidden, data, in idat, [(property box, essential)])
    items, refs = [], []
    props = [(ispe(width, height), 0), (image0[1][b"pixi"], 0), (colr, 0)]
    if "irot" in opt:
        props.append((box(b"irot", bytes([opt["irot"]])), 1))
    items.append((1, b"grid", 0, grid, True, props))
    ids = list(range(2, 2 + len(tiles)))
    for i, (image, _) in zip(ids, tiles):
        p = [(image[1][b"av1C"], 1), (image[1][b"ispe"], 0), (image[1][b"pixi"], 0)]
        if tile_colr:
            p.append((tile_colr, 0))
        items.append((i, b"av01", 1, image[0], False, p))
    refs.append((b"dimg", 1, ids))
    if alpha0:
        auxc = full(b"auxC", 0, 0, URN)
        agrid = ids[-1] + 1
        p = [(ispe(width, height), 0), (alpha0[1][b"pixi"], 0), (auxc, 0)]
        items.append((agrid, b"grid", 0, grid, True, p))
        aids = list(range(agrid + 1, agrid + 1 + len(tiles)))
        for i, (_, alpha) in zip(aids, tiles):
            p = [(alpha[1][b"av1C"], 1), (alpha[1][b"ispe"], 0), (alpha[1][b"pixi"], 0), (auxc, 0)]
            items.append((i, b"av01", 1, alpha[0], False, p))
        refs += [(b"auxl", agrid, [1]), (b"dimg", agrid, aids)]
    ipco, ipma = [], b""
    for item_id, _, _, _, _, p in items:
        indices = []
        for prop, essential in p:
            if prop not in ipco:
                ipco.append(prop)
            indices.append(ipco.index(prop) + 1 | essential << 7)
        ipma += struct.pack(">HB", item_id, len(indices)) + bytes(indices)
    assert len(ipco) < 128
    iprp = box(b"iprp", box(b"ipco", b"".join(ipco))
               + full(b"ipma", 0, 0, struct.pack(">I", len(items)) + ipma))
    iinf = full(b"iinf", 0, 0, struct.pack(">H", len(items)) + b"".join(
        full(b"infe", 2, hidden, struct.pack(">HH", i, 0) + kind + b"\0")
        for i, kind, hidden, _, _, _ in items))
    iref = full(b"iref", 0, 0, b"".join(
        box(kind, struct.pack(">HH", src, len(dst)) + struct.pack(">%dH" % len(dst), *dst))
        for kind, src, dst in refs))
    ftyp = box(b"ftyp", b"avif" + bytes(4) + b"avifmif1miaf")
    head = full(b"hdlr", 0, 0, bytes(4) + b"pict" + bytes(12) + b"\0") + full(b"pitm", 0, 0, b"\0\1")

    def meta(mdat_at):
        idat, mdat, entries = b"", b"", b""
        for i, _, _, data, in_idat, _ in items:
            offset = len(idat) if in_idat else mdat_at + len(mdat)
            entries += struct.pack(">HHHHII", i, int(in_idat), 0, 1, offset, len(data))
            if in_idat:
                idat += data
            else:
                mdat += data
        iloc = full(b"iloc", 1, 0, bytes([0x44, 0x00]) + struct.pack(">H", len(items)) + entries)
        body = head + iinf + iloc + iref + iprp + box(b"idat", idat)
        return full(b"meta", 0, 0, body), mdat

    m, _ = meta(0)
    m, mdat = meta(len(ftyp) + len(m) + 8)
    open(path, "wb").write(ftyp + m + box(b"mdat", mdat))


def vips(*args):
    # Python's copy of the environment: libvips 8.18.7's vips_init() sets
    # VIPSHOME in the process's own, which hides the CLI's loader modules.
    subprocess.run(["vips", *map(str, args)], check=True, env=dict(os.environ))


def make(name, out, work, libvips):
    src, cols, rows, tw, th, width, height, opt = VECTORS[name]
    q, bits = opt.get("Q", 50), opt.get("bitdepth", 8)
    padded = os.path.join(work, src + ".v")
    if not os.path.exists(padded):
        vips("embed", os.path.join(HERE, src + ".avif"), padded, 0, 0, 1024, 1024, "--extend", "copy")
    tiles = []
    for n in range(cols * rows):
        w, h = (tw + 2, th + 2) if opt.get("uneven") and n == cols * rows - 1 else (tw, th)
        png = os.path.join(work, "%s_%d.png" % (name, n))
        avif = png[:-3] + "avif"
        vips("crop", padded, png, n % cols * tw, n // cols * th, w, h)
        if bits == 8:
            vips("heifsave", png, avif, "--compression", "av1", "--Q", q,
                 "--subsample-mode", opt.get("subsample", "auto"))
        else:
            options = "[compression=av1,Q=%d,bitdepth=%d,subsample_mode=%s]" % (
                q, bits, opt.get("subsample", "auto"))
            image = libvips.vips_image_new_from_file(png.encode(), None)
            assert image and not libvips.vips_image_write_to_file(
                ctypes.c_void_p(image), (avif + options).encode(), None), "heifsave failed"
            libvips.g_object_unref(ctypes.c_void_p(image))
        tiles.append(read_still(avif))
    write_grid(os.path.join(out, name + ".avif"), tiles, cols, rows, width, height, opt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--libvips", help="directory of libvips-cpp.so.8.18.7 (10-bit tiles)")
    ap.add_argument("--work", help="keep the tiles here (default: a temporary directory)")
    ap.add_argument("names", nargs="*", default=list(VECTORS))
    args = ap.parse_args()
    libvips = None
    if args.libvips:
        libvips = ctypes.CDLL(os.path.join(args.libvips, "libvips-cpp.so.8.18.7"))
        libvips.vips_init(b"grid.py")
        libvips.vips_image_new_from_file.restype = ctypes.c_void_p
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        for name in args.names:
            if VECTORS[name][7].get("bitdepth", 8) != 8 and not libvips:
                print("%s: skipped (needs --libvips)" % name)
                continue
            make(name, args.out, work, libvips)
            print("%s.avif" % name)


if __name__ == "__main__":
    main()
