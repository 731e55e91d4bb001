"""Which cgroup hierarchies this host has: v1, hybrid (v1 + /sys/fs/cgroup/unified) or pure v2.

Read once from /proc/self/mountinfo; never changes a mount.
"""
from __future__ import annotations

import os

from pyruntime.fileio import read_text

V1, HYBRID, V2 = "v1", "hybrid", "v2"
CONTROLLERS = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio",
               "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc"}


class Layout:
    """The mounted hierarchies.

    ``v1`` maps each controller (and ``name=systemd``) to its mount point;
    co-mounted controllers share one. ``unified`` is the cgroup2 mount or "".
    A plain class: delete and kill rebuild it from the state without dataclasses.
    """

    __slots__ = ("kind", "v1", "unified")

    def __init__(self, kind: str, v1: dict | None = None, unified: str = ""):
        self.kind, self.v1, self.unified = kind, dict(v1 or {}), unified

    def __eq__(self, other) -> bool:
        return isinstance(other, Layout) and (self.kind, self.v1, self.unified) == (
            other.kind, other.v1, other.unified)

    def __repr__(self) -> str:
        return f"Layout({self.kind!r}, {self.v1!r}, {self.unified!r})"

    @property
    def v1_mounts(self) -> list[str]:
        """Each v1 mount point once, in a stable order."""
        return sorted(set(self.v1.values()))


def parse_mountinfo(text: str) -> Layout:
    # mountinfo lists mounts in the order they were made: a later mount on the
    # same point, or on a directory above it, hides the earlier one (a tmpfs
    # over /sys/fs/cgroup/unified, say), so only visible cgroup mounts count
    visible: dict[str, tuple[str, str, str]] = {}
    for line in text.splitlines():
        parts = line.split()
        sep = parts.index("-")
        point, fstype = parts[4], parts[sep + 1]
        if visible:
            below = point.rstrip("/") + "/"
            for hidden in [p for p in visible if p == point or p.startswith(below)]:
                del visible[hidden]
        if fstype in ("cgroup", "cgroup2"):
            visible[point] = (parts[3], fstype, parts[sep + 3])
    v1: dict[str, str] = {}
    unified = ""
    for point, (root, fstype, super_opts) in visible.items():
        if root != "/":
            continue  # a bind of a sub-cgroup (as inside a container), not a hierarchy root
        if fstype == "cgroup2":
            unified = point
        elif fstype == "cgroup":
            for opt in super_opts.split(","):
                if opt in CONTROLLERS or opt.startswith("name="):
                    v1[opt] = point
    if not v1:
        return Layout(V2, {}, unified)
    return Layout(HYBRID if unified else V1, v1, unified)


def detect() -> Layout:
    return parse_mountinfo(read_text("/proc/self/mountinfo"))


def systemd_booted() -> bool:
    """Whether this host was booted with systemd (sd_booted(3)'s test): the systemd driver's condition."""
    return os.path.isdir("/run/systemd/system")
