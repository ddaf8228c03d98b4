"""`make bench`, server part: the imagor HTTP server against our own library
call doing the same work (`Imagor::serve` with the file loader), and against
thumbor (pip `thumbor`, file loader, no storage) serving the same URLs, side
by side in alternating rounds of one run.

Thumbor side: a fresh `thumbor` (its own venv, `--thumbor PYTHON`) per
round with the file loader on the same corpus folder, driven by the same
client; CPU and peak RSS of its process from /proc as for our server.
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
FORMATS = ["jpeg", "png", "webp", "avif"]
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


def imagor_server(corpus, port):
    return [os.path.join(RELEASE, "imagor"), "-imagor-unsafe",
            "-file-loader-base-dir", corpus, "-server-address", "127.0.0.1",
            "-port", str(port),
            # imagor's default is 1 libvips thread; the
            # library's is libvips' own (one per core).
            "-vips-concurrency", "-1",
            # As bench_process: the per-call budget is not what is measured.
            "-imagor-process-timeout", "60s"]


def thumbor_server(python, corpus, port):
    """thumbor with the file loader on CORPUS, no storage, no result storage,
    its default engine (PIL) and quality (80, as imagor's), unsafe URLs."""
    conf = os.path.join(ROOT, "target", "bench", f"thumbor-{port}.conf")
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"LOADER = 'thumbor.loaders.file_loader'\n"
                f"FILE_LOADER_ROOT_PATH = {corpus!r}\n"
                "STORAGE = 'thumbor.storages.no_storage'\n"
                "ALLOW_UNSAFE_URL = True\n"
                "QUALITY = 80\n"
                # Two engine threads so that two requests can overlap,
                # as our server's two workers do.
                "ENGINE_THREADPOOL_SIZE = 2\n"
                "MAX_WIDTH = 0\nMAX_HEIGHT = 0\n")
    return [os.path.join(os.path.dirname(python), "thumbor"), "--ip", "127.0.0.1", "--port", str(port),
            "--conf", conf, "--log-level", "error"]


def http_side(start, corpus, path, threads, seconds):
    port = free_port()
    server = subprocess.Popen(start(port), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit(f"the server did not start: {' '.join(start(port))}")
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


def summary(results):
    med = lambda k: statistics.median(r[k] for r in results)
    return {"ops_per_s": med("ops_per_s"), "p50_ms": med("p50_ms"),
            "cpu_ms_per_op": med("cpu_ms_per_op"), "bytes_per_op": med("bytes_per_op"),
            "peak_rss_kib": max(r["peak_rss_kib"] for r in results)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target/bench-corpus"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--thumbor", help="a Python with thumbor installed (adds the thumbor column)")
    a = ap.parse_args()
    rows = []
    for fmt in a.formats.split(","):
        corpus = os.path.join(a.corpus, fmt)
        # thumbor's URL; our server keeps the source format, as thumbor does.
        path = "512x512"
        sides = {
            "library": lambda t: run_measured([os.path.join(RELEASE, "examples", "bench_process"),
                                               "--serve", "--corpus", corpus, "--path", path,
                                               "--threads", str(t), "--seconds", str(a.seconds)]),
            "server": lambda t: http_side(lambda port: imagor_server(corpus, port),
                                          corpus, path, t, a.seconds),
        }
        if a.thumbor:
            sides["thumbor"] = lambda t: http_side(
                lambda port: thumbor_server(a.thumbor, corpus, port), corpus, path, t, a.seconds)
        for threads in map(int, a.threads.split(",")):
            results = {name: [] for name in sides}
            for _ in range(a.rounds):
                for name, side in sides.items():
                    results[name].append(side(threads))
            m = {name: summary(rs) for name, rs in results.items()}
            rows.append((fmt, threads, m))
            line = " | ".join(f"{n} {v['ops_per_s']:6.2f} req/s p50 {v['p50_ms']:7.1f} ms "
                              f"{v['cpu_ms_per_op']:6.1f} cpu-ms {v['bytes_per_op'] / 1024:6.1f} KiB "
                              f"{v['peak_rss_kib'] / 1024:5.0f} MiB" for n, v in m.items())
            print(f"{fmt:5} c={threads} {line}", flush=True)
    lines = ["| format | concurrency | server req/s | server / library | server / thumbor: req/s | p50 (thumbor / ours) | CPU per req (thumbor / ours) | output bytes (thumbor / ours) | peak RSS (thumbor / ours) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for fmt, t, m in rows:
        s, lib, th = m["server"], m["library"], m.get("thumbor")
        ratio = lambda a_, b_: f"{a_ / b_:.2f}x" if b_ else "-"
        cells = [fmt, str(t), f"{s['ops_per_s']:.1f}", f"{s['ops_per_s'] / lib['ops_per_s']:.3f}x"]
        if th:
            cells += [ratio(s["ops_per_s"], th["ops_per_s"]), ratio(th["p50_ms"], s["p50_ms"]),
                      ratio(th["cpu_ms_per_op"], s["cpu_ms_per_op"]),
                      ratio(th["bytes_per_op"], s["bytes_per_op"]),
                      ratio(th["peak_rss_kib"], s["peak_rss_kib"])]
        else:
            cells += ["-"] * 5
        lines.append("| " + " | ".join(cells) + " |")
    os.makedirs(os.path.join(ROOT, "target/bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target/bench/server.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
