"""Where a container's cgroup lives, from linux.cgroupsPath (pure).

- absolute ``/a/b``: that path below each hierarchy root;
- relative ``a/b``: below the default parent ``/pyruntime`` (so the same value
  always means the same place, whoever runs the runtime);
- empty: ``/pyruntime/<id>``;
- with --systemd-cgroup, ``slice:prefix:name`` becomes the cgroupfs path that
  systemd would use: ``/<expanded slice>/<prefix>-<name>.scope``. No systemd
  runs here, so the state records that the path was mapped, not delegated.
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


def resolve(cgroups_path: str, container_id: str, systemd: bool = False) -> str:
    """The container's cgroup path relative to a hierarchy root, starting with '/'."""
    if systemd:
        value = cgroups_path or f"system.slice:pyruntime:{container_id}"
        parts = value.split(":")
        if len(parts) != 3:
            raise ConfigError([f"linux.cgroupsPath: {value!r}: with --systemd-cgroup the form is slice:prefix:name"])
        slice_name, prefix, name = parts
        parent = expand_slice(slice_name or "system.slice")
        unit = name if name.endswith(".slice") else f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
        path = f"{parent.rstrip('/')}/{unit}"
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
