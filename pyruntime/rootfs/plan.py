"""The container's mount tree as an ordered list of steps (pure).

``plan()`` turns the spec into steps; ``rootfs.mounts`` carries them out in
the container init, before pivot_root. Order follows runc's prepareRootfs:
config mounts in the order given, then /dev (default nodes, config devices,
symlinks), then masked and read-only paths. Host facts the steps depend on
(cgroup layout and path, whether mknod is allowed) come in as arguments.
"""
from __future__ import annotations

import os
from pyruntime.startup.dataclass import dataclass

from pyruntime.errors import ConfigError
from pyruntime.model.config import Device, IDMapping, Mount, Spec
from pyruntime.rootfs import options as opts


@dataclass(frozen=True)
class FsMount:
    """Mount a filesystem by type at ``target``."""
    target: str
    fstype: str
    source: str
    o: opts.Options
    field: str


@dataclass(frozen=True)
class BindMount:
    """Bind a host path (resolved on the host) onto ``target``."""
    target: str
    source: str
    o: opts.Options
    field: str
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


@dataclass(frozen=True)
class CgroupMount:
    """The container's view of /sys/fs/cgroup (see rootfs.cgroupfs)."""
    target: str
    o: opts.Options
    field: str


@dataclass(frozen=True)
class EnterCgroup:
    """From here on the init is in its cgroup (the parent may have to place it first) and in
    its cgroup namespace, which is rooted there: before the first cgroup mount, which shows
    the namespace's view, and in any case before the container's program."""


@dataclass(frozen=True)
class MakeDevice:
    """Create a device node (mknod, or a bind of the host node when mknod is not allowed).

    ``field`` names a configured device (linux.devices[i]): what already exists at its
    path must be that device (config-linux.md: otherwise an error). The devices every
    container gets replace whatever the image has there.
    """
    device: Device
    bind: bool
    field: str = ""


@dataclass(frozen=True)
class Symlink:
    """Create ``path -> target``; an existing entry is kept unless ``replace``."""
    path: str
    target: str
    replace: bool = False


@dataclass(frozen=True)
class MaskPath:
    """Hide ``path``: files behind an empty read-only node, directories behind a ro tmpfs."""
    path: str


@dataclass(frozen=True)
class ReadonlyPath:
    """Make ``path`` a read-only bind of itself."""
    path: str


DEFAULT_DEVICES = (
    Device("c", "/dev/null", 1, 3, 0o666, 0, 0),
    Device("c", "/dev/zero", 1, 5, 0o666, 0, 0),
    Device("c", "/dev/full", 1, 7, 0o666, 0, 0),
    Device("c", "/dev/tty", 5, 0, 0o666, 0, 0),
    Device("c", "/dev/urandom", 1, 9, 0o666, 0, 0),
    Device("c", "/dev/random", 1, 8, 0o666, 0, 0),
)
DEV_SYMLINKS = (
    ("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/core", "/proc/kcore"),
)


def _is_bind(mount: Mount, o: opts.Options) -> bool:
    return o.is_bind or mount.type == "bind"


