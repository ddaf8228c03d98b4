#!/usr/bin/env python3
"""Run every code block of the READMEs, so that they never drift from the code.

    tests/snippets/run.py [--selftest] [-k SUBSTRING] [README ...]

Every fenced block whose language is one of rust, c, python, js/javascript,
ts/typescript or sh runs, each in a fresh scratch folder, against the packages
`make test` has built: Rust through `rustdoc --test` with the `imagor` crate
(debug, `server` feature), C against the library `make test-c` installed in
TARGET/c-prefix, Python in the venv of `make test-python`, JS/TS with the
addon `make test-node` built (TS is type-checked with the package's types,
then run), sh with bash (`$ cmd` lines are run and their output compared).
Blocks in other languages (Django templates, grammar sketches, trees) are text.

Markers, HTML comments right above a block (invisible on GitHub):

    <!-- snippet: skip REASON -->       not run; the reason is printed
    <!-- snippet-prelude               hidden code run before the block
    ...
    -->
    <!-- snippet-epilogue              hidden code run after it (checks)
    ...
    -->

Checks inside blocks: a Python expression statement followed by a comment
holding a literal (`# 'cST4...'`) must evaluate to it; a `$ cmd` line of a sh
block must print the lines that follow it (up to the next `$` or the end).

The scratch folder holds `photo.jpg` (testdata/demo1.jpg), `images/photo.jpg`,
a `testdata` link to the repository's, and `node_modules` links for `imagor`
and `express`; IMAGOR_SECRET=mysecret and PORT=0 are set, the `imagor` CLI is
first on PATH, and sh blocks that name IMAGOR_C_PREFIX get the C prefix.

`--selftest` proves the runner catches breakage: it writes a README with one
good and one broken block per language and fails unless exactly the broken
ones fail.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READMES = [
    "README.md",
    "ffi/README.md",
    "bindings/python/README.md",
    "bindings/node/README.md",
    "testdata/README.md",
]
LANGS = {
    "rust": "rust",
    "c": "c",
    "python": "python",
    "py": "python",
    "js": "js",
    "javascript": "js",
    "ts": "ts",
    "typescript": "ts",
    "sh": "sh",
    "bash": "sh",
    "shell": "sh",
}
TIMEOUT = 120
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)(.*)$")
MARK_LINE = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->\s*$")
MARK_BLOCK = re.compile(r"^<!--\s*snippet-(prelude|epilogue)\s*$")


@dataclass
class Snippet:
    """One fenced block of a README, with its markers."""

    file: str
    line: int
    lang: str
    code: str
    skip: str | None = None
    prelude: str = ""
    epilogue: str = ""
    result: str = ""
    detail: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.file}:{self.line} ({self.lang})"


def extract(path: Path, display: str) -> list[Snippet]:
    """The runnable-language blocks of one markdown file, with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Snippet] = []
    pending: dict = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        m = MARK_LINE.match(line.strip())
        if m:
            words = m.group(1).split(None, 1)
            if not words or words[0] != "skip" or len(words) < 2:
                raise SystemExit(f"{display}:{i + 1}: bad marker {line.strip()!r} (want 'skip REASON')")
            pending["skip"] = words[1]
            i += 1
            continue
        m = MARK_BLOCK.match(line.strip())
        if m:
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != "-->":
                body.append(lines[i])
                i += 1
            pending[m.group(1)] = "\n".join(body) + "\n"
            i += 1
            continue
        m = FENCE.match(line)
        if m:
            indent, fence, info = m.group(1), m.group(2), m.group(3).lower()
            body = []
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            i += 1
            lang = LANGS.get(info.split(",")[0])
            if lang:
                out.append(
                    Snippet(
                        display,
                        start,
                        lang,
                        "\n".join(body) + "\n",
                        skip=pending.get("skip"),
                        prelude=pending.get("prelude", ""),
                        epilogue=pending.get("epilogue", ""),
                    )
                )
            elif pending:
                raise SystemExit(f"{display}:{start}: snippet marker above a {info or 'plain'} block")
            pending = {}
            continue
        if line.strip() and pending:
            raise SystemExit(f"{display}:{i + 1}: a snippet marker must be right above its code block")
        i += 1
    if pending:
        raise SystemExit(f"{display}: a snippet marker at the end of the file has no block")
    return out


