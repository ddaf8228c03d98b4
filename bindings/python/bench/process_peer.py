"""The imagor (Python) side of the process benchmark: the same work and
output as core/benches/pyvips_peer.py (cover resize to 512x512, saved in the
input's format with imagor's encoder settings), through imagor.process, on
the same libvips, printing the same JSON line."""
import argparse
import os
import sys

import imagor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../core/benches"))
from timed import read_corpus, run_timed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--format", required=True, choices=["jpeg", "png", "webp", "avif"])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    path = f"{a.size}x{a.size}/filters:format({a.format})"
    run_timed("imagor (Python)", lambda data: imagor.process(data, path), read_corpus(a.corpus),
              a.threads, a.seconds)


if __name__ == "__main__":
    main()
