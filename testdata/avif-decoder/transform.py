#!/usr/bin/env python3
"""Give an AVIF still rotation/mirror or colour properties, as `iprp` boxes.

    transform.py IN OUT irot:1 imir:0 clap:W/1,H/1,X/2,Y/2 nclx:1,13,6,1 ...
                 [--primary-only]

Appends one `irot` (quarter turns, counter-clockwise), `imir` (axis) or
`clap` (clean aperture: width, height, horizontal and vertical offset of
its centre from the image's, each a fraction; offsets may be negative)
property per argument to `ipco`, associates them, in the order given and
marked essential, with the primary item and (unless --primary-only) with
its alpha item; `nclx:PRIMARIES,TRANSFER,MATRIX,FULL` adds a `colr` nclx
property to the primary item only, then fixes the sizes of the enclosing boxes and the `iloc`
offsets that the longer `meta` box moves. Written for imagor-rs' test
vectors: it handles the layout libvips' heifsave writes (ftyp, meta, mdat;
iloc version 0 or 1; 1-byte ipma indices) and refuses anything else.
"""
import struct
import sys


def boxes(data):
    """(type, start, header length, end) of each box that fills `data`."""
    out, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        assert size >= 8, "unsupported box size"
        out.append((kind, at, 8, at + size))
        at += size
    assert at == len(data)
    return out


def box(kind, body):
    return struct.pack(">I4s", 8 + len(body), kind) + body


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    primary_only = "--primary-only" in sys.argv
    src, dst, specs = args[0], args[1], args[2:]
    data = open(src, "rb").read()
    top = boxes(data)
    assert [b[0] for b in top] == [b"ftyp", b"meta", b"mdat"], top
    _, m0, _, m1 = top[1]
    meta = data[m0 + 12:m1]  # after the FullBox header
    kids = {k: meta[s:e] for k, s, _, e in boxes(meta)}
    order = [k for k, *_ in boxes(meta)]
    pitm = kids[b"pitm"]
    primary = struct.unpack(">H", pitm[12:14])[0]
    iprp = kids[b"iprp"][8:]
    ipco, ipma = [iprp[s:e] for _, s, _, e in boxes(iprp)]
    count = len(boxes(ipco[8:]))
    new_props = b""
    indices, colour = [], []
    for spec in specs:
        kind, value = spec.split(":")
        count += 1
        if kind == "nclx":
            cp, tc, mc, full = (int(v) for v in value.split(","))
            body = b"nclx" + struct.pack(">HHHB", cp, tc, mc, 0x80 if full else 0)
            new_props += box(b"colr", body)
            colour.append(count)
            continue
        if kind == "clap":
            fractions = [int(v) for f in value.split(",") for v in f.split("/")]
            new_props += box(b"clap", struct.pack(">IIIIiIiI", *fractions))
            indices.append(count)
            continue
        assert kind in ("irot", "imir")
        new_props += box(kind.encode(), bytes([int(value)]))
        indices.append(count)
    assert count < 128, "1-byte ipma indices only"
    ipco = box(b"ipco", ipco[8:] + new_props)
    # Items with an alpha role: the auxl references' sources.
    alpha = set()
    if not primary_only and b"iref" in kids:
        iref = kids[b"iref"][12:]
        for k, s, _, e in boxes(iref):
            if k == b"auxl":
                alpha.add(struct.unpack(">H", iref[s + 8:s + 10])[0])
    # ipma (version 0, flags 0): count, then id (2 bytes), n, n indices.
    body = ipma[8:]
    assert body[:4] == b"\0\0\0\0", "ipma version 0 with 1-byte indices only"
    n_entries = struct.unpack(">I", body[4:8])[0]
    at, out = 8, body[:8]
    for _ in range(n_entries):
        item, n = struct.unpack(">HB", body[at:at + 3])
        assocs = body[at + 3:at + 3 + n]
        at += 3 + n
        if item == primary:
            assocs += bytes(colour)
        if item == primary or item in alpha:
            assocs += bytes(0x80 | i for i in indices)
        out += struct.pack(">HB", item, len(assocs)) + assocs
    assert at == len(body)
    ipma = box(b"ipma", out)
    kids[b"iprp"] = box(b"iprp", ipco + ipma)
    new_meta_body = b"".join(kids[k] for k in order)
    delta = len(new_meta_body) - len(meta)
    # iloc: move every extent of construction method 0 by delta.
    iloc = bytearray(kids[b"iloc"])
    version = iloc[8]
    assert version in (0, 1)
    offset_size, length_size = iloc[12] >> 4, iloc[12] & 15
    base_size = iloc[13] >> 4
    index_size = iloc[13] & 15 if version == 1 else 0
    items = struct.unpack(">H", iloc[14:16])[0]
    at = 16
    fmt = {4: ">I", 8: ">Q"}
    for _ in range(items):
        at += 2
        method = 0
        if version == 1:
            method = struct.unpack(">H", iloc[at:at + 2])[0] & 15
            at += 2
        at += 2  # data_reference_index
        base_at = at
        at += base_size
        extents = struct.unpack(">H", iloc[at:at + 2])[0]
        at += 2
        for _ in range(extents):
            at += index_size
            if method == 0 and base_size == 0:
                (off,) = struct.unpack(fmt[offset_size], iloc[at:at + offset_size])
                iloc[at:at + offset_size] = struct.pack(fmt[offset_size], off + delta)
            at += offset_size + length_size
        if method == 0 and base_size:
            (off,) = struct.unpack(fmt[base_size], iloc[base_at:base_at + base_size])
            iloc[base_at:base_at + base_size] = struct.pack(fmt[base_size], off + delta)
    kids[b"iloc"] = bytes(iloc)
    meta_box = box(b"meta", data[m0 + 8:m0 + 12] + b"".join(kids[k] for k in order))
    open(dst, "wb").write(data[:m0] + meta_box + data[m1:])


if __name__ == "__main__":
    main()
