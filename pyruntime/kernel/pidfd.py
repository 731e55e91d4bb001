"""pidfds through Python's own wrappers (os, _signal): no compiled module to load for the quick
verbs (start, kill, delete), which signal a process they must never mistake for another."""
from __future__ import annotations

import _signal
import os

from pyruntime.errors import SyscallError


def pidfd_open(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except OSError as exc:
        raise SyscallError("pidfd_open", exc.errno, f"pid {pid}") from None


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    try:
        _signal.pidfd_send_signal(pidfd, sig)
    except OSError as exc:
        raise SyscallError("pidfd_send_signal", exc.errno) from None
