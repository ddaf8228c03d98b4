#!/usr/bin/env python3
"""Write THIRD-PARTY-NOTICES.md for the packages that ship npm's prebuilt
libvips: each library in its versions.json, the terms it is used under, and
where the corresponding source is.

    notices.py VERSIONS_JSON SHARP_LIBVIPS_VERSION OUT_FILE
"""

import json
import sys

# The licence of each library the prebuilt libvips links in (keys as in
# sharp-libvips' versions.json). LGPL libraries are used under LGPL-3.0 via
# their "or any later version" clause.
TERMS = {
    "aom": "BSD-2-Clause, with the Alliance for Open Media Patent License 1.0",
    "archive": "BSD-2-Clause (libarchive)",
    "cairo": "MPL-2.0 (or LGPL-2.1)",
    "cgif": "MIT",
    "exif": "LGPL-2.1-or-later, used as LGPL-3.0 (libexif)",
    "expat": "MIT",
    "ffi": "MIT (libffi)",
    "fontconfig": "fontconfig licence (MIT-like)",
    "freetype": "FreeType Project License (BSD-like)",
    "fribidi": "LGPL-2.1-or-later, used as LGPL-3.0",
    "glib": "LGPL-2.1-or-later, used as LGPL-3.0",
    "harfbuzz": "MIT (Old MIT)",
    "heif": "LGPL-3.0-or-later (libheif)",
    "highway": "Apache-2.0 or BSD-3-Clause",
    "imagequant": "BSD-2-Clause (libimagequant 2.4, lovell's fork)",
    "lcms": "MIT (Little CMS)",
    "mozjpeg": "IJG, BSD-3-Clause and zlib licences",
    "pango": "LGPL-2.1-or-later, used as LGPL-3.0",
    "pixman": "MIT",
    "png": "libpng License v2",
    "proxy-libintl": "LGPL-2.1-or-later, used as LGPL-3.0",
    "rsvg": "LGPL-2.1-or-later, used as LGPL-3.0 (librsvg)",
    "tiff": "libtiff licence (BSD-like)",
    "uhdr": "Apache-2.0 (libultrahdr)",
    "vips": "LGPL-2.1-or-later, used as LGPL-3.0 (libvips)",
    "webp": "BSD-3-Clause (libwebp)",
    "xml2": "MIT (libxml2)",
    "zlib-ng": "zlib licence",
}

HEAD = """# Third-party notices

This package ships (Python wheel: `imagor_rs.libs/`) or depends on (npm:
`@img/sharp-libvips-linux-x64@{pkg}`, installed next to it) a prebuilt libvips
{vips}: one shared library, `libvips-cpp.so.{vips}`, built by the sharp-libvips
project with the libraries below linked into it. imagor-rs itself is
Apache-2.0; it uses libvips only through that separate shared library, which
can be replaced by a compatible build of your own (for the wheel: replace the
file in `imagor_rs.libs/`, keeping its name; or build imagor-rs from source
against any libvips, see the README).

The library as a whole is distributed under the GNU Lesser General Public
License, version 3 or later (`LGPL-3.0.txt`, which builds on `GPL-3.0.txt`,
both included). The other libraries in it keep their own terms:

| library | version | used under |
|---|---|---|
"""

TAIL = """
## Corresponding source

- The build scripts that produced this library, naming the exact source
  archive of every library above, are the sharp-libvips project's release
  v{pkg}: https://github.com/lovell/sharp-libvips/tree/v{pkg} (file
  `build/posix.sh`, versions in `versions.json` of the npm package).
- libvips {vips}: https://github.com/libvips/libvips/releases/tag/v{vips}
- The npm package `@img/sharp-libvips-linux-x64@{pkg}` is the binary these
  packages ship or depend on, unchanged; `@img/sharp-libvips-dev@{pkg}` has
  its headers.
- imagor-rs' own source (Apache-2.0): https://github.com/imagor-rs/imagor-rs
"""


def main():
    versions_json, pkg, out = sys.argv[1:4]
    with open(versions_json) as f:
        versions = json.load(f)
    unknown = sorted(set(versions) - set(TERMS))
    if unknown:
        sys.exit(f"notices.py: no licence recorded for {', '.join(unknown)}: add it to TERMS")
    vips = versions["vips"]
    rows = "".join(f"| {name} | {versions[name]} | {TERMS[name]} |\n" for name in sorted(versions))
    with open(out, "w") as f:
        f.write(HEAD.format(pkg=pkg, vips=vips) + rows + TAIL.format(pkg=pkg, vips=vips))


if __name__ == "__main__":
    main()
