"""Switching the container into its root, and what happens to / afterwards."""
from __future__ import annotations

import errno
import os

from pyruntime.errors import SyscallError
from pyruntime.fileio import read_text
from pyruntime.kernel import mount as m


def prepare_root(rootfs: str, propagation: int = 0) -> int:
    """Stop mount events reaching the host, make rootfs a mount point; returns its fd.

    The whole tree becomes rslave first, so nothing mounted from here on
    appears on the host; linux.rootfsPropagation is applied after pivot_root.
    A shared rootfsPropagation (containerd's CRI writes rshared for pods with
    Bidirectional volumes) keeps the tree shared instead, as runc does: a
    volume bound from a shared host mount then stays its peer, so mounts made
    in it reach the host. The rootfs itself is still bound from a private
    parent, and ``pivot`` makes the old root rslave before detaching it.
    """
    shared = propagation & m.MS_SHARED
    m.mount(None, "/", None, propagation if shared else m.MS_SLAVE | m.MS_REC)
    # pivot_root refuses a new root that is or sits on a shared mount (a shared
    # rootfsPropagation), and a private mount keeps the bind below from propagating out:
    # the mount the rootfs is on, which is the rootfs itself when it is a mount point
    # (containerd's overlay), as runc does
    m.mount(None, parent_mount(rootfs), None, m.MS_PRIVATE)
    try:
        m.mount(rootfs, rootfs, None, m.MS_BIND | m.MS_REC)
    except SyscallError as exc:
        if exc.errno == errno.EACCES and _in_user_namespace():
            raise SyscallError("mount", exc.errno, rootfs, hint=(
                "in a user namespace the container's root is a mapped host uid: every parent "
                "directory of the rootfs must be searchable by it")).within("root.path") from None
        raise
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def parent_mount(path: str) -> str:
    """The mount point of the mount that contains ``path``."""
    best = "/"
    for line in read_text("/proc/self/mountinfo").splitlines():
        point = line.split()[4].replace("\\040", " ")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best = point
    return best


def _in_user_namespace() -> bool:
    try:
        return read_text("/proc/self/uid_map").split()[:3] != ["0", "0", "4294967295"]
    except OSError:
        return False


def pivot(root_fd: int, propagation: int = 0) -> None:
    """pivot_root(".", ".") then detach the old root, now stacked on the new one.

    The lazy unmount cannot propagate back to the host: prepare_root made the
    whole tree rslave before anything was mounted. A tree kept shared (see
    prepare_root) is made rslave here first, through an fd of the old root
    as runc does, so the container's own mounts keep their propagation.
    """
    shared_tree = propagation & m.MS_SHARED
    old_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if shared_tree else -1
    try:
        os.fchdir(root_fd)
        m.pivot_root(".", ".")
        if shared_tree:
            os.fchdir(old_root)
            m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
        m.umount2(".", m.MNT_DETACH)
    finally:
        if old_root >= 0:
            os.close(old_root)
    os.chdir("/")


def move_root(root_fd: int) -> None:
    """--no-pivot: MS_MOVE the rootfs over / and chroot (for ramfs roots, where pivot_root fails)."""
    os.fchdir(root_fd)
    m.mount(".", "/", None, m.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def chroot(root_fd: int) -> None:
    """Without a mount namespace there is nothing to pivot: chroot, as runc does."""
    os.fchdir(root_fd)
    os.chroot(".")
    os.chdir("/")


def unmount_below(path: str) -> None:
    """Detach every mount at or below path in our namespace, deepest first.

    For containers without a mount namespace, whose mounts were made in the host's.
    """
    prefix = path.rstrip("/") + "/"
    points = [line.split()[4].replace("\\040", " ") for line in read_text("/proc/self/mountinfo").splitlines()]
    for point in sorted({p for p in points if p.startswith(prefix)}, key=len, reverse=True):
        try:
            m.umount2(point, m.MNT_DETACH)
        except SyscallError:
            pass  # already gone with a parent


def finish_root(readonly: bool, propagation: int) -> None:
    """After pivot: linux.rootfsPropagation on / (only /, as runc), and a read-only root."""
    if propagation:
        m.mount(None, "/", None, propagation)
    if readonly:
        from pyruntime.rootfs.mounts import LOCKABLE, mount_flags_of
        fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            keep = mount_flags_of(fd) & LOCKABLE
        finally:
            os.close(fd)
        m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | keep)
