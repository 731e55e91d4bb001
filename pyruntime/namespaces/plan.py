"""Which namespaces to join and which to create, and in what order (pure).

Decided before any fork, as crun does: the stage-1 child then only carries it
out. Kernel rules that force the order:
- a joined user namespace goes first, so the other setns calls are checked
  against the container's user namespace;
- a new user namespace is created alone, then mapped by the parent, before the
  other namespaces are created (so they are owned by it);
- pid and time namespaces apply to children only: the init is forked after.
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass

from pyruntime import linux as k
from pyruntime.model.config import IDMapping, Linux

FLAGS = k.NAMESPACE_FLAGS
PROC_NAMES = {"mount": "mnt", "uts": "uts", "ipc": "ipc", "user": "user", "pid": "pid",
              "network": "net", "cgroup": "cgroup", "time": "time"}
# setns order for joined namespaces: user first, mount last (a joined mount
# namespace changes root and cwd, so every path is opened before any setns)
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


@dataclass(frozen=True)
class NamespacePlan:
    """The namespace part of a container plan."""
    join: tuple[tuple[str, str], ...] = ()   # (type, path), in setns order
    join_fields: tuple[str, ...] = ()         # the config field of each: linux.namespaces[i].path
    new_user: bool = False
    create_flags: int = 0                     # CLONE_NEW* unshared after the user namespace
    uid_map: str = ""
    gid_map: str = ""
    time_offsets: str = ""

    def creates(self, kind: str) -> bool:
        return kind == "user" and self.new_user or bool(self.create_flags & FLAGS[kind])

    def joins(self, kind: str) -> bool:
        return any(t == kind for t, _ in self.join)

    def has(self, kind: str) -> bool:
        return self.creates(kind) or self.joins(kind)


def id_map_text(mappings: tuple[IDMapping, ...]) -> str:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)


def plan(linux: Linux) -> NamespacePlan:
    join, fields = [], []
    flags = 0
    new_user = False
    for kind in JOIN_ORDER:
        entry = linux.namespace(kind)
        if entry is None:
            continue
        if entry.path:
            join.append((kind, entry.path))
            fields.append(f"linux.namespaces[{linux.namespaces.index(entry)}].path")
        elif kind == "user":
            new_user = True
        else:
            flags |= FLAGS[kind]
    offsets = "".join(f"{clock} {off.secs} {off.nanosecs}\n"
                      for clock, off in sorted(linux.time_offsets.items()))
    return NamespacePlan(
        join=tuple(join), join_fields=tuple(fields), new_user=new_user, create_flags=flags,
        uid_map=id_map_text(linux.uid_mappings) if new_user else "",
        gid_map=id_map_text(linux.gid_mappings) if new_user else "",
        time_offsets=offsets,
    )
