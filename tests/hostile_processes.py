#!/usr/bin/env python3
"""Every hostile case in its own process, through every surface.

    hostile_processes.py CORPUS_DIR SURFACE=COMMAND... [--canary-hits FILE]

CORPUS_DIR is written by the `hostile-corpus` binary (one file per case and
manifest.json). Each SURFACE=COMMAND runs COMMAND FILE PATH once per case:

  cli     the `imagor` binary (`imagor process FILE PATH -o OUT`): exit 0 with
          an image, or exit 1 with imagor's JSON error as the only stderr line;
  others  a runner printing `ok <bytes> <type>` or `error <status> <code>` on
          stdout and exiting 0 (tests/c/hostile_runner.c, the Python and Node
          one-liners in the Makefile).

Every run must end that way (never a signal, a crash or another exit code),
within LIMIT_SECONDS of wall clock (the default process_timeout) plus the
surface's own start-up time (measured first, on a 1x1 PNG), plus
KILL_LATENCY_SECONDS for a timeout, and LIMIT_RSS of
peak resident memory
(measured by the kernel for the child: wait4's ru_maxrss), with nothing else
on stderr, and with a status the case allows. The table of results is
printed; any violation fails the run with exit 1.

Cases run HOSTILE_JOBS at a time (default: two, or one on one CPU). A run over its
time limit beside another case runs again alone once the rest are done, and
that run is the one judged: the limit is each call's own budget.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import struct
import time
import zlib

LIMIT_SECONDS = 2.0
# A call stopped in flight by its deadline (a 408) answers once libvips has
# unwound the pipeline and joined its worker threads: at most this much after
# LIMIT_SECONDS. Calls that succeed, or are refused up front, get no extra.
KILL_LATENCY_SECONDS = 0.25
LIMIT_RSS = 512 * 1024 * 1024
ALLOWED = {400, 406, 408, 422}
MAGIC = [
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"RIFF", "webp"),
    (b"II*\0", "tiff"),
    (b"MM\0*", "tiff"),
    (b"\xff\x0a", "jxl"),
    (b"\0\0\0\x0cJXL ", "jxl"),
    (b"\0\0\0\x0cjP  ", "jp2"),
    (b"\xff\x4f\xff\x51", "j2k"),
    (b"{", "json"),
]


def allows(case, status):
    expect = case.get("expect")
    if expect is not None:
        return status == expect
    return status == 200 or status in ALLOWED or (status == 404 and case["empty"])


def run(cmd, timeout):
    """Run cmd; return (exit status or -signal, stdout, stderr, seconds, peak RSS bytes)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        proc.returncode = 0  # reaped by wait4
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        return code, out.read(), err.read(), seconds, usage.ru_maxrss * 1024


