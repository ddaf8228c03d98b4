"""`make bench`, server part: the imagor HTTP server against our own library
call doing the same work (`Imagor::serve` with the file loader), side by
side in alternating rounds of one run.

Server side: a fresh `imagor -imagor-unsafe -file-loader-base-dir CORPUS`
on 127.0.0.1 per round, driven by `bench_http` (keep-alive connections,
one per concurrency slot); its CPU time comes from /proc/PID/stat around
the measured part and its peak RSS from /proc/PID/status (VmHWM).
Library side: `bench_process --serve`, CPU and peak RSS of its process.
Reports req/s, p50 latency, CPU ms per request and peak RSS, and the
server/library ratios. Table: stdout and target/bench/server.md.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE = os.path.join(ROOT, "target", "release")
FORMATS = ["jpeg", "webp"]
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd):
    """Run a command to completion; its JSON line plus its peak RSS (KiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')}")
    result = json.loads([l for l in out.decode().splitlines() if l.startswith("{")][-1])
    return result


def run_measured(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')}")
    result = json.loads([l for l in out.decode().splitlines() if l.startswith("{")][-1])
    result["peak_rss_kib"] = ru.ru_maxrss
    return result


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def library_side(corpus, path, threads, seconds):
    return run_measured([os.path.join(RELEASE, "examples", "bench_process"), "--serve",
                         "--corpus", corpus, "--path", path,
                         "--threads", str(threads), "--seconds", str(seconds)])


def server_side(corpus, path, threads, seconds):
    port = free_port()
    server = subprocess.Popen([os.path.join(RELEASE, "imagor"), "-imagor-unsafe",
                               "-file-loader-base-dir", corpus, "-server-address", "127.0.0.1",
                               "-port", str(port),
                               # imagor's default is 1 libvips thread; the
                               # library's is libvips' own (one per core).
                               "-vips-concurrency", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("the imagor server did not start")
                time.sleep(0.05)
        client = [os.path.join(RELEASE, "examples", "bench_http"), "--addr", f"127.0.0.1:{port}",
                  "--corpus", corpus, "--path", path, "--threads", str(threads)]
        run(client + ["--seconds", "0.2"])  # warm-up: first-use costs are not measured
        cpu0 = cpu_seconds(server.pid)
        result = run(client + ["--seconds", str(seconds), "--no-warmup"])
        result["cpu_ms_per_op"] = (cpu_seconds(server.pid) - cpu0) * 1000 / result["ops"]
        result["peak_rss_kib"] = peak_rss_kib(server.pid)
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target/bench-corpus"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--formats", default=",".join(FORMATS))
    a = ap.parse_args()
    rows = []
    for fmt in a.formats.split(","):
        corpus = os.path.join(a.corpus, fmt)
        path = f"512x512/filters:format({fmt})"
        for threads in map(int, a.threads.split(",")):
            lib, srv = [], []
            for _ in range(a.rounds):
                lib.append(library_side(corpus, path, threads, a.seconds))
                srv.append(server_side(corpus, path, threads, a.seconds))
            med = lambda rs, k: statistics.median(r[k] for r in rs)
            l_ops, s_ops = med(lib, "ops_per_s"), med(srv, "ops_per_s")
            l_p50, s_p50 = med(lib, "p50_ms"), med(srv, "p50_ms")
            l_cpu, s_cpu = med(lib, "cpu_ms_per_op"), med(srv, "cpu_ms_per_op")
            l_rss = max(r["peak_rss_kib"] for r in lib)
            s_rss = max(r["peak_rss_kib"] for r in srv)
            rows.append((fmt, threads, l_ops, s_ops, l_p50, s_p50, l_cpu, s_cpu, l_rss, s_rss))
            print(f"{fmt:5} c={threads} library {l_ops:7.2f} req/s p50 {l_p50:6.2f} ms "
                  f"{l_cpu:6.2f} cpu-ms {l_rss / 1024:6.1f} MiB | server {s_ops:7.2f} req/s "
                  f"p50 {s_p50:6.2f} ms {s_cpu:6.2f} cpu-ms {s_rss / 1024:6.1f} MiB | "
                  f"server/library {s_ops / l_ops:5.3f}x throughput", flush=True)
    lines = ["| format | concurrency | library req/s | server req/s | server/library | library p50 ms | server p50 ms | library CPU ms/req | server CPU ms/req | library peak RSS MiB | server peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for fmt, t, l_ops, s_ops, l_p50, s_p50, l_cpu, s_cpu, l_rss, s_rss in rows:
        lines.append(f"| {fmt} | {t} | {l_ops:.1f} | {s_ops:.1f} | {s_ops / l_ops:.3f}x | "
                     f"{l_p50:.2f} | {s_p50:.2f} | {l_cpu:.1f} | {s_cpu:.1f} | "
                     f"{l_rss / 1024:.0f} | {s_rss / 1024:.0f} |")
    os.makedirs(os.path.join(ROOT, "target/bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target/bench/server.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
