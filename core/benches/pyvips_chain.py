"""The pyvips side of the heavy-chain benchmark: the operations imagor runs
for `fit-in/800x800/filters:watermark(gopher-front.png,10,10,30):
text(Hello,20,20,sans-bold-24,white,20):blur(2):round_corner(30):format(webp)`,
written directly against pyvips on the same libvips. Prints the same JSON
line as bench_process."""
import argparse
import os

import pyvips

from timed import read_corpus, run_timed

CHAIN = ("fit-in/800x800/filters:watermark(gopher-front.png,10,10,30):"
         "text(Hello,20,20,sans-bold-24,white,20):blur(2):round_corner(30):format(webp)")


def overlay_at(base, overlay, x, y, alpha):
    """imagor's compositeOverlay for a plain position: alpha, embed, over."""
    if not overlay.hasalpha():
        overlay = overlay.bandjoin(255)
    overlay = overlay.linear([1, 1, 1, 1 - alpha / 100], [0, 0, 0, 0])
    overlay = overlay.embed(x, y, base.width, base.height)
    return base.composite2(overlay, "over")


def chain(data, watermark):
    img = pyvips.Image.thumbnail_buffer(data, 800, height=800, size="down")
    mark = pyvips.Image.thumbnail_buffer(watermark, 9999, height=9999, size="down")
    img = overlay_at(img, mark, 10, 10, 30)
    text = pyvips.Image.text("Hello", font="sans bold 24", rgba=True)
    text = text.linear([0, 0, 0, 1], [255, 255, 255, 0]).cast("uchar")
    if not img.hasalpha():
        img = img.bandjoin(255)
    img = overlay_at(img, text, 20, 20, 20)
    img = img.gaussblur(1)
    w, h = img.width, img.height
    mask = pyvips.Image.svgload_buffer(
        f'<svg viewBox="0 0 {w} {h}"><rect rx="30" ry="30" x="0" y="0" width="{w}" '
        f'height="{h}" fill="#fff"/></svg>'.encode())
    img = img.composite2(mask, "dest-in")
    return img.write_to_buffer(".webp", effort=4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--base-dir", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    pyvips.cache_set_max(0)
    watermark = open(os.path.join(a.base_dir, "gopher-front.png"), "rb").read()
    run_timed("pyvips", lambda data: chain(data, watermark), read_corpus(a.corpus),
              a.threads, a.seconds)


if __name__ == "__main__":
    main()
