"""Passing a file descriptor over a unix socket (SCM_RIGHTS), as runc's clients expect.

Two protocols use it: --console-socket (payload: the pty's name, fd: its master)
and seccomp's listenerPath (payload: the ContainerProcessState JSON, fd: the
notify fd). Both connect from the parent, in the host's namespaces.
"""
from __future__ import annotations

import struct

from pyruntime.errors import PyruntimeError, SyscallError


def connect(path: str, shown_as: str) -> int:
    """A socket connected to the unix socket at path; a failure names ``shown_as`` (the flag or field)."""
    from pyruntime.kernel import fd
    try:
        return fd.unix_connect(path)
    except SyscallError as err:
        raise err.within(shown_as) from None


def send(sock_fd: int, payload: bytes, fd: int) -> None:
    """One message: payload, with fd attached."""
    import _socket  # only here: the common container start passes no fds this way
    sock = _socket.socket(fileno=sock_fd)
    try:
        sock.sendmsg([payload], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))])
    finally:
        sock.detach()


def receive(sock_fd: int) -> tuple[int, bytes]:
    """The receiving side (foreground run, tests): (fd, payload)."""
    import _socket
    sock = _socket.socket(fileno=sock_fd)
    try:
        data, ancillary, _, _ = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    finally:
        sock.detach()
    for level, kind, fds in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            return struct.unpack("i", fds[:4])[0], data
    raise PyruntimeError("unix socket: a message came without a file descriptor")
