"""Mounts: mount/umount2/pivot_root and the new mount API (fd-based)."""
from __future__ import annotations

from pyruntime.kernel import check, cstr, lib
from pyruntime.linux import (  # noqa: F401 - the numbers plans use, re-exported
    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC,
    MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC,
    MS_NOSYMFOLLOW, MS_NOATIME, MS_NODIRATIME, MS_BIND,
    MS_MOVE, MS_REC, MS_SILENT, MS_UNBINDABLE,
    MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_RELATIME,
    MS_I_VERSION, MS_STRICTATIME, MS_LAZYTIME, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR__ATIME,
    MOUNT_ATTR_RELATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOSYMFOLLOW,
)

MNT_DETACH = lib.MNT_DETACH
UMOUNT_NOFOLLOW = lib.UMOUNT_NOFOLLOW
OPEN_TREE_CLONE = lib.OPEN_TREE_CLONE
OPEN_TREE_CLOEXEC = lib.OPEN_TREE_CLOEXEC
AT_RECURSIVE = lib.AT_RECURSIVE
AT_EMPTY_PATH = lib.AT_EMPTY_PATH
AT_SYMLINK_NOFOLLOW = lib.AT_SYMLINK_NOFOLLOW
MOVE_MOUNT_F_EMPTY_PATH = lib.MOVE_MOUNT_F_EMPTY_PATH
MOVE_MOUNT_T_EMPTY_PATH = lib.MOVE_MOUNT_T_EMPTY_PATH
MOUNT_ATTR_IDMAP = lib.MOUNT_ATTR_IDMAP
FSCONFIG_SET_FLAG = lib.FSCONFIG_SET_FLAG
FSCONFIG_SET_STRING = lib.FSCONFIG_SET_STRING
FSCONFIG_CMD_CREATE = lib.FSCONFIG_CMD_CREATE


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None, shown_as: str | None = None) -> None:
    """mount(2). ``shown_as`` names the target in errors when it is a /proc/self/fd path."""
    rc = lib.mount(cstr(source), cstr(target), cstr(fstype), flags, cstr(data))
    check(rc, "mount", shown_as or target)


def umount2(target: str, flags: int = 0) -> None:
    check(lib.umount2(cstr(target), flags), "umount2", target)


def pivot_root(new_root: str, put_old: str) -> None:
    check(lib.pyrt_pivot_root(cstr(new_root), cstr(put_old)), "pivot_root", new_root)


def open_tree(dirfd: int, path: str, flags: int) -> int:
    return check(lib.pyrt_open_tree(dirfd, cstr(path), flags), "open_tree", path or None)


def move_mount(from_fd: int, from_path: str, to_fd: int, to_path: str, flags: int,
               shown_as: str | None = None) -> None:
    rc = lib.pyrt_move_mount(from_fd, cstr(from_path), to_fd, cstr(to_path), flags)
    check(rc, "move_mount", shown_as or to_path or None)


def mount_setattr(dirfd: int, path: str, flags: int, attr_set: int = 0, attr_clr: int = 0,
                  propagation: int = 0, userns_fd: int = 0, shown_as: str | None = None) -> None:
    rc = lib.pyrt_mount_setattr(dirfd, cstr(path), flags, attr_set, attr_clr,
                                propagation, userns_fd)
    check(rc, "mount_setattr", shown_as or path or None)


def fsopen(fsname: str, flags: int = lib.FSOPEN_CLOEXEC) -> int:
    return check(lib.pyrt_fsopen(cstr(fsname), flags), "fsopen", fsname)


def fsconfig(fd: int, cmd: int, key: str | None = None, value: str | None = None,
             aux: int = 0) -> None:
    check(lib.pyrt_fsconfig(fd, cmd, cstr(key), cstr(value), aux), "fsconfig", key)


def fsmount(fd: int, attr_flags: int = 0, flags: int = lib.FSMOUNT_CLOEXEC) -> int:
    return check(lib.pyrt_fsmount(fd, flags, attr_flags), "fsmount")
