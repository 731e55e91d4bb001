"""Namespaces: unshare, setns, and clone3 as a Python-safe fork."""
from __future__ import annotations

from pyruntime.kernel import check, ffi, lib
from pyruntime.linux import (  # noqa: F401 - the numbers plans use, re-exported
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
    CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME,
)


def unshare(flags: int) -> None:
    check(lib.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    check(lib.setns(fd, nstype), "setns", path)


def clone3_fork(flags: int = 0, cgroup_fd: int = -1) -> int:
    """fork(2) through clone3, optionally straight into a cgroup v2 directory.

    Returns 0 in the child and the child's pid in the parent, like os.fork();
    the interpreter's fork hooks run around it. In the child ``cgroup_fd`` is
    already closed: it is a directory of the host's (see _build_kernel).
    """
    return check(lib.pyrt_clone3_fork(flags, cgroup_fd, ffi.NULL), "clone3")
