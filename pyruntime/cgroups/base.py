"""What the v1 and v2 managers share: directories made, removal, killing."""
from __future__ import annotations

import os
import time

from pyruntime.cgroups import fs
from pyruntime.cgroups.path import DEFAULT_PARENT
from pyruntime.errors import CgroupError


class BaseManager:
    """Subclasses set ``self.path`` and implement ``dirs()`` and ``roots()``."""

    kind = ""

    def __init__(self, path: str, created: list[str] | None = None, systemd: bool = False):
        self.path = path
        self.created = list(created or [])
        self.systemd = systemd

    def dirs(self) -> list[str]:
        """Every directory of this container's cgroup, one per hierarchy."""
        raise NotImplementedError

    def roots(self) -> list[str]:
        """The hierarchy roots, parallel to dirs()."""
        raise NotImplementedError

    def main_dir(self) -> str:
        """The directory whose cgroup.procs lists the container's processes."""
        raise NotImplementedError

    def unified_dir(self) -> str:
        """The container's cgroup v2 directory ("" on a v1 host without a unified hierarchy)."""
        raise NotImplementedError

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs())

    def add(self, pid: int) -> None:
        for d in self.dirs():
            fs.write(os.path.join(d, "cgroup.procs"), str(pid))

    def pids(self) -> list[int]:
        return fs.pids(self.main_dir())

    def kill_all(self, sig: int) -> None:
        """Signal every process, frozen first so none can fork away meanwhile."""
        was_frozen = self.is_frozen()
        if not was_frozen:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if not was_frozen or sig == 9:
                self.thaw()

    def wait_empty(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return True

    def destroy(self) -> None:
        """Remove the container's directories, then the parents this runtime made.

        A cgroup can be removed only when empty; leftover processes are killed
        first (delete --force) and waited for.
        """
        if not self.exists() or self._remove_dirs():
            self._remove_parents()
            return
        if os.path.isdir(self.main_dir()) and self.pids():
            self.kill_all(9)
            if not self.wait_empty():
                raise CgroupError(f"cgroup {self.main_dir()}: processes still present after SIGKILL")
        errors = []
        for d in self.dirs():
            for sub in self._children(d):
                try:
                    fs.remove_dir(sub)
                except CgroupError as exc:
                    errors.append(str(exc))
        self._remove_parents()
        if errors:
            raise CgroupError(errors[0])

    def _remove_dirs(self) -> bool:
        """rmdir each of the container's directories; False when one is busy or has
        sub-cgroups. The common case (an undo, a container that ran no nested cgroups)
        needs no descriptor at all: undo works even when a create ran out of them."""
        for d in self.dirs():
            try:
                os.rmdir(d)
            except FileNotFoundError:
                continue
            except OSError:
                return False
        return True

    @staticmethod
    def _children(top: str) -> list[str]:
        """top and every sub-cgroup below it, deepest first (rmdir order)."""
        out = []
        for walk_root, dirnames, _ in os.walk(top, topdown=False):
            out.append(walk_root)
        return out

    def _remove_parents(self) -> None:
        """Empty parents we created, and the default parent, which is ours by definition."""
        mine = set(self.created)
        for root in self.roots():
            mine.add(root + DEFAULT_PARENT)
        for d in sorted(mine, key=len, reverse=True):
            if d in self.dirs():
                continue
            try:
                os.rmdir(d)
            except OSError:
                pass  # not empty (another container's cgroup) or already gone

    def describe(self) -> dict:
        raise NotImplementedError
