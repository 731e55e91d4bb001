"""process.rlimits, applied to the container init (and inherited through exec)."""
from __future__ import annotations

import errno

from pyruntime.errors import PyruntimeError, describe_errno
from pyruntime.model.config import Rlimit
from pyruntime.model.names import RLIMITS

UNLIMITED = 2 ** 64 - 1


def _value(v: int) -> int:
    return -1 if v >= UNLIMITED else v  # Python spells RLIM_INFINITY as -1


def apply(rlimits: tuple[Rlimit, ...], at: str = "process.rlimits") -> None:
    import resource
    for i, r in enumerate(rlimits):
        num = RLIMITS[r.type]
        soft, hard = _value(r.soft), _value(r.hard)
        try:
            resource.prlimit(0, num, (soft, hard))
        except (OSError, ValueError) as exc:
            err = getattr(exc, "errno", None) or errno.EINVAL
            _, current_hard = resource.prlimit(0, num)
            shown = "unlimited" if current_hard == -1 else current_hard
            if err == errno.EPERM:
                raise PyruntimeError(
                    f"{at}[{i}]: {r.type} hard limit {r.hard} is above the current hard limit "
                    f"{shown}; raising it needs CAP_SYS_RESOURCE, which the runtime does not have") from None
            raise PyruntimeError(f"{at}[{i}]: {r.type} ({r.soft}, {r.hard}): {describe_errno(err)}") from None