def tiny_png():
    """A valid 1x1 grey PNG."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


def command_for(surface, command, file, url_path, out_file):
    """The command line that runs `url_path` on `file` through `surface`."""
    if surface == "cli":
        return command + ["process", file, url_path, "-o", out_file]
    return command + [file, url_path]


def time_limit(status):
    """Wall-clock seconds a call ending with `status` may take."""
    return LIMIT_SECONDS + (KILL_LATENCY_SECONDS if status == 408 else 0.0)


def startup_seconds(surfaces, tmp):
    """Each surface's wall time for a trivial image: process start, module
    import and library set-up, which the per-case limit adds to the budget."""
    path, out_file = os.path.join(tmp, "tiny.png"), os.path.join(tmp, "tiny-out")
    with open(path, "wb") as f:
        f.write(tiny_png())
    startup = {}
    for surface, command in surfaces:
        runs = []
        for _ in range(3):
            code, stdout, stderr, seconds, _ = run(
                command_for(surface, command, path, "fit-in/100x100/filters:format(png)", out_file),
                timeout=30)
            if code != 0:
                sys.exit(f"{surface}: a 1x1 PNG failed (exit {code}): {stdout[:200]!r} {stderr[:300]!r}")
            runs.append(seconds)
        startup[surface] = max(runs)
    return startup


def judge(surface, case, code, stdout, stderr, out_file):
    """(status, problem or None) for one run."""
    if code < 0:
        return None, f"killed by signal {-code}"
    if surface == "cli":
        if code == 0:
            if stderr.strip():
                return 200, f"stderr on success: {stderr[:200]!r}"
            data = open(out_file, "rb").read(16) if os.path.exists(out_file) else b""
            if not any(data.startswith(m) for m, _ in MAGIC) and b"ftyp" not in data[:12]:
                return 200, f"output is not an image: {data[:16]!r}"
            return 200, None
        if code != 1:
            return None, f"exit code {code}: {stderr[:300]!r}"
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        if len(lines) != 1:
            return None, f"stderr is not one JSON line: {stderr[:300]!r}"
        try:
            body = json.loads(lines[0])
            return int(body["status"]), None
        except (ValueError, KeyError, TypeError):
            return None, f"stderr is not imagor's JSON error: {lines[0][:200]!r}"
    if code != 0:
        return None, f"exit code {code}: {stderr[:300]!r}"
    if stderr.strip():
        return None, f"stderr not empty: {stderr[:300]!r}"
    words = stdout.decode("utf-8", "replace").split()
    if words[:1] == ["ok"]:
        return 200, None
    if words[:1] == ["error"] and len(words) >= 2 and words[1].isdigit():
        return int(words[1]), None
    return None, f"unexpected output: {stdout[:200]!r}"


def check(surface, command, case, startup, tmp):
    """Run one case through one surface: (cell text, seconds, rss, problem,
    slow). `slow` is true when the only problem is the time limit."""
    path = case["abs_file"]
    fd, out_file = tempfile.mkstemp(dir=tmp)
    os.close(fd)
    os.remove(out_file)
    cmd = command_for(surface, command, path, case["path"], out_file)
    code, stdout, stderr, seconds, rss = run(cmd, timeout=30)
    status, problem = judge(surface, case, code, stdout, stderr, out_file)
    if os.path.exists(out_file):
        os.remove(out_file)
    if problem is None and not allows(case, status):
        problem = f"status {status} not allowed (expect {case.get('expect')})"
    slow = False
    limit = time_limit(status) + startup[surface]
    if problem is None and rss > LIMIT_RSS:
        problem = f"peak RSS {rss >> 20} MiB"
    if problem is None and seconds > limit:
        problem = f"took {seconds:.2f} s (start-up {startup[surface]:.2f} s)"
        slow = True
    cell = f"{status or '-'} {seconds:5.2f}s {rss >> 20:4d}M"
    return cell, seconds, rss, problem, slow


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    corpus = args[0]
    surfaces = []
    for spec in args[1:]:
        name, _, command = spec.partition("=")
        surfaces.append((name, command.split("\x1f") if "\x1f" in command else [command]))
    manifest = json.load(open(os.path.join(corpus, "manifest.json")))
    for case in manifest:
        case["abs_file"] = os.path.join(corpus, case["file"])
        case["empty"] = os.path.getsize(case["abs_file"]) == 0
    # Two by default: each case may take 512 MB, and beside more of them a
    # case near its budget would be judged again alone too often.
    jobs = max(1, int(os.environ.get("HOSTILE_JOBS", min(2, os.cpu_count() or 1))))
    tasks = [(i, s) for i in range(len(manifest)) for s in range(len(surfaces))]
    with tempfile.TemporaryDirectory() as tmp:
        startup = startup_seconds(surfaces, tmp)
        print("start-up: " + ", ".join(f"{s} {t:.2f} s" for s, t in startup.items()))

        def one(task):
            i, s = task
            surface, command = surfaces[s]
            return check(surface, command, manifest[i], startup, tmp)

        # Cases run JOBS at a time; a case over its time limit then runs
        # again alone, and that run is judged: the limit is each call's own
        # budget, not what it takes beside another case.
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            results = dict(zip(tasks, pool.map(one, tasks)))
        rerun = [t for t in tasks if results[t][4]]
        for task in rerun:
            first = results[task][1]
            results[task] = one(task)
            i, s = task
            print(f"over the limit beside another case ({first:.2f} s), "
                  f"alone: {results[task][1]:.2f} s: {surfaces[s][0]}: {manifest[i]['name']}")
    violations = []
    worst = {}
    print(f"{'case':<56} " + " ".join(f"{s:>22}" for s, _ in surfaces))
    for i, case in enumerate(manifest):
        cells = []
        for s, (surface, _) in enumerate(surfaces):
            cell, seconds, rss, problem, _ = results[(i, s)]
            w = worst.setdefault(surface, [0.0, 0])
            w[0], w[1] = max(w[0], seconds), max(w[1], rss)
            cells.append(cell)
            if problem:
                violations.append(f"{surface}: {case['name']}: {problem}")
        print(f"{case['name'][:56]:<56} " + " ".join(f"{c:>22}" for c in cells))
    for surface, (seconds, rss) in worst.items():
        print(f"{surface}: slowest {seconds:.2f} s, highest peak RSS {rss >> 20} MiB")
    print(f"{jobs} case(s) at a time; {len(rerun)} run(s) over the limit beside "
          "another case were judged alone")
    if violations:
        print(f"\n{len(violations)} violation(s):", file=sys.stderr)
        for v in violations:
            print("  " + v, file=sys.stderr)
        return 1
    print(f"{len(manifest)} cases x {len(surfaces)} surfaces: no violation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
