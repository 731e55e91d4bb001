"""process.rlimits, applied to the container init (and inherited through exec)."""
from __future__ import annotations

import errno
import os

from pyruntime.errors import PyruntimeError, SyscallError, describe_errno
from pyruntime.kernel import proc
from pyruntime.model.config import Rlimit
from pyruntime.model.names import RLIMITS

UNLIMITED = 2 ** 64 - 1
RLIMIT_NOFILE = 7
_caller_nofile: tuple[int, int] | None = None  # the limit we were started with, if raised


def raise_nofile_soft_limit() -> None:
    """What Go does at start, and so runc: the soft NOFILE limit up to the hard one, so that
    a caller's low soft limit cannot fail a create or exec half-way. The container's
    process gets the caller's limit back (``restore_caller_nofile``) unless its config sets one.

    The launcher (tools/launcher.c) has usually done it already, before Python's own
    imports, and says what the caller's soft limit was."""
    global _caller_nofile
    soft, hard = proc.prlimit(RLIMIT_NOFILE)
    caller = os.environ.pop("PYRUNTIME_CALLER_NOFILE", None)  # not for hooks or the container
    if caller is not None and caller.isdigit():
        _caller_nofile = (min(int(caller), hard), hard)
    elif soft < hard:
        proc.prlimit(RLIMIT_NOFILE, (hard, hard))
        _caller_nofile = (soft, hard)


def restore_caller_nofile(rlimits: tuple[Rlimit, ...]) -> None:
    """Right before execve (the runtime still opens files until then): the caller's soft
    NOFILE limit back, unless the config sets one. Lowering a soft limit needs no privilege."""
    if _caller_nofile is not None and not any(r.type == "RLIMIT_NOFILE" for r in rlimits):
        proc.prlimit(RLIMIT_NOFILE, _caller_nofile)


def apply(rlimits: tuple[Rlimit, ...], at: str = "process.rlimits") -> None:
    for i, r in enumerate(rlimits):
        num = RLIMITS[r.type]
        try:
            proc.prlimit(num, (min(r.soft, UNLIMITED), min(r.hard, UNLIMITED)))
        except SyscallError as exc:
            err = exc.errno or errno.EINVAL
            current_hard = proc.prlimit(num)[1]
            shown = "unlimited" if current_hard == UNLIMITED else current_hard
            if err == errno.EPERM:
                raise PyruntimeError(
                    f"{at}[{i}]: {r.type} hard limit {r.hard} is above the current hard limit "
                    f"{shown}; raising it needs CAP_SYS_RESOURCE, which the runtime does not have") from None
            raise PyruntimeError(f"{at}[{i}]: {r.type} ({r.soft}, {r.hard}): {describe_errno(err)}") from None
