"""linux.seccomp in the spec model (see model.config)."""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass


@dataclass(frozen=True)
class SyscallArg:
    """A condition on one syscall argument."""
    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass(frozen=True)
class SyscallRule:
    """Action for a set of syscalls, optionally only when args match."""
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SyscallArg, ...] = ()


@dataclass(frozen=True)
class Seccomp:
    """linux.seccomp."""
    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str = ""
    listener_metadata: str = ""
    syscalls: tuple[SyscallRule, ...] = ()
