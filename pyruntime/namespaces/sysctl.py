"""linux.sysctl, written through the container's own /proc/sys.

The file is opened below the container root with safepath (no symlink or
magic-link escapes) and must be on procfs: a volume bind-mounted over
/proc/sys could otherwise redirect the write (CVE-2025-52881 class).
"""
from __future__ import annotations

import os

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import fd as kfd
from pyruntime.rootfs import safepath


def write_all(root_fd: int, sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            fd = safepath.open_in_root(root_fd, path, os.O_WRONLY)
        except SyscallError as exc:
            raise exc.within(f"linux.sysctl.{key}") from None
        try:
            if kfd.fstatfs_type(fd, path) != kfd.PROC_SUPER_MAGIC:
                raise PyruntimeError(f"linux.sysctl.{key}: {path} is not on procfs; refusing to write")
            try:
                os.write(fd, value.encode())
            except OSError as exc:
                raise SyscallError("write", exc.errno, path).within(f"linux.sysctl.{key}") from None
        finally:
            os.close(fd)
