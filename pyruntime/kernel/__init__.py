"""Thin typed wrappers over the compiled kernel-call module ``pyruntime._kernel``.

One function per call; each raises ``SyscallError(call, errno, path)`` on
failure and returns plain Python values. Modules by area: ``ns`` (namespaces),
``mount`` (old and new mount API), ``fd`` (openat2, pidfds, sockets, close_range,
memfd), ``proc`` (prctl, capabilities, scheduling, identity), ``bpf``.
"""
from __future__ import annotations

from pyruntime._kernel import ffi, lib  # noqa: F401  (re-exported for the area modules)
from pyruntime.errors import SyscallError


def check(rc: int, call: str, path: str | None = None) -> int:
    """Return rc, or raise SyscallError with the errno the call left behind."""
    if rc < 0:
        raise SyscallError(call, ffi.errno, path)
    return rc


def cstr(value: str | bytes | None):
    """A char* argument: None stays NULL, str is encoded as the kernel sees paths."""
    if value is None:
        return ffi.NULL
    return value.encode() if isinstance(value, str) else value
