"""Foreground terminal without --console-socket: pyruntime holds the pty itself.

For ``run`` (and ``exec``) with process.terminal and no console socket, as
runc does: the container's pty master comes back to us over a socketpair,
our own stdin goes raw, and bytes are copied both ways until the container
process exits. Window size follows ours (SIGWINCH); other signals are
forwarded by the caller.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import struct

from pyruntime.process import console

TIOCGWINSZ = 0x5413


class PtyProxy:
    def __init__(self):
        from pyruntime.kernel.fd import unix_pair
        self.ours, self.theirs = unix_pair()
        self.master = -1
        self._saved_tty = None

    def receive(self) -> None:
        """Take the master fd the container sent (call after create)."""
        if self.theirs >= 0:
            os.close(self.theirs)
            self.theirs = -1
        self.master, _ = console.recv_fd(self.ours)
        os.close(self.ours)
        self._sync_size()

    def _sync_size(self, *_args) -> None:
        if os.isatty(0) and self.master >= 0:
            try:
                size = fcntl.ioctl(0, TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
                fcntl.ioctl(self.master, console.TIOCSWINSZ, size)
            except OSError:
                pass

    def _raw(self) -> None:
        if os.isatty(0):
            import termios
            import tty
            self._saved_tty = termios.tcgetattr(0)
            tty.setraw(0)

    def _restore(self) -> None:
        if self._saved_tty is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, self._saved_tty)

    def copy_until_exit(self, pid: int) -> int:
        """Copy stdin -> pty and pty -> stdout until ``pid`` exits; returns its wait status."""
        import gc
        gc.enable()  # this loop lives as long as the container: collect (the launcher turned it off)
        import _signal
        _signal.signal(28, self._sync_size)  # SIGWINCH
        self._raw()
        status = None
        stdin_open = True
        try:
            while True:
                if status is None:
                    reaped, st = os.waitpid(-1, os.WNOHANG)
                    while reaped:
                        if reaped == pid:
                            status = st
                            break
                        reaped, st = os.waitpid(-1, os.WNOHANG)
                watch = [self.master] + ([0] if stdin_open and status is None else [])
                try:
                    ready, _, _ = select.select(watch, [], [], 0.05 if status is None else 0)
                except InterruptedError:
                    continue
                if status is not None and self.master not in ready:
                    return status  # exited and its output is drained
                if 0 in ready:
                    data = os.read(0, 4096)
                    if data:
                        os.write(self.master, data)
                    else:
                        stdin_open = False
                if self.master in ready:
                    try:
                        data = os.read(self.master, 65536)
                    except OSError as exc:
                        if exc.errno != errno.EIO:  # EIO: every slave fd is closed
                            raise
                        data = b""
                    if not data:
                        if status is None:
                            _, status = os.waitpid(pid, 0)
                        return status
                    os.write(1, data)
        finally:
            self._restore()
            os.close(self.master)
