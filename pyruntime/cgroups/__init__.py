"""Cgroup managers behind one interface, for v1, hybrid and pure v2 hosts.

    manager = cgroups.for_container(layout, path)      # at create
    manager = cgroups.from_record(record.cgroup)       # any later command

Interface: create, add(pid), apply(resources), freeze/thaw/is_frozen,
kill_all(sig), pids(), stats(), destroy(), describe() (what the state keeps).
"""
from __future__ import annotations

from pyruntime.cgroups.layout import HYBRID, V1, V2, Layout, detect, systemd_booted  # noqa: F401


def for_container(layout: Layout, path: str, systemd: bool = False, unit: tuple[str, str] | None = None):
    """``unit``: (slice, unit name) when systemd makes the cgroup (see cgroups.systemd)."""
    if layout.kind == V2:
        from pyruntime.cgroups.v2 import V2Manager
        manager = V2Manager(layout.unified, path, systemd=systemd)
    else:
        from pyruntime.cgroups.v1 import V1Manager
        manager = V1Manager(layout, path, systemd=systemd)
    if unit is not None:
        from pyruntime.cgroups.systemd import SystemdManager
        return SystemdManager(manager, unit[1], unit[0], started=False)
    return manager


def from_record(desc: dict):
    """Rebuild the manager a container was created with (from its state record)."""
    if not desc:
        return None
    if desc["kind"] == V2:
        from pyruntime.cgroups.v2 import V2Manager
        manager = V2Manager(desc["unified"], desc["path"], created=desc.get("created", []),
                            systemd=desc.get("systemd", False))
    else:
        from pyruntime.cgroups.v1 import V1Manager
        layout = Layout(desc["kind"], desc["v1"], desc.get("unified", ""))
        manager = V1Manager(layout, desc["path"], created=desc.get("created", []),
                            systemd=desc.get("systemd", False))
    if desc.get("unit"):
        from pyruntime.cgroups.systemd import SystemdManager
        return SystemdManager(manager, desc["unit"], desc.get("slice", ""))
    return manager
