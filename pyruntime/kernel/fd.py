"""File descriptors: openat2, close_range, memfd_create, pidfds and sockets.

Sockets are made here rather than with the socket module: importing even its
C part (_socket) costs every container start more than the calls themselves.
"""
from __future__ import annotations

import os

from pyruntime.kernel import check, cstr, ffi, lib

RESOLVE_NO_XDEV = lib.RESOLVE_NO_XDEV
RESOLVE_NO_MAGICLINKS = lib.RESOLVE_NO_MAGICLINKS
RESOLVE_NO_SYMLINKS = lib.RESOLVE_NO_SYMLINKS
RESOLVE_BENEATH = lib.RESOLVE_BENEATH
RESOLVE_IN_ROOT = lib.RESOLVE_IN_ROOT
CLOSE_RANGE_CLOEXEC = lib.CLOSE_RANGE_CLOEXEC
O_PATH = lib.O_PATH
MFD_CLOEXEC = lib.MFD_CLOEXEC
MFD_ALLOW_SEALING = lib.MFD_ALLOW_SEALING


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0,
            shown_as: str | None = None) -> int:
    rc = lib.pyrt_openat2(dirfd, cstr(path), flags | os.O_CLOEXEC, mode, resolve)
    return check(rc, "openat2", shown_as or path)


def unix_pair(seqpacket: bool = False) -> tuple[int, int]:
    """A connected pair of AF_UNIX sockets (close-on-exec)."""
    kind = lib.SOCK_SEQPACKET if seqpacket else lib.SOCK_STREAM
    sv = ffi.new("int[2]")
    check(lib.socketpair(lib.AF_UNIX, kind | lib.SOCK_CLOEXEC, 0, sv), "socketpair")
    return sv[0], sv[1]


def unix_connect(path: str) -> int:
    """A stream socket (close-on-exec) connected to the AF_UNIX socket at ``path``."""
    return check(lib.pyrt_unix_connect(cstr(path)), "connect", path)


def inet_dgram_socket() -> int:
    """An AF_INET datagram socket (close-on-exec): the handle for interface ioctls."""
    return check(lib.socket(lib.AF_INET, lib.SOCK_DGRAM | lib.SOCK_CLOEXEC, 0), "socket")


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    check(lib.pyrt_close_range(first, last, flags), "close_range")


def memfd_create(name: str, flags: int = MFD_CLOEXEC) -> int:
    return check(lib.pyrt_memfd_create(cstr(name), flags), "memfd_create", name)






PROC_SUPER_MAGIC = 0x9FA0


def fstatfs_type(fd: int, path: str | None = None) -> int:
    return check(lib.pyrt_fstatfs_type(fd), "fstatfs", path)
