"""The container's /sys/fs/cgroup: only its own cgroup, never the host's tree.

- pure v2 with a cgroup namespace: a cgroup2 mount, which the namespace roots
  at the container's cgroup;
- pure v2 without one: a bind of the container's cgroup directory;
- v1 and hybrid: a tmpfs with one bind per hierarchy of the container's
  directory there (as runc does), plus symlinks for co-mounted controllers.

A rootless container the host gave no cgroup sees the cgroups its init is in
instead (runc binds the process's own cgroups too).
"""
from __future__ import annotations

import os

from pyruntime.startup.dataclass import dataclass
from pyruntime.cgroups.layout import V2, Layout
from pyruntime.fileio import read_text
from pyruntime.kernel import mount as m
from pyruntime.rootfs.plan import Symlink
from pyruntime.safefs.safepath import fd_path

FLAG_MASK = m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC | m.MS_RELATIME | m.MS_NOATIME | m.MS_STRICTATIME


@dataclass(frozen=True)
class CgroupView:
    """What the rootfs step needs to know about the container's cgroup."""
    layout: Layout
    path: str          # the container's cgroup, relative to each hierarchy root
    cgroupns: bool
    own: dict | None = None  # no cgroup of its own: hierarchy mount point -> where the init is

    def path_in(self, mount_point: str) -> str:
        return self.path if self.own is None else self.own.get(mount_point, "/").rstrip("/")


def own_cgroups(layout: Layout) -> dict:
    """Where this process is in each hierarchy (read before a cgroup namespace re-roots it)."""
    where = {}
    for line in read_text("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:
            if layout.unified:
                where[layout.unified] = path
            continue
        for controller in controllers.split(","):
            if controller in layout.v1:
                where[layout.v1[controller]] = path
    return where


def _bind(ex, host_dir: str, target: str, flags: int, readonly: bool) -> None:
    fd = ex.target(target)
    try:
        m.mount(host_dir, fd_path(fd), None, m.MS_BIND | m.MS_REC, shown_as=target)
    finally:
        os.close(fd)
    ex.remount(target, flags | (m.MS_RDONLY if readonly else 0), 0)


def mount_cgroup_view(ex, s) -> None:
    view: CgroupView = ex.cgroup_view
    flags = s.o.flags & FLAG_MASK
    readonly = bool(s.o.flags & m.MS_RDONLY)
    if view.layout.kind == V2:
        if view.cgroupns:
            fd = ex.target(s.target)
            try:
                m.mount("cgroup2", fd_path(fd), "cgroup2", flags | (m.MS_RDONLY if readonly else 0),
                        shown_as=s.target)
            finally:
                os.close(fd)
        else:
            _bind(ex, view.layout.unified + view.path_in(view.layout.unified), s.target, flags, readonly)
        return
    fd = ex.target(s.target)
    try:
        m.mount("tmpfs", fd_path(fd), "tmpfs", flags, "mode=755", shown_as=s.target)
    finally:
        os.close(fd)
    for mount_point in view.layout.v1_mounts:
        name = os.path.basename(mount_point)
        _bind(ex, mount_point + view.path_in(mount_point), f"{s.target}/{name}", flags, readonly)
        if "," in name:
            for controller in name.split(","):
                ex.do_Symlink(Symlink(f"{s.target}/{controller}", name))
    if view.layout.unified:
        _bind(ex, view.layout.unified + view.path_in(view.layout.unified), f"{s.target}/unified", flags, readonly)
    if readonly:
        ex.remount(s.target, flags | m.MS_RDONLY, 0)
