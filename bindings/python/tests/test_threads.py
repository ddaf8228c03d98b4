"""Threads, the GIL and fork."""

import concurrent.futures
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import imagor

PATHS = [
    "fit-in/64x64/filters:format(webp)",
    "48x48/filters:format(jpeg):quality(70)",
    "fit-in/80x40/filters:format(png):grayscale()",
    "32x32/smart/filters:format(avif)",
]


@pytest.fixture(scope="module")
def small(gopher):
    return imagor.process(gopher, "200x200/filters:format(png)")


def test_16_threads_x_100_calls_equal_sequential(small):
    expected = {p: imagor.process(small, p) for p in PATHS}
    results = [[] for _ in range(16)]

    def worker(t):
        for i in range(100):
            path = PATHS[(t + i) % len(PATHS)]
            results[t].append((path, imagor.process(small, path)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(map(len, results)) == 1600
    for per_thread in results:
        for path, data in per_thread:
            assert data == expected[path], path


def test_signing_from_threads():
    expected = [imagor.sign(f"{i}/a.jpg", f"k{i % 3}") for i in range(200)]
    got = [None] * 8

    def worker(t):
        got[t] = [imagor.sign(f"{i}/a.jpg", f"k{i % 3}") for i in range(200)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(g == expected for g in got)


def test_the_gil_is_released_during_process(gopher):
    """A pure-Python thread keeps counting while another thread is inside
    process(). With a switch interval longer than the call, the counting
    thread could only run during the call if process() released the GIL."""
    state = {"inside": False, "done": False, "hits": 0}
    ready = threading.Event()

    def counter():
        ready.set()
        while not state["done"]:
            if state["inside"]:
                state["hits"] += 1
            time.sleep(0)  # releases the GIL: lets the worker back in

    def worker():
        ready.wait()
        state["inside"] = True
        out = imagor.process(gopher, "1500x1500/filters:blur(15):format(jpeg)")
        state["inside"] = False
        state["size"] = len(out)

    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        threads = [threading.Thread(target=counter), threading.Thread(target=worker)]
        for th in threads:
            th.start()
        threads[1].join()
        state["done"] = True
        threads[0].join()
    finally:
        sys.setswitchinterval(old)
    assert state["size"] > 0
    assert state["hits"] > 100, state


def test_a_detector_calling_back_into_its_instance_is_served(gopher):
    """A Python detector gives its call's processing slot back while it
    runs, so with one slot its calls back into the same instance are
    served, from its own thread and from another (a thread pool), for
    several calls at once (each would otherwise wait for the slot its own
    call held, until the request timeout)."""
    pool = concurrent.futures.ThreadPoolExecutor(2)
    inner = []

    def calls_back(pixels, width, height, bands):
        inner.append(len(im.process(gopher, "10x10")))
        inner.append(len(pool.submit(im.process, gopher, "12x12").result(30)))
        return []

    im = imagor.Imagor(detectors=[calls_back], process_slots=1, request_timeout=20)
    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as outer:
            done = list(outer.map(lambda _: len(im.process(gopher, "60x60/smart")), range(3)))
    finally:
        pool.shutdown()
    assert all(n > 0 for n in done) and len(inner) == 6 and all(n > 0 for n in inner)
    assert time.monotonic() - started < 15


def _child(queue, data):
    try:
        queue.put(("ok", len(imagor.process(data, "fit-in/32x32/filters:format(png)"))))
    except imagor.ImagorError as e:
        queue.put(("raised", type(e).__name__, e.message))


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_fork_after_a_call_raises_instead_of_hanging(small):
    assert imagor.process(small, "fit-in/32x32/filters:format(png)")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue, small))
    child.start()
    child.join(60)  # hang detection only
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung")
    result = queue.get(timeout=5)
    assert result[0] in ("ok", "raised"), result
    if result[0] == "raised":
        assert result[1] == "InternalError" and "spawn" in result[2]
    # Signing and parsing need no libvips and work in the child.
    child = ctx.Process(target=lambda: sys.exit(0 if imagor.sign("a", "b") else 1))
    child.start()
    child.join(60)
    assert child.exitcode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_fork_before_the_first_call_works(tmp_path, gopher):
    """A parent that only signed (libvips not started) forks children
    that process images."""
    script = textwrap.dedent(f"""
        import multiprocessing, sys, imagor
        data = open({str(tmp_path / 'in.png')!r}, 'rb').read()
        assert imagor.sign('a', 'b')
        def child(q):
            q.put(len(imagor.process(data, 'fit-in/16x16/filters:format(png)')))
        ctx = multiprocessing.get_context('fork')
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start(); p.join(60)
        if p.is_alive():
            p.kill(); sys.exit('hung')
        print('child made', q.get(timeout=5), 'bytes')
    """)
    (tmp_path / "in.png").write_bytes(gopher)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "child made" in run.stdout

