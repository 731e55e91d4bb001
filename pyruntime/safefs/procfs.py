"""Writing procfs files the container cannot redirect.

The runtime writes a few procfs files for the container (sysctl, OOM score,
LSM labels). Going through the container's /proc, a bind mount over one of
them could send the write somewhere else (CVE-2025-52881; CVE-2019-16884 for
/proc as a volume). Instead the init makes its own procfs instance with the
new mount API and never attaches it to any tree (fsopen/fsmount): nothing the
container mounts is visible in it, and openat2 with RESOLVE_BENEATH |
RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS keeps every lookup inside that one
mount. Where the kernel refuses a private instance (a joined pid namespace
owned by another user namespace), the container's /proc is used with an
fstatfs check that the file is on procfs.
"""
from __future__ import annotations

import os

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import fd as kfd, mount as m

STRICT = kfd.RESOLVE_BENEATH | kfd.RESOLVE_NO_XDEV | kfd.RESOLVE_NO_SYMLINKS | kfd.RESOLVE_NO_MAGICLINKS

_private = -1


def private_proc() -> int:
    """A detached procfs mount of our pid namespace (made once per process), or -1."""
    global _private
    if _private < 0:
        try:
            fs = m.fsopen("proc")
            try:
                m.fsconfig(fs, m.FSCONFIG_CMD_CREATE)
                _private = m.fsmount(fs)
            finally:
                os.close(fs)
        except SyscallError:
            _private = -1
    return _private


def close_private() -> None:
    global _private
    if _private >= 0:
        os.close(_private)
        _private = -1


def open_file(rel: str, flags: int, fallback_root: int = -1, field: str = "") -> int:
    """Open ``rel`` (like "sys/net/ipv4/ip_forward" or "<pid>/attr/exec") for writing.

    ``fallback_root`` is an fd of the container root whose ``/proc`` is used
    when no private instance can be made.
    """
    proc_fd = private_proc()
    try:
        if proc_fd >= 0:
            return kfd.openat2(proc_fd, rel, flags, resolve=STRICT, shown_as=f"/proc/{rel}")
        from pyruntime.safefs import safepath
        root = fallback_root if fallback_root >= 0 else os.open("/", os.O_PATH | os.O_CLOEXEC)
        try:
            fd = safepath.open_in_root(root, f"/proc/{rel}", flags)
        finally:
            if fallback_root < 0:
                os.close(root)
        if kfd.fstatfs_type(fd) != kfd.PROC_SUPER_MAGIC:
            os.close(fd)
            raise PyruntimeError(f"/proc/{rel} is not on procfs; refusing to write")
        return fd
    except PyruntimeError as exc:
        raise exc.within(field) if field else exc


def write(rel: str, value: str, field: str, fallback_root: int = -1) -> None:
    fd = open_file(rel, os.O_WRONLY, fallback_root, field)
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise SyscallError("write", exc.errno, f"/proc/{rel}").within(field) from None
    finally:
        os.close(fd)
