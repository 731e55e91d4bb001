"""Switching the container into its root, and what happens to / afterwards."""
from __future__ import annotations

import errno
import os

from pyruntime.errors import SyscallError
from pyruntime.kernel import mount as m


def prepare_root(rootfs: str, propagation: int) -> int:
    """Stop mount events reaching the host, make rootfs a mount point; returns its fd.

    ``propagation`` is applied to the whole tree (runc's default: rslave), so
    nothing mounted from here on appears on the host.
    """
    m.mount(None, "/", None, propagation | m.MS_REC)
    try:
        m.mount(rootfs, rootfs, None, m.MS_BIND | m.MS_REC)
    except SyscallError as exc:
        if exc.errno == errno.EACCES and _in_user_namespace():
            raise SyscallError("mount", exc.errno, rootfs, hint=(
                "in a user namespace the container's root is a mapped host uid: every parent "
                "directory of the rootfs must be searchable by it")).within("root.path") from None
        raise
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _in_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split()[:3] != ["0", "0", "4294967295"]
    except OSError:
        return False


def pivot(root_fd: int) -> None:
    """pivot_root(".", ".") then detach the old root stacked under the new one.

    The old root is made rslave first, so the lazy unmount cannot propagate
    back to the host's mounts.
    """
    os.fchdir(root_fd)
    m.pivot_root(".", ".")
    m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
    m.umount2(".", m.MNT_DETACH)
    os.chdir("/")


def move_root(root_fd: int) -> None:
    """--no-pivot: MS_MOVE the rootfs over / and chroot (for ramfs roots, where pivot_root fails)."""
    os.fchdir(root_fd)
    m.mount(".", "/", None, m.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def finish_root(readonly: bool, propagation: int) -> None:
    """After pivot: shared propagation on / if asked, and a read-only root."""
    if propagation & (m.MS_SHARED | m.MS_PRIVATE | m.MS_UNBINDABLE):
        m.mount(None, "/", None, propagation | m.MS_REC)
    if readonly:
        from pyruntime.rootfs.mounts import LOCKABLE, mount_flags_of
        fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            keep = mount_flags_of(fd) & LOCKABLE
        finally:
            os.close(fd)
        m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | keep)
