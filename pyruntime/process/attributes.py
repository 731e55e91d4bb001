"""Per-process attributes: OOM score, personality, scheduling, I/O priority, memory
policy, LSM labels, applied as the process plan (process.plan) decided them.

Each either takes effect or fails with a line naming the field; a feature the
host lacks (an LSM that is not enabled, resctrl) was refused by the plan's
checks, never silently skipped.
"""
from __future__ import annotations

import os

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import proc
from pyruntime.model.config import Process
from pyruntime.process.plan import ProcessPlan


def set_oom_score_adj(value: int) -> None:
    """Through a private procfs instance (safefs.procfs): the container cannot redirect it."""
    from pyruntime.safefs import procfs
    try:
        procfs.write(f"{os.getpid()}/oom_score_adj", str(value), "process.oomScoreAdj")
    except SyscallError as exc:
        hint = " (lowering it needs CAP_SYS_RESOURCE)" if exc.errno == 13 else ""
        raise PyruntimeError(f"{exc}{hint}") from None


def apply_personality(persona: int | None) -> None:
    if persona is not None:
        proc.personality(persona)


def apply_scheduler(scheduler: tuple | None) -> None:
    if scheduler is None:
        return
    try:
        proc.sched_setattr(*scheduler)
    except SyscallError as exc:
        raise exc.within("process.scheduler") from None


def apply_io_priority(value: int | None) -> None:
    if value is None:
        return
    try:
        proc.ioprio_set(value)
    except SyscallError as exc:
        raise exc.within("process.ioPriority") from None


def apply_memory_policy(policy: tuple | None) -> None:
    if policy is None:
        return
    mode, nodes = policy
    try:
        proc.set_mempolicy(mode, list(nodes))
    except SyscallError as exc:
        raise exc.within("linux.memoryPolicy") from None


def apply_lsm(process: Process) -> None:
    """Labels take effect at the next execve (written to /proc/thread-self/attr/*)."""
    if process.apparmor_profile:
        _write_attr("apparmor/exec", f"exec {process.apparmor_profile}", "process.apparmorProfile")
    if process.selinux_label:
        _write_attr("exec", process.selinux_label, "process.selinuxLabel")


def _write_attr(name: str, value: str, field: str) -> None:
    """Via a private procfs: a bind mount over /proc/.../attr cannot swallow the label."""
    from pyruntime.safefs import procfs
    procfs.write(f"{os.getpid()}/task/{os.getpid()}/attr/{name}", value, field)


def apply_before_identity(plan: ProcessPlan) -> None:
    """In the container (init or exec), after pivot_root, while still privileged."""
    apply_personality(plan.persona)
    apply_scheduler(plan.scheduler)
    apply_io_priority(plan.io_priority)
    apply_memory_policy(plan.memory_policy)
    apply_lsm(plan.process)
