#!/usr/bin/env python3
"""swap_alpha.py BASE DONOR OUT: BASE with its alpha item's coded data, av1C
and pixi taken from DONOR's alpha item (same size, another depth). For
avifenc's layout: ftyp, meta, mdat; one extent per item; 1-byte ipma
indices; the alpha item's av1C and pixi its own (not shared with the
image, as they are for monochrome). The donor's data is appended to mdat
and the alpha's iloc extent pointed at it. Written for imagor-rs' test
vectors; stdlib only."""
import struct, sys

def boxes(data, at=0, end=None):
    end = len(data) if end is None else end
    out = []
    while at < end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        out.append((kind, at, at + size))
        at += size
    return out

def parse(data):
    top = {k: (s, e) for k, s, e in boxes(data)}
    m0, m1 = top[b"meta"]
    kids = {k: (s, e) for k, s, e in boxes(data, m0 + 12, m1)}
    # alpha item: auxl source
    s, e = kids[b"iref"]
    alpha = None
    for k, bs, be in boxes(data, s + 12, e):
        if k == b"auxl":
            alpha = struct.unpack(">H", data[bs + 8:bs + 10])[0]
    # iloc
    s, e = kids[b"iloc"]
    version = data[s + 8]
    osz, lsz = data[s + 12] >> 4, data[s + 12] & 15
    bsz = data[s + 13] >> 4
    isz = data[s + 13] & 15 if version == 1 else 0
    assert version in (0, 1), "iloc version 0 or 1 only"
    n = struct.unpack(">H", data[s + 14:s + 16])[0]
    at = s + 16
    extent = None
    fmt = {4: ">I", 8: ">Q"}
    for _ in range(n):
        item = struct.unpack(">H", data[at:at + 2])[0]; at += 2
        if version == 1: at += 2
        at += 2
        assert bsz == 0
        cnt = struct.unpack(">H", data[at:at + 2])[0]; at += 2
        for _ in range(cnt):
            at += isz
            if item == alpha:
                assert cnt == 1
                off = struct.unpack(fmt[osz], data[at:at + osz])[0]
                ln = struct.unpack(fmt[lsz], data[at + osz:at + osz + lsz])[0]
                extent = (at, osz, lsz, off, ln)
            at += osz + lsz
    # properties
    s, e = kids[b"iprp"]
    ipco, ipma = boxes(data, s + 8, e)
    props = boxes(data, ipco[1] + 8, ipco[2])
    body = ipma[1] + 12
    cnt = struct.unpack(">I", data[body:body + 4])[0]; at = body + 4
    assoc = []
    for _ in range(cnt):
        item, k = struct.unpack(">HB", data[at:at + 3])
        idx = [b & 0x7F for b in data[at + 3:at + 3 + k]]
        at += 3 + k
        if item == alpha:
            assoc = idx
    aprops = {props[i - 1][0]: props[i - 1] for i in assoc}
    return alpha, extent, aprops, top[b"mdat"]

base = bytearray(open(sys.argv[1], "rb").read())
donor = open(sys.argv[2], "rb").read()
_, bext, bprops, (md0, md1) = parse(base)
_, dext, dprops, _ = parse(donor)
for kind in (b"av1C", b"pixi"):
    k, s, e = bprops[kind]
    _, ds, de = dprops[kind]
    assert e - s == de - ds, kind
    base[s:e] = donor[ds:de]
assert md1 == len(base)
data = donor[dext[3]:dext[3] + dext[4]]
at, osz, lsz, _, _ = bext
new_off = len(base)
base[at:at + osz] = new_off.to_bytes(osz, "big")
base[at + osz:at + osz + lsz] = len(data).to_bytes(lsz, "big")
base += data
base[md0:md0 + 4] = (len(base) - md0).to_bytes(4, "big")
open(sys.argv[3], "wb").write(bytes(base))
