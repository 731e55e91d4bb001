"""The container's terminal: a pty made inside it, its master sent to the caller.

runc's --console-socket protocol (what go-runc and conmon implement): the
runtime connects to the unix socket at the given path and sends one message
whose payload is the pty's name and whose SCM_RIGHTS carries the master fd.
"""
from __future__ import annotations

import fcntl
import os
import struct

from pyruntime import fdpass
from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import mount as m

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414


def connect(path: str) -> int:
    """Connect to the caller's console socket (in the parent, in the host's namespaces)."""
    return fdpass.connect(path, "--console-socket")


def recv_fd(sock_fd: int) -> tuple[int, str]:
    """The receiving side (foreground run, tests): (master fd, pty name)."""
    fd, name = fdpass.receive(sock_fd)
    return fd, name.decode(errors="replace")


def set_size(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def setup(console_fd: int, size, root_fd: int, bind_console: bool = True) -> None:
    """In the container, after pivot_root: make the pty, send its master, adopt the slave.

    For the init the slave also becomes /dev/console (a bind mount, as runc does).
    """
    _check_node("/dev/pts/ptmx", 5, 2)
    try:
        master, slave = os.openpty()
    except OSError as exc:
        raise SyscallError("openpty", exc.errno, "/dev/ptmx", hint="is /dev/pts mounted?") from None
    name = os.ttyname(slave)
    if size is not None:
        set_size(master, size.height, size.width)
    fdpass.send(console_fd, name.encode(), master)
    os.close(master)
    os.close(console_fd)
    if bind_console:
        _bind_console(root_fd, name)
    os.setsid()
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)


def _check_node(path: str, major: int, minor: int) -> None:
    """Refuse a device path the container replaced (a symlink could redirect it: CVE-2025-52565)."""
    import stat
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) != major or os.minor(st.st_rdev) != minor:
        raise PyruntimeError(f"{path} is not the character device {major}:{minor} "
                             f"(a symlink or other file put there by the image); refusing to use it")


def _bind_console(root_fd: int, pty_path: str) -> None:
    """Bind the pty over /dev/console: an existing /dev/console must be a plain file or
    a character device, never a symlink that would move the mount elsewhere."""
    import stat
    from pyruntime.safefs import safepath
    try:
        st = os.lstat("/dev/console")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode)):
            raise PyruntimeError("/dev/console is a symlink or directory in the container; "
                                 "refusing to mount the console there")
    except FileNotFoundError:
        pass
    target = safepath.create_file(root_fd, "/dev/console", 0o666)
    try:
        m.mount(pty_path, safepath.fd_path(target), None, m.MS_BIND, shown_as="/dev/console")
    finally:
        os.close(target)
