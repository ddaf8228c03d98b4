#!/usr/bin/env python3
"""The hostile corpus in one Python process, through the `imagor` module the
running interpreter imports (`make test-packages`: the wheel, on the libvips it
bundles).

    hostile_in_process.py HOSTILE_CORPUS_BINARY

Binds a loopback canary, has HOSTILE_CORPUS_BINARY (the `hostile-corpus`
program of tests/src/bin) write the corpus with SVG references pointing at it,
then runs every case with `imagor.process`. Each must end in an image or an
`ImagorError` whose status the case allows, within `time_limit(status)`; the
process's peak resident memory must stay under LIMIT_RSS (checked after every
case, so the case that crosses it is named); the canary must see no
connection. Any violation fails with exit 1. The per-process run of every
surface (tests/hostile_processes.py) measures each case alone; this one
covers the codecs of a libvips the system does not have.
"""
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_processes import LIMIT_RSS, allows, time_limit  # noqa: E402

import imagor  # noqa: E402


def peak_rss():
    """This process's peak resident memory, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen(64)
    canary.setblocking(False)
    port = canary.getsockname()[1]
    problems = []
    with tempfile.TemporaryDirectory() as corpus:
        subprocess.run([sys.argv[1], corpus, str(port)], check=True, stdout=subprocess.DEVNULL)
        manifest = json.load(open(os.path.join(corpus, "manifest.json")))
        slowest = (0.0, "")
        for case in manifest:
            data = open(os.path.join(corpus, case["file"]), "rb").read()
            case["empty"] = not data
            start = time.monotonic()
            try:
                imagor.process(data, case["path"])
                status = 200
            except imagor.ImagorError as e:
                status = e.status
            seconds = time.monotonic() - start
            slowest = max(slowest, (seconds, case["name"]))
            if not allows(case, status):
                problems.append(f"{case['name']}: status {status}")
            if seconds > time_limit(status):
                problems.append(f"{case['name']}: {seconds:.2f} s")
            if peak_rss() > LIMIT_RSS:
                problems.append(f"{case['name']}: peak RSS {peak_rss() >> 20} MiB")
                break
    hits = 0
    while True:
        try:
            canary.accept()[0].close()
            hits += 1
        except BlockingIOError:
            break
    if hits:
        problems.append(f"the loopback canary saw {hits} connection(s)")
    print(
        f"hostile corpus in process (libvips {'.'.join(map(str, imagor.libvips_version()))}): {len(manifest)} cases, "
        f"peak RSS {peak_rss() >> 20} MiB, slowest {slowest[0]:.2f} s ({slowest[1]})"
    )
    for p in problems:
        print("  VIOLATION", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
