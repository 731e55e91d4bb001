"""Cgroup managers behind one interface, for v1, hybrid and pure v2 hosts.

    manager = cgroups.for_container(layout, path)      # at create
    manager = cgroups.from_record(record.cgroup)       # any later command

Interface: create, add(pid), apply(resources), freeze/thaw/is_frozen,
kill_all(sig), pids(), stats(), destroy(), describe() (what the state keeps).
"""
from __future__ import annotations

from pyruntime.cgroups.layout import HYBRID, V1, V2, Layout, detect  # noqa: F401


def for_container(layout: Layout, path: str, systemd: bool = False):
    if layout.kind == V2:
        from pyruntime.cgroups.v2 import V2Manager
        return V2Manager(layout.unified, path, systemd=systemd)
    from pyruntime.cgroups.v1 import V1Manager
    return V1Manager(layout, path, systemd=systemd)


def from_record(desc: dict):
    """Rebuild the manager a container was created with (from its state record)."""
    if not desc:
        return None
    if desc["kind"] == V2:
        from pyruntime.cgroups.v2 import V2Manager
        return V2Manager(desc["unified"], desc["path"], created=desc.get("created", []),
                         systemd=desc.get("systemd", False))
    from pyruntime.cgroups.v1 import V1Manager
    layout = Layout(desc["kind"], desc["v1"], desc.get("unified", ""))
    return V1Manager(layout, desc["path"], created=desc.get("created", []),
                     systemd=desc.get("systemd", False))
