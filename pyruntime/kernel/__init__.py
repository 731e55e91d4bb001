"""Thin typed wrappers over the compiled kernel-call module ``pyruntime._kernel``.

One function per call; each raises ``SyscallError(call, errno, path)`` on
failure and returns plain Python values. Modules by area: ``ns`` (namespaces),
``mount`` (old and new mount API), ``fd`` (openat2, pidfds, sockets, close_range,
memfd), ``proc`` (prctl, capabilities, scheduling, identity), ``bpf``, and ``pidfd``,
which needs no compiled code (Python's os and _signal have both calls).
"""
from __future__ import annotations

from pyruntime.errors import SyscallError


def __getattr__(name: str):
    """``ffi`` and ``lib`` load the compiled module at first use: the quick verbs (start, kill,
    delete: ``pidfd``) make their few calls through Python's own wrappers and never load it."""
    if name in ("ffi", "lib"):
        from pyruntime import _kernel
        globals().update(ffi=_kernel.ffi, lib=_kernel.lib)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check(rc: int, call: str, path: str | None = None) -> int:
    """Return rc, or raise SyscallError with the errno the call left behind."""
    if rc < 0:
        from pyruntime._kernel import ffi
        raise SyscallError(call, ffi.errno, path)
    return rc


def cstr(value: str | bytes | None):
    """A char* argument: None stays NULL, str is encoded as the kernel sees paths."""
    if value is None:
        from pyruntime._kernel import ffi
        return ffi.NULL
    return value.encode() if isinstance(value, str) else value
