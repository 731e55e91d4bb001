"""Loading a compiled filter in the container process, and handing off the notify fd."""
from __future__ import annotations

import os

from pyruntime.kernel import proc
from pyruntime.seccomp.compile import Program


def load(program: Program, notify_sock: int, state: dict) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER); with NOTIFY, send the listener fd on."""
    listener = proc.seccomp_load(program.bpf, program.flags)
    if program.notify:
        from pyruntime.seccomp.notify import send_listener_fd
        send_listener_fd(notify_sock, listener, state)
        os.close(listener)
        os.close(notify_sock)
