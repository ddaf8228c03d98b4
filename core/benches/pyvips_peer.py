"""The pyvips side of `make bench`: the same work as bench_process
(thumbnail_buffer to cover 512x512 + save in the input's format, with the
encoder settings imagor uses), on the same libvips, printing the same JSON."""
import argparse
import json
import os
import resource
import threading
import time

import pyvips

# imagor's encoder settings, so both sides do the same work.
SAVE = {
    "jpeg": (".jpg", {}),
    "png": (".png", {}),
    "webp": (".webp", {"effort": 4}),
    "avif": (".avif", {"compression": "av1", "effort": 1}),
}


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--format", required=True, choices=sorted(SAVE))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    pyvips.cache_set_max(0)
    files = sorted(
        (open(os.path.join(a.corpus, f), "rb").read() for f in os.listdir(a.corpus)), key=len
    )
    suffix, opts = SAVE[a.format]

    def once(data):
        img = pyvips.Image.thumbnail_buffer(data, a.size, height=a.size, crop="centre")
        return img.write_to_buffer(suffix, **opts)

    for f in files:
        once(f)
    stop = threading.Event()
    counts = [0] * a.threads

    def worker(t):
        i = t
        while not stop.is_set():
            once(files[i % len(files)])
            counts[t] += 1
            i += 1

    cpu0, t0 = cpu_seconds(), time.monotonic()
    workers = [threading.Thread(target=worker, args=(t,)) for t in range(a.threads)]
    for w in workers:
        w.start()
    time.sleep(a.seconds)
    stop.set()
    for w in workers:
        w.join()
    wall, cpu, n = time.monotonic() - t0, cpu_seconds() - cpu0, max(sum(counts), 1)
    print(json.dumps({"impl": "pyvips", "ops": n, "wall_s": round(wall, 3),
                      "ops_per_s": round(n / wall, 3), "cpu_ms_per_op": round(cpu * 1000 / n, 3)}))


if __name__ == "__main__":
    main()
