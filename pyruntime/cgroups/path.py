"""Where a container's cgroup lives, from linux.cgroupsPath (pure).

- absolute ``/a/b``: that path below each hierarchy root;
- relative ``a/b``: below the default parent ``/pyruntime`` (so the same value
  always means the same place, whoever runs the runtime);
- empty: ``/pyruntime/<id>``;
- with --systemd-cgroup, ``slice:prefix:name`` names systemd's unit
  ``<prefix>-<name>.scope`` in that slice (``unit``), whose cgroupfs path is
  ``/<expanded slice>/<prefix>-<name>.scope``. On a host without systemd the
  path alone is used (the plan warns).
"""
from __future__ import annotations

from pyruntime.errors import ConfigError

DEFAULT_PARENT = "/pyruntime"


def expand_slice(slice_name: str) -> str:
    """'a-b-c.slice' -> '/a.slice/a-b.slice/a-b-c.slice' (systemd's nesting by dashes)."""
    if not slice_name.endswith(".slice") or "/" in slice_name:
        raise ConfigError([f"linux.cgroupsPath: {slice_name!r} is not a systemd slice name"])
    stem = slice_name[: -len(".slice")]
    if stem in ("", "-"):
        return "/"
    path, prefix = "", ""
    for part in stem.split("-"):
        if not part:
            raise ConfigError([f"linux.cgroupsPath: {slice_name!r} is not a valid slice name"])
        prefix = f"{prefix}-{part}" if prefix else part
        path += f"/{prefix}.slice"
    return path


def unit(cgroups_path: str, container_id: str) -> tuple[str, str]:
    """(slice, unit name) of ``slice:prefix:name`` (runc's defaults for empty parts)."""
    value = cgroups_path or f"system.slice:pyruntime:{container_id}"
    parts = value.split(":")
    if len(parts) != 3:
        raise ConfigError([f"linux.cgroupsPath: {value!r}: with --systemd-cgroup the form is slice:prefix:name"])
    slice_name, prefix, name = parts
    if not name or "/" in name or "/" in prefix:
        raise ConfigError([f"linux.cgroupsPath: {value!r}: not a systemd unit name"])
    expand_slice(slice_name or "system.slice")  # refuses what is not a slice name
    return (slice_name or "system.slice",
            name if name.endswith(".slice") else f"{prefix}-{name}.scope" if prefix else f"{name}.scope")


def resolve(cgroups_path: str, container_id: str, systemd: bool = False) -> str:
    """The container's cgroup path relative to a hierarchy root, starting with '/'."""
    if systemd:
        slice_name, unit_name = unit(cgroups_path, container_id)
        path = f"{expand_slice(slice_name).rstrip('/')}/{unit_name}"
    elif not cgroups_path:
        path = f"{DEFAULT_PARENT}/{container_id}"
    elif cgroups_path.startswith("/"):
        path = cgroups_path
    else:
        path = f"{DEFAULT_PARENT}/{cgroups_path}"
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ConfigError([f"linux.cgroupsPath: {cgroups_path!r} escapes the cgroup root"])
    if not parts:
        raise ConfigError([f"linux.cgroupsPath: {cgroups_path!r} is the root cgroup; a container needs its own"])
    return "/" + "/".join(parts)
