"""The extension module's dynamic symbols: its entry point and nothing
else. A dependency's own C exports (crc-fast, behind object_store, put 26
``crc_fast_*`` there) would be a second, unchecked API of the module, and
could interpose on another library of the same names in the process."""

import shutil
import subprocess
import sys

import pytest

import imagor


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF dynamic symbols")
def test_the_module_exports_its_entry_point_only():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    module = imagor._imagor.__file__
    out = subprocess.run([nm, "-D", "--defined-only", module], check=True,
                         capture_output=True, text=True).stdout
    exported = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
    assert exported == ["PyInit__imagor"], f"{module} exports {exported}"