def mount_step(index: int, mount: Mount, bundle: str, userns_maps: tuple = ((), ())):
    """``userns_maps``: the user namespace's (uid, gid) mappings, which an idmap mount without
    its own takes."""
    field = f"mounts[{index}]"
    o = opts.parse(mount.options)
    if mount.uid_mappings or mount.gid_mappings:
        if not o.idmap and not _is_bind(mount, o):
            raise ConfigError([f"{field}: uidMappings/gidMappings need an idmap/ridmap bind mount"])
    if _is_bind(mount, o):
        if not mount.source:
            raise ConfigError([f"{field}.source: a bind mount needs a source"])
        uid_maps, gid_maps = mount.uid_mappings, mount.gid_mappings
        if o.idmap:
            uid_maps, gid_maps = uid_maps or userns_maps[0], gid_maps or userns_maps[1]
            if not (uid_maps and gid_maps):
                raise ConfigError([f"{field}.options: idmap needs uidMappings/gidMappings on the mount "
                                   "or a user namespace with mappings"])
        source = mount.source if os.path.isabs(mount.source) else os.path.join(bundle, mount.source)
        if not o.is_bind:  # type "bind" without bind/rbind in options: runc binds non-recursively
            o = opts.Options(o.flags | opts.m.MS_BIND, o.clear, o.propagation, o.attr_set,
                             o.attr_clr, o.data, o.tmpcopyup, o.idmap, o.idmap_recursive)
        return BindMount(mount.destination, os.path.normpath(source), o, field, uid_maps, gid_maps)
    if o.idmap:
        raise ConfigError([f"{field}.options: idmap/ridmap apply to bind mounts only"])
    if mount.type in ("cgroup", "cgroup2"):
        return CgroupMount(mount.destination, o, field)
    if not mount.type:
        raise ConfigError([f"{field}.type: required for a mount that is not a bind mount"])
    return FsMount(mount.destination, mount.type, mount.source or mount.type, o, field)


# Files below /proc that may be mounted over (what lxcfs provides); anything
# else would let a volume replace procfs files the runtime writes through
# (CVE-2019-16884 class). runc's list.
PROC_OVERRIDABLE = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                    "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
                    "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"}


def proc_refusal(where: str, is_proc_mount: bool, on_procfs: bool = False) -> str:
    """Why a mount may not land at ``where`` (a path inside the root), or "" when it may.

    The plan asks with the configured destination; the init asks again with
    what the destination resolved to, image symlinks followed inside the root,
    and whether that is on procfs: an image's ``/dev -> /proc/sys/kernel``
    must not turn the default /dev tmpfs into a writable /proc/sys/kernel.
    """
    where = os.path.normpath("/" + where.lstrip("/"))
    if where == "/proc":
        return "" if is_proc_mount else "only a proc filesystem may be mounted on /proc"
    if where in PROC_OVERRIDABLE:
        return ""
    if where.startswith("/proc/") or on_procfs:
        return f"{where} is inside /proc and cannot be mounted over"
    return ""


def check_proc_target(step) -> None:
    why = proc_refusal(step.target, isinstance(step, FsMount) and step.fstype == "proc")
    if why:
        raise ConfigError([f"{step.field}.destination: {why}"])


def has_dev_bind(mounts: tuple[Mount, ...]) -> bool:
    """A bind over /dev means the host's /dev: leave its nodes alone (runc's rule)."""
    for mount in mounts:
        if os.path.normpath(mount.destination) == "/dev":
            o = opts.parse(mount.options)
            if _is_bind(mount, o):
                return True
    return False


def plan(spec: Spec, bundle: str, can_mknod: bool) -> list:
    """Every mount-tree step for the container, in order."""
    maps = (spec.linux.uid_mappings, spec.linux.gid_mappings)
    steps: list = [mount_step(i, mnt, bundle, maps) for i, mnt in enumerate(spec.mounts)]
    for step in steps:
        check_proc_target(step)
    setup_dev = not has_dev_bind(spec.mounts)
    if setup_dev:
        steps += [MakeDevice(d, bind=not can_mknod) for d in DEFAULT_DEVICES]
    steps += [MakeDevice(d, bind=not can_mknod, field=f"linux.devices[{i}]")
              for i, d in enumerate(spec.linux.devices)]
    if setup_dev:
        steps += [Symlink(path, target) for path, target in DEV_SYMLINKS]
        # the container's own devpts instance, not the host's /dev/ptmx
        steps.append(Symlink("/dev/ptmx", "pts/ptmx", replace=True))
    steps += [MaskPath(p) for p in spec.linux.masked_paths]
    steps += [ReadonlyPath(p) for p in spec.linux.readonly_paths]
    cgroup_mounts = [i for i, step in enumerate(steps) if isinstance(step, CgroupMount)]
    steps.insert(cgroup_mounts[0] if cgroup_mounts else len(steps), EnterCgroup())
    return steps
