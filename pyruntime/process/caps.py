"""Capability sets: applying the masks process.plan.plan_caps decided, around setuid.

The kernel's order (runc's finalizeNamespace):
1. drop from the bounding set (needs CAP_SETPCAP, so while still privileged);
2. PR_SET_KEEPCAPS, change uid/gid, PR_SET_KEEPCAPS off (permitted survives);
3. capset effective/permitted/inheritable;
4. raise ambient (each must be in permitted and inheritable).
"""
from __future__ import annotations

from pyruntime.fileio import read_bytes
from pyruntime.kernel import proc
from pyruntime.model.names import CAPABILITIES
from pyruntime.process.plan import CapPlan


def last_cap() -> int:
    """The highest capability this kernel knows; read in the parent, on the host."""
    try:
        return int(read_bytes("/proc/sys/kernel/cap_last_cap"))
    except OSError:
        return len(CAPABILITIES) - 1


def held_by_runtime() -> int:
    """The runtime's permitted set: all it can grant a process that has no user namespace."""
    return proc.capget()[1]


def drop_bounding(p: CapPlan, last: int) -> None:
    if p.bounding is None:
        return
    for num in range(last + 1):
        if not p.bounding >> num & 1 and proc.prctl(proc.PR_CAPBSET_READ, num) == 1:
            proc.prctl(proc.PR_CAPBSET_DROP, num)


def apply_sets(p: CapPlan, last: int, warnings: list[str] | None = None) -> None:
    """capset, then ambient. An ambient capability the kernel refuses (it must also be
    inheritable and permitted) is a warning, not an error, as in runc."""
    from pyruntime.errors import SyscallError
    proc.capset(p.effective, p.permitted, p.inheritable)
    proc.prctl(proc.PR_CAP_AMBIENT, proc.PR_CAP_AMBIENT_CLEAR_ALL)
    for num in range(last + 1):
        if p.ambient >> num & 1:
            try:
                proc.prctl(proc.PR_CAP_AMBIENT, proc.PR_CAP_AMBIENT_RAISE, num)
            except SyscallError as exc:
                if warnings is not None:
                    warnings.append(f"process.capabilities.ambient: cannot raise {CAPABILITIES[num]} "
                                    f"(not also inheritable and permitted): {exc}")
