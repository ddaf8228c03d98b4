"""The timed loop every Python-side benchmark peer shares: read the corpus,
warm up once per file, call `once` from N threads for a fixed time, and print
the JSON line core/benches/compare.py reads (ops, wall_s, ops_per_s,
cpu_ms_per_op, bytes_per_op: the mean output size over the corpus)."""
import json
import os
import resource
import threading
import time


def read_corpus(folder):
    """Every file of `folder`, smallest first."""
    return sorted((open(os.path.join(folder, f), "rb").read() for f in os.listdir(folder)), key=len)


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_timed(impl, once, files, threads, seconds):
    """Warm up, run `once(file)` round-robin from `threads` threads for
    `seconds`, print the result line."""
    results = [once(f) for f in files]
    out_bytes = [len(r) if isinstance(r, (bytes, bytearray)) else 0 for r in results]
    stop, counts = threading.Event(), [0] * threads

    def worker(t):
        i = t
        while not stop.is_set():
            once(files[i % len(files)])
            counts[t] += 1
            i += 1

    cpu0, t0 = cpu_seconds(), time.monotonic()
    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    wall, cpu, n = time.monotonic() - t0, cpu_seconds() - cpu0, max(sum(counts), 1)
    print(json.dumps({"impl": impl, "ops": n, "wall_s": round(wall, 3),
                      "ops_per_s": round(n / wall, 3), "cpu_ms_per_op": round(cpu * 1000 / n, 3),
                      "bytes_per_op": round(sum(out_bytes) / max(len(files), 1))}))
