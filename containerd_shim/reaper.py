"""Every exit of the shim's children, reaped in one place.

The shim is a child subreaper: a container's init becomes its child when `pyruntime create`
exits, and so do processes a container without its own pid namespace leaves behind. One thread
waits for any child; whoever started a process waits for its exit here, never with waitpid of
its own, so no exit is taken by the wrong waiter. An exit of a pid nobody watches yet is kept
while a create or exec is under way (its init may exit before its pid is known), and dropped
otherwise (an orphan's).
"""
from __future__ import annotations

import os
import signal
import threading
import time


def exit_code(status: int) -> int:
    """containerd's exit status: the code, or 128 + the signal that ended the process."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Reaper:
    def __init__(self):
        self.cond = threading.Condition()
        self.exits: dict[int, tuple[int, float]] = {}  # pid -> (exit code, when)
        self.watchers: dict[int, object] = {}  # pid -> callable(code, when)
        self.spawning = 0

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                with self.cond:
                    self.cond.wait_for(lambda: self.spawning > 0)
                continue
            self._exited(pid, exit_code(status), time.time())

    def _exited(self, pid: int, code: int, when: float) -> None:
        with self.cond:
            watcher = self.watchers.pop(pid, None)
            if watcher is None and self.spawning:
                self.exits[pid] = (code, when)
            self.cond.notify_all()
        if watcher is not None:
            watcher(code, when)

    def spawn(self, argv: list[str], stdio: tuple[int, int, int], **env) -> int:
        """Run ``argv`` with ``stdio`` as its fds 0-2 and wait for it: its exit code."""
        with self.cond:
            self.spawning += 1
            try:
                actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
                # Python ignores SIGPIPE and SIGXFSZ; a container's processes must not inherit that
                pid = os.posix_spawn(argv[0], argv, {**os.environ, **env}, file_actions=actions,
                                     setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
                self.cond.notify_all()
                self.cond.wait_for(lambda: pid in self.exits)
                return self.exits.pop(pid)[0]
            finally:
                self.spawning -= 1
                if not self.spawning:
                    self.exits.clear()

    def begin(self) -> None:
        """Keep exits from now on, until end(): a process about to be created may exit at once."""
        with self.cond:
            self.spawning += 1

    def watch(self, pid: int, watcher) -> None:
        """Call watcher(code, when) once ``pid`` exits (at once if it already has, since begin())."""
        with self.cond:
            early = self.exits.pop(pid, None)
            if early is None:
                self.watchers[pid] = watcher
        if early is not None:
            watcher(*early)

    def end(self) -> None:
        with self.cond:
            self.spawning -= 1
            if not self.spawning:
                self.exits.clear()
