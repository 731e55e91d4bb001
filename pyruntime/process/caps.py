"""Capability sets: names to masks (pure), and applying them around setuid.

The kernel's order (runc's finalizeNamespace):
1. drop from the bounding set (needs CAP_SETPCAP, so while still privileged);
2. PR_SET_KEEPCAPS, change uid/gid, PR_SET_KEEPCAPS off (permitted survives);
3. capset effective/permitted/inheritable;
4. raise ambient (each must be in permitted and inheritable).
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass

from pyruntime.fileio import read_bytes
from pyruntime.kernel import proc
from pyruntime.model.config import Capabilities
from pyruntime.model.names import CAPABILITIES, capability_number


@dataclass(frozen=True)
class CapPlan:
    """Masks per set; None means 'leave as is' (the set was not configured).

    ``last`` is the host's cap_last_cap, read by the parent on the host: the
    container's /proc may show anything (a mount over it), and a smaller number
    there would leave the higher capabilities in the bounding set.
    """
    bounding: int | None
    effective: int
    permitted: int
    inheritable: int
    ambient: int
    last: int


def last_cap() -> int:
    """The highest capability this kernel knows; read in the parent, on the host."""
    try:
        return int(read_bytes("/proc/sys/kernel/cap_last_cap"))
    except OSError:
        return len(CAPABILITIES) - 1


def mask(names, at: str, last: int, warnings: list[str], held: int = -1) -> int:
    """The set's bits. runtime-spec: a capability that cannot be mapped (unknown name,
    above this kernel's last) or granted (not held by the runtime) MUST be logged as a
    warning and SHOULD NOT fail the container: it is left out, as runc does."""
    out = 0
    for name in names or ():
        num = capability_number(name)
        if num is None:
            warnings.append(f"{at}: unknown capability {name!r}; ignored")
        elif num > last:
            warnings.append(f"{at}: {name} is not supported by this kernel; ignored")
        elif not held >> num & 1:
            warnings.append(f"{at}: {name} is not held by the runtime itself, so it cannot be "
                            "granted; ignored")
        else:
            out |= 1 << num
    return out


def held_by_runtime() -> int:
    """The runtime's permitted set: all it can grant a process that has no user namespace."""
    return proc.capget()[1]


def plan(caps: Capabilities | None, at: str = "process.capabilities",
         last: int | None = None, held: int = -1) -> tuple[CapPlan, list[str]]:
    """An unset capabilities object means no capabilities at all (as runc).

    ``held``: what the runtime may grant (-1: everything, when the process gets a user
    namespace, where it holds every capability); the bounding set is not limited by it
    (a bound the runtime lacks is simply absent).
    """
    last = last_cap() if last is None else last
    warnings: list[str] = []
    caps = caps or Capabilities()
    return CapPlan(
        bounding=mask(caps.bounding, f"{at}.bounding", last, warnings) if caps.bounding is not None else 0,
        effective=mask(caps.effective, f"{at}.effective", last, warnings, held),
        permitted=mask(caps.permitted, f"{at}.permitted", last, warnings, held),
        inheritable=mask(caps.inheritable, f"{at}.inheritable", last, warnings, held),
        ambient=mask(caps.ambient, f"{at}.ambient", last, warnings, held),
        last=last,
    ), warnings


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
