"""Generate the benchmark corpus: photo-like images of 2, 6 and 12 megapixels
in JPEG, PNG, WebP and AVIF (noise over smooth colour fields, so encoders
and decoders work as on real photos), and a long animated GIF (`anim/`: 300
frames of 300x300, a field drifting across them). Written once into the
given folder."""
import os
import sys

import pyvips

SIZES = {"2mp": (1732, 1155), "6mp": (3000, 2000), "12mp": (4243, 2828)}


def photo(w, h, seed):
    fields = pyvips.Image.perlin(w, h, cell_size=max(w // 6, 64), uchar=True, seed=seed)
    grain = pyvips.Image.gaussnoise(w, h, sigma=18, mean=0)
    bands = [(fields.rot180() if i == 1 else fields) * (0.5 + 0.25 * i) + grain + 40 * i
             for i in range(3)]
    rgb = bands[0].bandjoin(bands[1:]).cast("uchar").copy(interpretation="srgb")
    return rgb.gaussblur(0.6)


def main(out):
    formats = {"jpeg": (".jpg", "[Q=90]"), "png": (".png", ""), "webp": (".webp", "[Q=90]"),
               "avif": (".avif", "[Q=70,effort=1]")}
    for fmt, (ext, options) in formats.items():
        d = os.path.join(out, fmt)
        os.makedirs(d, exist_ok=True)
        for seed, (name, (w, h)) in enumerate(SIZES.items()):
            path = os.path.join(d, name + ext)
            if not os.path.exists(path):
                photo(w, h, seed).write_to_file(path + options)
    d = os.path.join(out, "anim")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "300x300x300.gif")
    if not os.path.exists(path):
        frames, side = 300, 300
        field = pyvips.Image.perlin(side * 2, side * 2, cell_size=64, uchar=True, seed=7)
        strip = pyvips.Image.arrayjoin(
            [field.crop(i % side, (i * 7) % side, side, side) for i in range(frames)], across=1)
        strip = strip.bandjoin([strip.rot180(), strip // 2]).copy(interpretation="srgb")
        strip.set_type(pyvips.GValue.gint_type, "page-height", side)
        strip.write_to_file(path)
    print(f"corpus ready in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench-corpus")
