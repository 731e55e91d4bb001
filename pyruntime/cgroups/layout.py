"""Which cgroup hierarchies this host has: v1, hybrid (v1 + /sys/fs/cgroup/unified) or pure v2.

Read once from /proc/self/mountinfo; never changes a mount.
"""
from __future__ import annotations

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
    v1: dict[str, str] = {}
    unified = ""
    for line in text.splitlines():
        parts = line.split()
        sep = parts.index("-")
        fstype, point, super_opts = parts[sep + 1], parts[4], parts[sep + 3]
        if parts[3] != "/":
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
    with open("/proc/self/mountinfo") as f:
        return parse_mountinfo(f.read())
