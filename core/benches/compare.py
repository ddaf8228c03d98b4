"""`make bench` driver: run imagor-rs and its peers side by side, in
alternating rounds of the same run, and report ratios.

Each side is a separate process (so peak RSS is its own) that prints one
JSON line: ops, wall_s, ops_per_s, cpu_ms_per_op, bytes_per_op. Peers are
pyvips on the same libvips (the floor for our approach), our driver built
against the bundled libvips 8.18 of the packages (`--bundled DRIVER:LIBDIR`,
"imagor-rs 8.18"), sharp on its own libvips 8.18 (`--sharp`), and, when
their bindings are built, imagor-rs from Python / Node. The table goes to
stdout and to target/bench/process.md.

A format may also be written `SRC>DST` (`--formats 'webp>jpeg,jpeg>webp'`):
the SRC corpus saved as DST, which splits a format's cost into its decode
(`webp>jpeg`) and its encode (`jpeg>webp`).

`anim` and `anim-whole`: a 300-frame GIF fitted into 60x60, every frame,
against pyvips' `thumbnail` of all its frames: `anim` through our thumbnail
load, `anim-whole` through a whole-image load (a flip), the path that read
the frames at random and took 3x as long before it read them in one pass.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# avif10: the JPEG corpus as 10-bit AVIF (bindings/node/bench/make_avif10.mjs).
FORMATS = ["jpeg", "png", "webp", "avif", "avif10>jpeg", "chain", "anim", "anim-whole"]
# The animation rows: our path, against pyvips fitting every frame in 60x60.
ANIM = {"anim": "fit-in/60x60", "anim-whole": "fit-in/-60x-60"}


def run(cmd):
    """Run one side; returns its JSON result plus peak RSS (KiB) from wait4.
    A side given as (env, argv) runs with those variables added."""
    env = None
    if isinstance(cmd, tuple):
        extra, cmd = cmd
        env = {**os.environ, **extra}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')}")
    line = [l for l in out.decode().splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    result["peak_rss_kib"] = ru.ru_maxrss
    return result


def sides(fmt, threads, seconds, corpus, python, bundled=None, sharp=False):
    common = ["--threads", str(threads), "--seconds", str(seconds)]
    if fmt == "chain":
        # Heavy chain on the JPEG corpus: watermark + text + blur + round_corner + webp.
        sys.path.insert(0, os.path.join(ROOT, "core/benches"))
        from pyvips_chain import CHAIN
        d, base = os.path.join(corpus, "jpeg"), os.path.join(ROOT, "testdata")
        yield "imagor-rs", [os.path.join(ROOT, "target/release/examples/bench_process"),
                            "--corpus", d, "--path", CHAIN, "--base-dir", base] + common
        yield "pyvips", [python, os.path.join(ROOT, "core/benches/pyvips_chain.py"),
                         "--corpus", d, "--base-dir", base] + common
        return
    if fmt in ANIM:
        d = os.path.join(corpus, "anim")
        yield "imagor-rs", [os.path.join(ROOT, "target/release/examples/bench_process"),
                            "--corpus", d, "--path", ANIM[fmt]] + common
        yield "pyvips", [python, os.path.join(ROOT, "core/benches/pyvips_peer.py"),
                         "--corpus", d, "--format", "gif", "--size", "60", "--fit"] + common
        return
    src, _, fmt = fmt.rpartition(">")
    path = f"512x512/filters:format({fmt})"
    d = os.path.join(corpus, src or fmt)
    yield "imagor-rs", [os.path.join(ROOT, "target/release/examples/bench_process"),
                        "--corpus", d, "--path", path] + common
    yield "pyvips", [python, os.path.join(ROOT, "core/benches/pyvips_peer.py"),
                     "--corpus", d, "--format", fmt] + common
    if bundled:
        driver, libdir = bundled.split(":", 1)
        yield "imagor-rs 8.18", ({"LD_LIBRARY_PATH": libdir},
                                 [driver, "--corpus", d, "--path", path] + common)
        # One libvips thread per image, as sharp runs on glibc.
        yield "imagor-rs 8.18 c1", ({"LD_LIBRARY_PATH": libdir},
                                    [driver, "--corpus", d, "--path", path,
                                     "--concurrency", "1"] + common)
        if fmt == "jpeg" and not src:
            # fast_shrink_on_load: JPEG shrink-on-load as sharp does it.
            yield "imagor-rs 8.18 fast", ({"LD_LIBRARY_PATH": libdir},
                                          [driver, "--corpus", d, "--path", path,
                                           "--fast-shrink"] + common)
    if sharp:
        yield "sharp", ["node", os.path.join(ROOT, "bindings/node/bench/sharp_peer.mjs"),
                        "--corpus", d, "--format", fmt] + common
    for extra in os.environ.get("IMAGOR_BENCH_PEERS", "").split(","):
        if extra == "python":
            yield "imagor (Python)", [python, os.path.join(ROOT, "bindings/python/bench/process_peer.py"),
                                      "--corpus", d, "--format", fmt] + common
        elif extra in ("node", "sharp"):
            script = "process_peer.mjs" if extra == "node" else "sharp_peer.mjs"
            yield f"{'imagor (Node)' if extra == 'node' else 'sharp'}", [
                "node", os.path.join(ROOT, "bindings/node/bench", script),
                "--corpus", d, "--format", fmt] + common


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target/bench-corpus"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--bundled", help="DRIVER:LIBDIR, bench_process linked to the bundled libvips")
    ap.add_argument("--sharp", action="store_true", help="add sharp (bindings/node's dev dependency)")
    a = ap.parse_args()
    rows = []
    for fmt in a.formats.split(","):
        for threads in map(int, a.threads.split(",")):
            results = {}
            for _ in range(a.rounds):
                for name, cmd in sides(fmt, threads, a.seconds, a.corpus, a.python, a.bundled, a.sharp):
                    results.setdefault(name, []).append(run(cmd))
            base = results["pyvips"]
            b_ops = statistics.median(r["ops_per_s"] for r in base)
            b_cpu = statistics.median(r["cpu_ms_per_op"] for r in base)
            b_rss = max(r["peak_rss_kib"] for r in base)
            # CPU relative to sharp: below 1.0 is cheaper than sharp.
            s_cpu = (statistics.median(r["cpu_ms_per_op"] for r in results["sharp"])
                     if "sharp" in results else None)
            for name, rs in results.items():
                ops = statistics.median(r["ops_per_s"] for r in rs)
                cpu = statistics.median(r["cpu_ms_per_op"] for r in rs)
                rss = max(r["peak_rss_kib"] for r in rs)
                out = statistics.median(r.get("bytes_per_op", 0) for r in rs)
                vs_sharp = cpu / s_cpu if s_cpu else None
                rows.append((fmt, threads, name, ops, cpu, rss, out, ops / b_ops, cpu / b_cpu,
                             rss / b_rss, vs_sharp))
                sharp_note = f", {vs_sharp:5.3f}x sharp's cpu" if vs_sharp else ""
                print(f"{fmt:5} x{threads} {name:16} {ops:8.2f} ops/s {cpu:8.2f} cpu-ms/op "
                      f"{rss / 1024:7.1f} MiB {out / 1024:7.1f} KiB/op  ratio vs pyvips: "
                      f"{ops / b_ops:5.3f}x throughput, {cpu / b_cpu:5.3f}x cpu, "
                      f"{rss / b_rss:5.3f}x rss{sharp_note}", flush=True)
    lines = ["| format | threads | implementation | ops/s | CPU ms/op | peak RSS MiB | output KiB/op | "
             "throughput vs pyvips | CPU vs pyvips | RSS vs pyvips | CPU vs sharp |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for fmt, t, name, ops, cpu, rss, out, r_ops, r_cpu, r_rss, r_sharp in rows:
        lines.append(f"| {fmt} | {t} | {name} | {ops:.2f} | {cpu:.1f} | {rss / 1024:.0f} | "
                     f"{out / 1024:.1f} | {r_ops:.3f}x | {r_cpu:.3f}x | {r_rss:.3f}x | "
                     f"{f'{r_sharp:.3f}x' if r_sharp else '-'} |")
    os.makedirs(os.path.join(ROOT, "target/bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target/bench/process.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
