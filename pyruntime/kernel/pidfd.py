"""pidfd_open(2) and pidfd_send_signal(2): signals that cannot reach a reused pid.

These two calls go through the interpreter's own thin bindings (os.pidfd_open,
_signal.pidfd_send_signal) rather than the cffi module: start, kill and
delete need nothing else from it, and loading it (cffi's backend and our
compiled module) is about a tenth of those commands' time.
"""
from __future__ import annotations

import os

import _signal  # the C module: the signal package would import enum

from pyruntime.errors import SyscallError


def open_pid(pid: int) -> int:
    """A pidfd (close-on-exec) for ``pid``."""
    try:
        return os.pidfd_open(pid)
    except OSError as exc:
        raise SyscallError("pidfd_open", exc.errno, f"pid {pid}") from None


def send_signal(pidfd: int, sig: int) -> None:
    try:
        _signal.pidfd_send_signal(pidfd, sig)
    except OSError as exc:
        raise SyscallError("pidfd_send_signal", exc.errno) from None
