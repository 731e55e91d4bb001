"""linux.sysctl, written through a private procfs instance (see safefs.procfs).

A sysctl shows the namespace of the process that opens it, so the init (in
the container's namespaces) opens them; validation has already refused keys
whose namespace the container does not own.
"""
from __future__ import annotations

from pyruntime.safefs import procfs


def write_all(root_fd: int, sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        procfs.write("sys/" + key.replace(".", "/"), value, f"linux.sysctl.{key}", fallback_root=root_fd)