# --- environment -------------------------------------------------------------


class Env:
    """Where the built packages are; built lazily, once per language."""

    def __init__(self, target: Path):
        self.target = target
        self._rust = None

    def rust(self) -> dict:
        """The debug `imagor` rlib (server feature) and the CLI next to it:
        `make test-rust`'s own build (Makefile RUST_TEST_ARGS), reused."""
        if self._rust is None:
            args = os.environ.get(
                "RUST_TEST_ARGS",
                "--workspace --exclude imagor-python --exclude imagor-node --exclude imagor-fuzz "
                "--features imagor/server,imagor/face,imagor/leak-hook,imagor/own-av1,imagor/own-jpeg",
            ).split()
            cmd = ["cargo", "test", "--no-run", "-q", *args, "--message-format=json"]
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"cargo build failed:\n{p.stderr}")
            rlib = cli = None
            for line in p.stdout.splitlines():
                msg = json.loads(line)
                if msg.get("reason") != "compiler-artifact" or msg["target"]["name"] != "imagor":
                    continue
                if msg["profile"]["test"]:  # a test harness, not the library or the CLI
                    continue
                for f in msg["filenames"]:
                    if f.endswith(".rmeta"):  # deps/libimagor-HASH.rmeta, next to its rlib
                        rlib = f[: -len(".rmeta")] + ".rlib"
                if msg.get("executable"):
                    cli = msg["executable"]
            if not rlib or not cli:
                raise SystemExit("cargo build: no imagor rlib or CLI in its output")
            self._rust = {"rlib": rlib, "deps": str(Path(rlib).parent), "cli_dir": str(Path(cli).parent)}
        return self._rust

    def c_prefix(self) -> Path:
        prefix = self.target / "c-prefix"
        if not (prefix / "lib/pkgconfig/imagor.pc").exists():
            raise SystemExit(f"{prefix}: no installed libimagor; run `make test-c` (or ./ffi/install.sh {prefix})")
        return prefix

    def python(self) -> Path:
        venv = Path(os.environ.get("IMAGOR_PYTHON_VENV", ROOT / "bindings/python/.venv"))
        py = venv / "bin/python"
        if not py.exists() or subprocess.run([py, "-c", "import imagor"], capture_output=True).returncode:
            raise SystemExit(f"{venv}: no venv with imagor installed; run `make test-python`")
        return py

    def node(self) -> Path:
        pkg = ROOT / "bindings/node"
        if not list(pkg.glob("imagor.*.node")) or not (pkg / "node_modules/express").exists():
            raise SystemExit(f"{pkg}: the addon or the dev dependencies are missing; run `make test-node`")
        return pkg


def scratch(env: Env) -> Path:
    """A fresh folder with the files the snippets name."""
    d = Path(tempfile.mkdtemp(prefix="snippet-", dir=env.target / "tmp"))
    shutil.copy(ROOT / "testdata/demo1.jpg", d / "photo.jpg")
    (d / "images").mkdir()
    shutil.copy(ROOT / "testdata/demo1.jpg", d / "images/photo.jpg")
    (d / "testdata").symlink_to(ROOT / "testdata")
    nm = d / "node_modules"
    nm.mkdir()
    (nm / "imagor").symlink_to(ROOT / "bindings/node")
    (nm / "express").symlink_to(ROOT / "bindings/node/node_modules/express")
    return d


def base_env(env: Env, extra_path: list[str]) -> dict:
    e = dict(os.environ)
    e["IMAGOR_SECRET"] = "mysecret"
    e["PORT"] = "0"
    e["PATH"] = os.pathsep.join(extra_path + [e.get("PATH", "")])
    e.pop("IMAGOR_OPTIONS", None)
    # Compilers' scratch files (rustdoc links each doctest, ~50 MB, under
    # the temp dir) go on the build's disk, not into a small /tmp.
    e["TMPDIR"] = str(env.target / "tmp")
    return e


