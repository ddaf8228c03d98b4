"""`make bench`, Python part: imagor.process against pyvips on the same
libvips (core/benches/pyvips_peer.py: 512x512 cover resize, jpeg/png/webp/
avif, 1 and 2 threads), in alternating rounds of separate processes; then
imagor.sign against the stdlib hmac one-liner and libthumbor. Ratios are
imagor / peer (throughput: higher is better). The tables go to stdout and
to target/bench/python.md."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "core", "benches"))
from compare import run  # noqa: E402  (core's runner: JSON line + peak RSS)

FORMATS = ["jpeg", "png", "webp", "avif"]


def process_table(a):
    rows = []
    for fmt in a.formats.split(","):
        for threads in map(int, a.threads.split(",")):
            d = os.path.join(a.corpus, fmt)
            common = ["--corpus", d, "--format", fmt, "--threads", str(threads),
                      "--seconds", str(a.seconds)]
            sides = {
                "imagor (Python)": [a.python, os.path.join(HERE, "process_peer.py")] + common,
                "pyvips": [a.python, os.path.join(ROOT, "core/benches/pyvips_peer.py")] + common,
            }
            results = {name: [] for name in sides}
            for _ in range(a.rounds):
                for name, cmd in sides.items():
                    results[name].append(run(cmd))
            med = {n: statistics.median(r["ops_per_s"] for r in rs) for n, rs in results.items()}
            cpu = {n: statistics.median(r["cpu_ms_per_op"] for r in rs)
                   for n, rs in results.items()}
            rss = {n: max(r["peak_rss_kib"] for r in rs) for n, rs in results.items()}
            ratio = med["imagor (Python)"] / med["pyvips"]
            rows.append((fmt, threads, med["imagor (Python)"], med["pyvips"], ratio,
                         cpu["imagor (Python)"], cpu["pyvips"], rss["imagor (Python)"],
                         rss["pyvips"]))
            print(f"process {fmt:5} x{threads}: imagor {med['imagor (Python)']:7.2f} ops/s, "
                  f"pyvips {med['pyvips']:7.2f} ops/s, ratio {ratio:5.3f}x", flush=True)
    lines = ["| format | threads | imagor ops/s | pyvips ops/s | imagor / pyvips | imagor CPU ms/op "
             "| pyvips CPU ms/op | imagor RSS MiB | pyvips RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for fmt, t, io, po, r, ic, pc, ir, pr in rows:
        lines.append(f"| {fmt} | {t} | {io:.2f} | {po:.2f} | {r:.3f}x | {ic:.1f} | {pc:.1f} | "
                     f"{ir / 1024:.0f} | {pr / 1024:.0f} |")
    return lines, [r[4] for r in rows]


def sign_table(a):
    out = subprocess.run([a.python, os.path.join(HERE, "sign_bench.py")], check=True,
                         capture_output=True, text=True).stdout
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    lines = ["| operation | implementation | ns/op | imagor speed-up |", "|---|---|---|---|"]
    ratios = {}
    for group in dict.fromkeys(r["group"] for r in results):
        cases = [r for r in results if r["group"] == group]
        ours = cases[0]["ns_per_op"]
        for r in cases:
            speedup = r["ns_per_op"] / ours
            if r is not cases[0]:
                ratios[(group, r["impl"])] = speedup
            lines.append(f"| {group} | {r['impl']} | {r['ns_per_op']:.0f} | "
                         f"{'' if r is cases[0] else f'{speedup:.2f}x'} |")
            print(f"{group:20} {r['impl']:30} {r['ns_per_op']:9.0f} ns/op", flush=True)
    return lines, ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--formats", default=",".join(FORMATS))
    a = ap.parse_args()
    versions = subprocess.run(
        [a.python, "-c", "import imagor, pyvips; print(imagor.__version__, "
         "'.'.join(map(str, imagor.libvips_version())), pyvips.__version__, "
         "pyvips.version(0), pyvips.version(1), pyvips.version(2))"],
        check=True, capture_output=True, text=True).stdout.split()
    print(f"imagor-rs {versions[0]} on libvips {versions[1]}; pyvips {versions[2]} on libvips "
          f"{'.'.join(versions[3:6])}", flush=True)
    p_lines, p_ratios = process_table(a)
    s_lines, s_ratios = sign_table(a)
    summary = [
        f"process: imagor / pyvips throughput, min {min(p_ratios):.3f}x, "
        f"median {statistics.median(p_ratios):.3f}x (target >= 0.97x)",
        "sign: imagor.sign is " + ", ".join(
            f"{r:.2f}x {impl}" for (g, impl), r in s_ratios.items() if g == "sign sha1")
        + " (target >= 2x the stdlib one-liner)",
    ]
    text = "\n".join(["## Python: imagor.process vs pyvips", "", *p_lines, "",
                      "## Python: URL signing", "", *s_lines, "", *summary]) + "\n"
    os.makedirs(os.path.join(ROOT, "target/bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target/bench/python.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
