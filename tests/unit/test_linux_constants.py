"""pyruntime/linux.py's numbers (what plans decide with, without loading the kernel-call module) are
the C headers' (what the compiled module was built against)."""
from __future__ import annotations

from pyruntime import linux
from pyruntime._kernel import lib


def test_every_number_is_the_headers():
    # the constants (the name -> number tables of the config's enums are not header names)
    names = [n for n in dir(linux) if n.isupper() and isinstance(getattr(linux, n), int)]
    assert len(names) > 40
    assert {n: getattr(linux, n) for n in names} == {n: getattr(lib, n) for n in names}
