"""Bring up lo in a new network namespace (runc does; programs expect 127.0.0.1)."""
from __future__ import annotations

import fcntl
import os
import sys

from pyruntime.errors import SyscallError
from pyruntime.kernel.fd import inet_dgram_socket

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _ifreq(name: bytes, flags: int) -> bytes:
    """struct ifreq with ifr_flags: a 16-byte name, a short, padding to 40 bytes."""
    return name.ljust(16, b"\0") + flags.to_bytes(2, sys.byteorder) + bytes(22)


def bring_up_lo() -> None:
    sock = inet_dgram_socket()
    try:
        reply = fcntl.ioctl(sock, SIOCGIFFLAGS, _ifreq(b"lo", 0))
        flags = int.from_bytes(reply[16:18], sys.byteorder)
        fcntl.ioctl(sock, SIOCSIFFLAGS, _ifreq(b"lo", flags | IFF_UP))
    except OSError as exc:
        raise SyscallError("ioctl(SIOCSIFFLAGS)", exc.errno, "lo") from None
    finally:
        os.close(sock)
