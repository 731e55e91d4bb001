"""process.rlimits, applied to the container init (and inherited through exec)."""
from __future__ import annotations

import errno

from pyruntime.errors import PyruntimeError, SyscallError, describe_errno
from pyruntime.kernel import proc
from pyruntime.model.config import Rlimit
from pyruntime.model.names import RLIMITS

UNLIMITED = 2 ** 64 - 1


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
