"""cgroup v1 (and hybrid) manager: one directory per mounted hierarchy.

On a hybrid host the container also gets a directory in the unified (cgroup2)
hierarchy, so that its processes have their own v2 cgroup too (what the
cgroup namespace shows as ``0::/``); no controller is used there.
"""
from __future__ import annotations

import os
import time

from pyruntime.cgroups import fs
from pyruntime.cgroups.base import BaseManager
from pyruntime.cgroups.layout import Layout
from pyruntime.errors import CgroupError


class V1Manager(BaseManager):
    """Container cgroup at ``path`` in every v1 hierarchy (+ unified on hybrid)."""

    def __init__(self, layout: Layout, path: str, created: list[str] | None = None,
                 systemd: bool = False):
        super().__init__(path, created, systemd)
        self.layout = layout
        self.kind = layout.kind

    def roots(self) -> list[str]:
        out = list(self.layout.v1_mounts)
        if self.layout.unified:
            out.append(self.layout.unified)
        return out

    def dirs(self) -> list[str]:
        return [root + self.path for root in self.roots()]

    def dir_of(self, controller: str) -> str | None:
        mount = self.layout.v1.get(controller)
        return mount + self.path if mount else None

    def unified_dir(self) -> str:
        return self.layout.unified + self.path if self.layout.unified else ""

    def main_dir(self) -> str:
        return self.dir_of("pids") or self.dir_of("freezer") or self.dirs()[0]

    def create(self) -> None:
        for root in self.roots():
            made = fs.make_dirs(root + self.path, root)
            self.created += made
            if root == self.layout.v1.get("cpuset"):
                self._fill_cpuset(root)

    def _fill_cpuset(self, root: str) -> None:
        """A new v1 cpuset starts with no cpus/mems, and then refuses tasks (ENOSPC): copy
        the parent's, at every level from the root down, not only the levels made now. A
        parent left empty (a create killed, or out of descriptors, between its mkdir and
        this copy) is filled by the next create instead of failing every later one."""
        d = root
        for part in self.path.strip("/").split("/"):
            parent, d = d, os.path.join(d, part)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not fs.read(os.path.join(d, name)):
                    fs.write(os.path.join(d, name), fs.read(os.path.join(parent, name)))

    def apply(self, res, updating: bool = False) -> None:
        if res is None:
            return
        from pyruntime.cgroups.resources import v1_writes
        memsw = None
        memory_dir = self.dir_of("memory")
        if memory_dir and res.memory is not None and res.memory.swap is not None:
            memsw = fs.read_int(os.path.join(memory_dir, "memory.memsw.limit_in_bytes"), -1)
            if memsw >= 1 << 62:
                memsw = -1
        for w in v1_writes(res, current_memsw=memsw):
            d = self.dir_of(w.controller)
            if d is None:
                raise CgroupError(f"{w.field}: the {w.controller} controller is not mounted on this host")
            if w.file == "memory.use_hierarchy" and fs.read(os.path.join(d, w.file)) == w.value:
                continue  # modern kernels fix it at 1 and refuse writes, even of 1
            fs.write(os.path.join(d, w.file), w.value, w.field)
        if res.devices:
            from pyruntime.cgroups.devices import v1_lines
            d = self.dir_of("devices")
            if d is None:
                raise CgroupError("linux.resources.devices: the devices controller is not mounted")
            for file, line in v1_lines(res.devices):
                fs.write(os.path.join(d, file), line, "linux.resources.devices")

    def freeze(self) -> None:
        d = self.dir_of("freezer")
        if d is None:
            raise CgroupError("cannot pause: the freezer controller is not mounted on this host")
        fs.write(os.path.join(d, "freezer.state"), "FROZEN")
        deadline = time.monotonic() + 10
        while fs.read(os.path.join(d, "freezer.state")) != "FROZEN":
            if time.monotonic() > deadline:
                fs.write(os.path.join(d, "freezer.state"), "THAWED")
                raise CgroupError(f"cgroup {d}: processes did not freeze within 10s")
            time.sleep(0.001)

    def thaw(self) -> None:
        d = self.dir_of("freezer")
        if d is not None and os.path.isdir(d):
            fs.write(os.path.join(d, "freezer.state"), "THAWED")

    def is_frozen(self) -> bool:
        d = self.dir_of("freezer")
        if d is None:
            return False
        try:
            return fs.read(os.path.join(d, "freezer.state")) == "FROZEN"
        except CgroupError:
            return False

    def stats(self) -> dict:
        from pyruntime.cgroups.stats import v1_stats
        return v1_stats(self)

    def describe(self) -> dict:
        return {"kind": self.kind, "path": self.path, "v1": self.layout.v1,
                "unified": self.layout.unified, "created": self.created, "systemd": self.systemd}
