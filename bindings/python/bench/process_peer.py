"""The imagor (Python) side of the process benchmark: the same work and
output as core/benches/pyvips_peer.py (cover resize to 512x512, saved in the
input's format with imagor's encoder settings), through imagor.process, on
the same libvips, printing the same JSON line."""
import argparse
import json
import os
import resource
import threading
import time

import imagor


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--format", required=True, choices=["jpeg", "png", "webp", "avif"])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    files = sorted(
        (open(os.path.join(a.corpus, f), "rb").read() for f in os.listdir(a.corpus)), key=len
    )
    path = f"{a.size}x{a.size}/filters:format({a.format})"

    def once(data):
        return imagor.process(data, path)

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
    print(json.dumps({"impl": "imagor (Python)", "ops": n, "wall_s": round(wall, 3),
                      "ops_per_s": round(n / wall, 3), "cpu_ms_per_op": round(cpu * 1000 / n, 3)}))


if __name__ == "__main__":
    main()
