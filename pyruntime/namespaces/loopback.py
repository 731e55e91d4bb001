"""Bring up lo in a new network namespace (runc does; programs expect 127.0.0.1)."""
from __future__ import annotations

import fcntl
import struct

from pyruntime.errors import SyscallError

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def bring_up_lo() -> None:
    import _socket
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
    except OSError as exc:
        raise SyscallError("ioctl(SIOCSIFFLAGS)", exc.errno, "lo") from None
    finally:
        sock.close()