def run(cmd, cwd, env, stdin=None, timeout=TIMEOUT) -> tuple[int, str]:
    try:
        p = subprocess.run(
            cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        text = [t.decode(errors="replace") if isinstance(t, bytes) else t for t in (e.stdout, e.stderr)]
        out = "".join(t or "" for t in text)
        return 124, f"{out}\ntimed out after {timeout}s"
    return p.returncode, (p.stdout + p.stderr)


# --- languages -----------------------------------------------------------------


def python_checks(code: str) -> str:
    """`expr` followed by `# literal` becomes an assertion that expr == literal."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code  # let the interpreter report it
    lines = code.split("\n")
    inserts = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            continue
        after = stmt.end_lineno  # 1-based; lines[after] is the next line
        if after < len(lines) and lines[after].lstrip().startswith("#"):
            text = lines[after].lstrip()[1:].strip()
            try:
                expected = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                continue
            src = ast.get_source_segment(code, stmt)
            inserts.append((after, f"__snippet_check({src!r}, ({src}), {expected!r})"))
    for at, check in sorted(inserts, reverse=True):
        lines.insert(at, check)
    helper = (
        "def __snippet_check(src, got, want):\n"
        "    if got != want:\n"
        "        raise AssertionError(f'README says {src} is {want!r}, got {got!r}')\n"
    )
    return helper + "\n".join(lines)


def run_python(s: Snippet, env: Env, d: Path) -> tuple[int, str]:
    code = python_checks(s.prelude + s.code + s.epilogue)
    (d / "snippet.py").write_text(code)
    return run([str(env.python()), "snippet.py"], d, base_env(env, [env.rust()["cli_dir"]]))


def is_esm(code: str) -> bool:
    """`import`/`export` statements make a module; so does a top-level-looking
    `await` in code without `require(` (which would be CommonJS)."""
    if re.search(r"^(import|export)\s", code, re.M):
        return True
    return bool(re.search(r"^\S.*\bawait\s", code, re.M)) and "require(" not in code


def run_js(s: Snippet, env: Env, d: Path) -> tuple[int, str]:
    env.node()
    code = s.prelude + s.code + s.epilogue
    name = "snippet.mjs" if is_esm(code) else "snippet.cjs"
    (d / name).write_text(code)
    return run(["node", name], d, base_env(env, []))


def run_ts(s: Snippet, env: Env, d: Path) -> tuple[int, str]:
    pkg = env.node()
    code = s.prelude + s.code + s.epilogue
    (d / "snippet.mts").write_text(code)
    (d / "package.json").write_text('{"type": "module"}\n')
    tsconfig = {
        "compilerOptions": {
            "module": "nodenext",
            "moduleResolution": "nodenext",
            "target": "es2022",
            "strict": True,
            "skipLibCheck": True,
            "outDir": "out",
            "types": ["node"],
            "typeRoots": [str(pkg / "node_modules/@types")],
        },
        "files": ["snippet.mts"],
    }
    (d / "tsconfig.json").write_text(json.dumps(tsconfig))
    e = base_env(env, [])
    rc, out = run([str(pkg / "node_modules/.bin/tsc"), "-p", "."], d, e)
    if rc != 0:
        return rc, "tsc: " + out
    return run(["node", "out/snippet.mjs"], d, e)


def run_c(s: Snippet, env: Env, d: Path) -> tuple[int, str]:
    prefix = env.c_prefix()
    code = s.prelude + s.code + s.epilogue
    (d / "snippet.c").write_text(code)
    e = base_env(env, [])
    e["PKG_CONFIG_PATH"] = f"{prefix}/lib/pkgconfig"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "imagor"], env=e, capture_output=True, text=True, check=True
    ).stdout.split()
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "snippet.c", "-o", "snippet", *flags, f"-Wl,-rpath,{prefix}/lib"]
    rc, out = run(cmd, d, e)
    if rc != 0:
        return rc, "cc: " + out
    return run(["./snippet"], d, e)


def run_sh(s: Snippet, env: Env, d: Path) -> tuple[int, str]:
    e = base_env(env, [env.rust()["cli_dir"]])
    if "IMAGOR_C_PREFIX" in s.prelude + s.code + s.epilogue:
        e["IMAGOR_C_PREFIX"] = str(env.c_prefix())
    lines = s.code.rstrip("\n").split("\n")
    if any(line.startswith("$ ") for line in lines):
        # A console transcript: run each `$ cmd`, compare the lines under it.
        if s.prelude:
            rc, out = run(["bash", "-euo", "pipefail", "-c", s.prelude], d, e)
            if rc:
                return rc, out
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                return 1, f"line {i + 1}: output without a command: {lines[i]!r}"
            cmd = lines[i][2:]
            want = []
            i += 1
            while i < len(lines) and not lines[i].startswith("$ "):
                want.append(lines[i])
                i += 1
            rc, out = run(["bash", "-euo", "pipefail", "-c", cmd], d, e)
            if rc != 0:
                return rc, f"$ {cmd}\n{out}"
            if out.rstrip("\n").split("\n") != want and not (not want and not out):
                return 1, f"$ {cmd}\nREADME says:\n" + "\n".join(want) + f"\ngot:\n{out}"
        return 0, ""
    return run(["bash", "-euo", "pipefail", "-c", s.prelude + s.code + s.epilogue], d, e)


def run_rust_all(snippets: list[Snippet], env: Env) -> None:
    """All Rust blocks in one `rustdoc --test` of a generated markdown file."""
    if not snippets:
        return
    r = env.rust()
    d = scratch(env)
    md = []
    where = {}
    for s in snippets:
        code = s.prelude + s.code + s.epilogue
        md.append("```rust")
        where[len(md)] = s  # rustdoc names a test by the line of its fence (1-based)
        md.extend(code.rstrip("\n").split("\n"))
        md.append("```")
        md.append("")
    (d / "snippets.md").write_text("\n".join(md))
    cmd = [
        "rustdoc", "--test", "snippets.md", "--edition", "2021", "--crate-name", "readme",
        "-L", f"dependency={r['deps']}", "--extern", f"imagor={r['rlib']}",
        "--test-run-directory", str(d), "-Z", "unstable-options",
    ]
    e = base_env(env, [r["cli_dir"]])
    e["RUSTC_BOOTSTRAP"] = "1"  # --test-run-directory is unstable; the snippets need a cwd
    t = time.monotonic()
    # One run compiles and links every block: a budget per block.
    budget = TIMEOUT * (1 + len(snippets) // 2)
    rc, out = run(cmd + ["--test-args", "--test-threads=2"], d, e, timeout=budget)
    seconds = (time.monotonic() - t) / len(snippets)
    for line, s in where.items():
        s.seconds = seconds
        failed = re.search(rf"snippets\.md - [^\n]*\(line {line}\) \.\.\. FAILED", out)
        ok = re.search(rf"snippets\.md - [^\n]*\(line {line}\) \.\.\. ok", out)
        if ok and not failed:
            s.result = "ok"
        else:
            s.result = "FAILED"
            s.detail = out if rc else "rustdoc ran no test for it"


RUNNERS = {"python": run_python, "js": run_js, "ts": run_ts, "c": run_c, "sh": run_sh}


def run_all(snippets: list[Snippet], env: Env) -> bool:
    (env.target / "tmp").mkdir(parents=True, exist_ok=True)
    todo = [s for s in snippets if not s.skip]
    for s in snippets:
        if s.skip:
            s.result = "skip"
            s.detail = s.skip
    run_rust_all([s for s in todo if s.lang == "rust"], env)
    for s in todo:
        if s.lang == "rust":
            continue
        d = scratch(env)
        t = time.monotonic()
        rc, out = RUNNERS[s.lang](s, env, d)
        s.seconds = time.monotonic() - t
        s.result = "ok" if rc == 0 else "FAILED"
        s.detail = out
        if rc == 0:
            shutil.rmtree(d, ignore_errors=True)
    ok = True
    for s in snippets:
        extra = f"  ({s.detail})" if s.result == "skip" else ""
        print(f"{s.result:6} {s.seconds:5.1f}s  {s.name}{extra}")
        if s.result == "FAILED":
            ok = False
            print("    " + "\n    ".join(s.detail.rstrip().split("\n")[-40:]))
    counts = {k: sum(1 for s in snippets if s.result == k) for k in ("ok", "FAILED", "skip")}
    print(f"snippets: {counts['ok']} ok, {counts['FAILED']} failed, {counts['skip']} skipped")
    return ok


# --- self test --------------------------------------------------------------------

SELFTEST = r"""
# good and broken

```rust
assert_eq!(imagor::path::parse("unsafe/10x20/a.jpg").width, 10);
```

```rust
assert_eq!(imagor::path::parse("unsafe/10x20/a.jpg").width, 11);
```

```python
import imagor
imagor.sign("10x10/a.jpg", "mysecret")
# 'XVQXhJYosvMmJpY0jk4NDQQYZHI='
```

```python
import imagor
imagor.sign("10x10/a.jpg", "mysecret")
# 'not the hash'
```

```c
#include <imagor.h>
int main(void) { char *h; if (imagor_signer_sign("a", "s", NULL, 0, &h)) return 1; imagor_string_free(h); return 0; }
```

```c
#include <imagor.h>
int main(void) { return imagor_no_such_function(); }
```

```js
const imagor = require('imagor')
if (imagor.parse('unsafe/10x20/a.jpg').width !== 10) throw new Error('width')
```

```js
import { parse } from 'imagor'
if (parse('unsafe/10x20/a.jpg').width !== 11) throw new Error('width')
```

```ts
import { parse } from 'imagor'
const w: number | undefined = parse('unsafe/10x20/a.jpg').width
```

```ts
import { parse } from 'imagor'
const w: string = parse('unsafe/10x20/a.jpg').width
```

```sh
$ imagor sign --secret mysecret 10x10/a.jpg
XVQXhJYosvMmJpY0jk4NDQQYZHI=
```

```sh
$ imagor sign --secret mysecret 10x10/a.jpg
not the hash
```

<!-- snippet: skip a skipped block is not run -->
```sh
exit 1
```
"""


def selftest(env: Env) -> bool:
    d = Path(tempfile.mkdtemp(prefix="snippet-selftest-", dir=env.target / "tmp"))
    readme = d / "README.md"
    readme.write_text(SELFTEST)
    snippets = extract(readme, "selftest/README.md")
    # Blocks alternate good, broken per language; the last one is skipped.
    expected = ["ok", "FAILED"] * ((len(snippets) - 1) // 2) + ["skip"]
    run_all(snippets, env)
    got = [s.result for s in snippets]
    if got != expected:
        print(f"selftest: expected {expected}, got {got}", file=sys.stderr)
        # Repeated here, last, so that a log's tail (all CI shows) says why.
        for s, want in zip(snippets, expected):
            if s.result != want:
                print(f"selftest: {s.name} was {s.result}, not {want}:\n{s.detail}", file=sys.stderr)
        return False
    # Each broken block failed for its own mistake, not for a setup problem.
    why = ["left: 10", "README says", "imagor_no_such_function", "Error: width", "not assignable", "README says"]
    for s, needle in zip([s for s in snippets if s.result == "FAILED"], why):
        if needle not in s.detail:
            print(f"selftest: {s.name} failed without {needle!r}:\n{s.detail}", file=sys.stderr)
            return False
    # A marker that is not right above a block is refused.
    bad = d / "BAD.md"
    bad.write_text("<!-- snippet: skip why -->\ntext\n```sh\ntrue\n```\n")
    try:
        extract(bad, "BAD.md")
    except SystemExit as e:
        if "right above" not in str(e):
            raise
    else:
        print("selftest: a stray marker was accepted", file=sys.stderr)
        return False
    print(f"selftest: the {got.count('FAILED')} broken blocks failed, the {got.count('ok')} good ones ran")
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="markdown files (default: the project's READMEs)")
    ap.add_argument("-k", help="only blocks whose name contains this")
    ap.add_argument("--selftest", action="store_true", help="check that broken blocks fail")
    ap.add_argument("--list", action="store_true", help="list the blocks, run nothing")
    args = ap.parse_args()
    target = Path(
        json.loads(
            subprocess.run(
                ["cargo", "metadata", "--format-version", "1", "--no-deps"],
                cwd=ROOT, capture_output=True, text=True, check=True,
            ).stdout
        )["target_directory"]
    )
    env = Env(target)
    (target / "tmp").mkdir(parents=True, exist_ok=True)
    if args.selftest:
        return 0 if selftest(env) else 1
    files = [Path(f).resolve() for f in args.files] or [ROOT / f for f in READMES]
    snippets = []
    for f in files:
        snippets += extract(f, str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f))
    if args.k:
        snippets = [s for s in snippets if args.k in s.name]
    if args.list:
        for s in snippets:
            print(f"{'skip' if s.skip else 'run':4}  {s.name}" + (f"  ({s.skip})" if s.skip else ""))
        return 0
    return 0 if run_all(snippets, env) else 1


if __name__ == "__main__":
    sys.exit(main())
