"""cgroup v2 manager (pure unified hierarchy).

Controllers must be enabled in every ancestor's ``cgroup.subtree_control``
for the container's cgroup to have their files; on create every available one
is, best effort and from the top down (runc's way), and the ones the
resources need must be. The host's root is touched only if a controller is
not yet enabled there.
"""
from __future__ import annotations

import os
import time

from pyruntime.cgroups import fs
from pyruntime.cgroups.base import BaseManager
from pyruntime.errors import CgroupError


class V2Manager(BaseManager):
    """Container cgroup at ``<unified><path>``."""

    kind = "v2"

    def __init__(self, unified: str, path: str, created: list[str] | None = None,
                 systemd: bool = False):
        super().__init__(path, created, systemd)
        self.unified = unified

    def roots(self) -> list[str]:
        return [self.unified]

    def dirs(self) -> list[str]:
        return [self.unified + self.path]

    def main_dir(self) -> str:
        return self.unified + self.path

    def unified_dir(self) -> str:
        return self.unified + self.path

    def create(self) -> None:
        self.created += fs.make_dirs(self.main_dir(), self.unified)
        self.enable_available()

    def enable_available(self) -> None:
        """Every controller the host has, in each ancestor, as runc does, best effort: without
        them the container's cgroup has no memory.current or pids.current, and its stats (CRI's,
        kubelet's) read zero. apply() then insists on the ones the resources need."""
        available = fs.read(os.path.join(self.unified, "cgroup.controllers")).split()
        d = self.unified
        for part in self.path.strip("/").split("/"):
            enabled = set(fs.read(os.path.join(d, "cgroup.subtree_control")).split())
            for controller in available:
                if controller not in enabled:
                    try:
                        fs.write(os.path.join(d, "cgroup.subtree_control"), f"+{controller}")
                    except CgroupError:
                        pass  # processes of its own (the no-internal-process rule), or not delegated
            d = os.path.join(d, part)

    def enable_controllers(self, wanted: set[str]) -> None:
        """Enable ``wanted`` in each ancestor's subtree_control, top down."""
        if not wanted:
            return
        available = set(fs.read(os.path.join(self.unified, "cgroup.controllers")).split())
        missing = wanted - available
        if missing:
            raise CgroupError(f"cgroup v2 controller(s) {', '.join(sorted(missing))} not available on this host")
        d = self.unified
        for part in self.path.strip("/").split("/"):
            enabled = set(fs.read(os.path.join(d, "cgroup.subtree_control")).split())
            need = wanted - enabled
            if need:
                try:
                    fs.write(os.path.join(d, "cgroup.subtree_control"),
                             " ".join(f"+{c}" for c in sorted(need)))
                except CgroupError as exc:
                    raise CgroupError(
                        f"{exc} (a cgroup with processes of its own cannot delegate controllers: "
                        "the v2 no-internal-process rule)") from None
            d = os.path.join(d, part)

    def apply(self, res, updating: bool = False) -> None:
        if res is None:
            return
        from pyruntime.cgroups.resources import v2_writes
        writes = v2_writes(res)
        self.enable_controllers({w.controller for w in writes} - {"cgroup"})
        for w in writes:
            fs.write(os.path.join(self.main_dir(), w.file), w.value, w.field)
        if res.devices and not updating:
            from pyruntime.cgroups.devices import attach_v2_filter
            attach_v2_filter(self.main_dir(), res.devices)

    def freeze(self) -> None:
        d = self.main_dir()
        fs.write(os.path.join(d, "cgroup.freeze"), "1")
        deadline = time.monotonic() + 10
        while "frozen 1" not in fs.read(os.path.join(d, "cgroup.events")):
            if time.monotonic() > deadline:
                fs.write(os.path.join(d, "cgroup.freeze"), "0")
                raise CgroupError(f"cgroup {d}: processes did not freeze within 10s")
            time.sleep(0.001)

    def thaw(self) -> None:
        if os.path.isdir(self.main_dir()):
            fs.write(os.path.join(self.main_dir(), "cgroup.freeze"), "0")

    def is_frozen(self) -> bool:
        return fs.read_int(os.path.join(self.main_dir(), "cgroup.freeze")) == 1

    def kill_all(self, sig: int) -> None:
        kill_file = os.path.join(self.main_dir(), "cgroup.kill")
        if sig == 9 and os.path.exists(kill_file):
            fs.write(kill_file, "1")  # atomic, and reaches processes forking meanwhile
            return
        super().kill_all(sig)

    def stats(self) -> dict:
        from pyruntime.cgroups.stats import v2_stats
        return v2_stats(self)

    def describe(self) -> dict:
        return {"kind": "v2", "path": self.path, "unified": self.unified,
                "created": self.created, "systemd": self.systemd}
