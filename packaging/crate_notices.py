#!/usr/bin/env python3
"""Write RUST-CRATES-NOTICES.md: the Rust crates compiled into the native
module of a package, the licence each is published under, and the licence
and notice files each ships, every distinct text once.

    crate_notices.py OUT_FILE PACKAGE... [--features FEATURES]

PACKAGE: workspace packages whose default build ships (imagor-python,
imagor-node). The crates are what `cargo tree` resolves for them on
x86_64 Linux along normal edges (what is linked in; build scripts and
proc-macros run at build time only); the texts are read from each crate's
published source in cargo's registry.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

TARGET = "x86_64-unknown-linux-gnu"
LICENCE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|COPYRIGHT|NOTICE|UNLICENSE)", re.I)


MIT = """Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE."""


# Licence identifiers a crate may use: all permissive, as the README says.
# A crate under another one (copyleft, say) is refused until someone decides.
PERMISSIVE = {
    "MIT", "MIT-0", "Apache-2.0", "LLVM-exception", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "CC0-1.0",
    "ISC", "Zlib", "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "BSL-1.0",
    "CDLA-Permissive-2.0",
    # The Independent JPEG Group's licence (mozjpeg-sys): use for any purpose;
    # binaries must say in their documentation that they are based in part
    # on the IJG's work (README, "Install").
    "IJG",
}


# -sys crates that compile a C library's sources into the module: that
# library, its licence, and its licence files inside the published crate.
VENDORED_C = {
    "libwebp-sys": ("libwebp", "BSD-3-Clause", ["vendor/COPYING", "vendor/PATENTS"]),
    "libdav1d-sys": ("dav1d", "BSD-2-Clause", ["vendor/COPYING"]),
    "libdeflate-sys": ("libdeflate", "MIT", ["libdeflate/COPYING"]),
    # kubo/plthook ships its licence in the header comment of its source.
    "plthook": ("plthook", "BSD-2-Clause", ["vendor/plthook/plthook_elf.c"]),
}


def cargo(*args):
    return subprocess.run(["cargo", *args], check=True, capture_output=True, text=True).stdout


def shipped(packages, features):
    """(name, version) of every non-workspace crate linked into `packages`,
    built with `features` (cargo's --features syntax, or empty)."""
    args = ["tree", "--locked", "--target", TARGET, "-e", "normal,no-proc-macro",
            "--prefix", "none", "-f", "{p}"]
    if features:
        args += ["--features", features]
    for p in packages:
        args += ["-p", p]
    found = set()
    for line in cargo(*args).splitlines():
        m = re.match(r"^(\S+) v(\S+)(.*)$", line.strip())
        if m and "(/" not in m.group(3):
            found.add((m.group(1), m.group(2)))
    return found


def licence_files(manifest_path, licence_file):
    """The licence and notice files of a crate: (file name, text)."""
    root = os.path.dirname(manifest_path)
    names = sorted(n for n in os.listdir(root) if LICENCE_FILE.match(n) and os.path.isfile(os.path.join(root, n)))
    if licence_file and os.path.basename(licence_file) not in names:
        names.append(licence_file)
    out = []
    for n in names:
        path = os.path.join(root, n)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                out.append((os.path.basename(n), f.read().strip()))
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_file, packages = sys.argv[1], sys.argv[2:]
    features = ""
    if "--features" in packages:
        i = packages.index("--features")
        features = packages[i + 1]
        packages = packages[:i] + packages[i + 2:]
    crates = shipped(packages, features)
    meta = json.loads(cargo("metadata", "--locked", "--all-features", "--format-version", "1", "--filter-platform", TARGET))
    by_id = {(p["name"], p["version"]): p for p in meta["packages"]}
    rows, texts = [], {}
    needs_mit = False
    for key in sorted(crates):
        p = by_id[key]
        ids = set(re.findall(r"[A-Za-z0-9.+-]+", p.get("license") or "")) - {"OR", "AND", "WITH"}
        if not ids <= PERMISSIVE:
            print(f"crate_notices: {key[0]} {key[1]} is under {p.get('license')!r}, not a "
                  f"licence known to be permissive: {sorted(ids - PERMISSIVE)}", file=sys.stderr)
            return 1
        files = licence_files(p["manifest_path"], p.get("license_file"))
        licence = p.get("license") or "see its files"
        if key[0] in VENDORED_C:
            library, library_licence, paths = VENDORED_C[key[0]]
            root = os.path.dirname(p["manifest_path"])
            for rel in paths:
                with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if rel.endswith(".c"):
                    # The copyright and licence of a C source: its first comment.
                    text = text[:text.index("*/") + 2]
                files.append((f"{library} {os.path.basename(rel)}", text.strip()))
            licence = f"{licence}; compiles in {library} ({library_licence})"
        refs = []
        for name, text in files:
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            texts.setdefault(digest, (name, text, []))[2].append(f"{key[0]} {key[1]}")
            refs.append(f"[{name}](#t-{digest})")
        vendored_same = key[0] in VENDORED_C and VENDORED_C[key[0]][1] == p.get("license")
        if not licence_files(p["manifest_path"], p.get("license_file")) and vendored_same:
            # The crate's own code is under the licence of the library it
            # compiles in, whose text (with that library's copyright) is above.
            authors = ", ".join(p.get("authors") or []) or f"the authors of {key[0]}"
            refs.append(f"none in the published crate for its own code: the same terms, "
                        f"copyright {authors}")
        elif not licence_files(p["manifest_path"], p.get("license_file")):
            # Published without a licence file: the licence's standard text
            # (below) with the authors the crate names.
            if p.get("license") != "MIT":
                print(f"crate_notices: {key[0]} {key[1]} ships no licence file and its "
                      f"licence is {p.get('license')!r}: add its text here", file=sys.stderr)
                return 1
            authors = ", ".join(p.get("authors") or []) or f"the authors of {key[0]}"
            refs.append(f"none in the published crate: [MIT](#mit), copyright {authors}")
            needs_mit = True
        rows.append(
            f"| {key[0]} | {key[1]} | {licence} | "
            f"{p.get('repository') or ''} | {', '.join(refs) or 'none in the published crate'} |"
        )
    with open(out_file, "w") as f:
        f.write(
            "# Rust crates\n\n"
            f"The native module of this package (built from {', '.join(packages)}) is imagor-rs\n"
            f"(Apache-2.0) compiled together with the {len(rows)} crates below, each used under the licence it is\n"
            "published with (where an expression offers a choice, under any of them). Their\n"
            "source is on crates.io at the version given. Every licence or notice file they\n"
            "ship follows the table, each distinct text once, with the crates it comes from.\n\n"
            "| crate | version | licence | repository | files |\n|---|---|---|---|---|\n"
        )
        f.write("\n".join(rows) + "\n")
        for digest, (name, text, users) in sorted(texts.items(), key=lambda t: t[1][2][0]):
            fence = "~~~~" if "```" in text else "```"
            f.write(f"\n<a id=\"t-{digest}\"></a>\n## {name}: {', '.join(users)}\n\n{fence}text\n{text}\n{fence}\n")
        if needs_mit:
            f.write(f"\n<a id=\"mit\"></a>\n## The MIT licence (standard text)\n\n```text\n{MIT}\n```\n")
    print(f"crate_notices: {len(rows)} crates, {len(texts)} distinct texts -> {out_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
