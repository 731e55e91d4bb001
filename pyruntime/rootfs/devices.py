"""Device nodes in the container's /dev: mknod, or a bind of the host's node.

In a user namespace mknod of a device is not allowed, so the host node is
bind-mounted onto an empty file instead (runc does the same).
"""
from __future__ import annotations

import errno
import os
import stat

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import mount as m
from pyruntime.model.config import Device
from pyruntime.safefs import safepath

KINDS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def make_device(root_fd: int, dev: Device, bind: bool, must_match: bool = False) -> None:
    """``must_match``: a configured device; an existing entry at its path that is not that
    device is an error (config-linux.md), instead of being replaced."""
    if must_match:
        _check_existing(root_fd, dev)
    if bind:
        _bind_host_node(root_fd, dev)
        return
    parent = safepath.mkdir_all(root_fd, os.path.dirname(dev.path))
    name = os.path.basename(dev.path)
    mode = KINDS[dev.type] | (0o666 if dev.file_mode is None else dev.file_mode)
    try:
        try:
            os.unlink(name, dir_fd=parent)  # never reuse what the image put there (may be a symlink)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SyscallError("unlink", exc.errno, dev.path) from None
        try:
            os.mknod(name, mode, os.makedev(dev.major, dev.minor) if dev.type != "p" else 0,
                     dir_fd=parent)
            os.chown(name, dev.uid or 0, dev.gid or 0, dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise SyscallError("mknod", exc.errno, dev.path) from None
    finally:
        os.close(parent)


def _is(st: os.stat_result, dev: Device) -> bool:
    return st.st_mode & 0o170000 == KINDS[dev.type] and (
        dev.type == "p" or st.st_rdev == os.makedev(dev.major, dev.minor))


def _check_existing(root_fd: int, dev: Device) -> None:
    try:
        fd = safepath.open_in_root(root_fd, dev.path, safepath.O_PATH | os.O_NOFOLLOW)
    except SyscallError as exc:
        if exc.errno == errno.ENOENT:
            return
        raise
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if not _is(st, dev):
        raise PyruntimeError(f"{dev.path} exists and is not the requested device "
                             f"({dev.type} {dev.major}:{dev.minor})")


def _bind_host_node(root_fd: int, dev: Device) -> None:
    try:
        src = os.open(dev.path, safepath.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        raise SyscallError("open", exc.errno, dev.path, hint="host device to bind") from None
    try:
        if not _is(os.fstat(src), dev):
            raise SyscallError("open", 19, dev.path, hint="host node is not the configured device")
        target = safepath.create_file(root_fd, dev.path)
        try:
            m.mount(safepath.fd_path(src), safepath.fd_path(target), None, m.MS_BIND, shown_as=dev.path)
        finally:
            os.close(target)
    finally:
        os.close(src)


def open_host_null() -> int:
    """An O_PATH fd of the host's /dev/null, checked to really be char device 1:3."""
    fd = os.open("/dev/null", safepath.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW)
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise SyscallError("open", 19, "/dev/null", hint="not the null device")
    return fd
