"""Waiting for a container process in the foreground (run, exec without --detach)."""
from __future__ import annotations

import os

# Signals forwarded to the process; SIGCHLD is ours, SIGKILL/SIGSTOP cannot be
# caught, and SIGWINCH goes to the pty when we hold one (process.ptyproxy).
FORWARDED = (1, 2, 3, 6, 10, 12, 14, 15, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)


def exit_status(status: int) -> int:
    """A wait status as a shell would report it: 128+N when killed by signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_for(pid: int, terminal_proxy=None) -> int:
    """Reap children until ``pid`` exits, forwarding signals to it meanwhile.

    The caller is a child subreaper, so ``pid`` (a grandchild) is its child by now.
    """
    import _signal

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        if signum == 28 and terminal_proxy is not None:
            continue
        _signal.signal(signum, forward)
    if terminal_proxy is not None:
        return terminal_proxy.copy_until_exit(pid)
    while True:
        reaped, status = os.waitpid(-1, 0)
        if reaped == pid:
            return status
