"""The pyvips side of `make bench`: the same work as bench_process
(thumbnail_buffer to cover 512x512 + save in the input's format, with the
encoder settings imagor uses), on the same libvips, printing the same JSON."""
import argparse

import pyvips

from timed import read_corpus, run_timed

# imagor's encoder settings, so both sides do the same work.
SAVE = {
    "jpeg": (".jpg", {}),
    # Adaptive row filtering (VIPS_FOREIGN_PNG_FILTER_ALL) at zlib level 3,
    # as we write PNG on the system libvips.
    "png": (".png", {"filter": 0xF8, "compression": 3}),
    "webp": (".webp", {"effort": 4}),
    "avif": (".avif", {"compression": "av1", "effort": 1}),
    # Every frame of an animation, fitted inside the box (`--fit`).
    "gif": (".gif", {}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--format", required=True, choices=sorted(SAVE))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--fit", action="store_true", help="fit inside the box, every frame")
    a = ap.parse_args()
    pyvips.cache_set_max(0)
    suffix, opts = SAVE[a.format]

    def once(data):
        if a.fit:
            img = pyvips.Image.thumbnail_buffer(data, a.size, height=a.size, option_string="n=-1")
            return img.write_to_buffer(suffix, **opts)
        img = pyvips.Image.thumbnail_buffer(data, a.size, height=a.size, crop="centre")
        return img.write_to_buffer(suffix, **opts)

    run_timed("pyvips", once, read_corpus(a.corpus), a.threads, a.seconds)


if __name__ == "__main__":
    main()
