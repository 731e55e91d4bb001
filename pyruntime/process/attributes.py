"""Per-process attributes of the spec: OOM score, personality, scheduling, I/O
priority, memory policy, CPU affinity, LSM labels.

Each either takes effect or fails with a line naming the field; a feature the
host lacks (an LSM that is not enabled, resctrl, NUMA) is refused, never
silently skipped.
"""
from __future__ import annotations

import os

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import proc
from pyruntime.model.config import Process, Spec

PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}
SCHED_POLICY = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
               "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASS = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
MPOL_MODE = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
             "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_STATIC_NODES": 1 << 15, "MPOL_F_RELATIVE_NODES": 1 << 14,
              "MPOL_F_NUMA_BALANCING": 1 << 13}


def set_oom_score_adj(value: int) -> None:
    """Through a private procfs instance (safefs.procfs): the container cannot redirect it."""
    from pyruntime.safefs import procfs
    try:
        procfs.write(f"{os.getpid()}/oom_score_adj", str(value), "process.oomScoreAdj")
    except SyscallError as exc:
        hint = " (lowering it needs CAP_SYS_RESOURCE)" if exc.errno == 13 else ""
        raise PyruntimeError(f"{exc}{hint}") from None


def parse_cpu_list(text: str) -> set[int]:
    """'0-2,5' -> {0, 1, 2, 5}."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def parse_nodes(text: str) -> list[int]:
    return sorted(parse_cpu_list(text))


def apply_personality(spec: Spec) -> None:
    pers = spec.linux.personality
    if pers is None:
        return
    proc.personality(PERSONALITY[pers.domain])  # flags were refused by the validator


def apply_scheduler(process: Process) -> None:
    s = process.scheduler
    if s is None:
        return
    flags = 0
    for name in s.flags:
        flags |= SCHED_FLAGS[name]
    try:
        proc.sched_setattr(SCHED_POLICY[s.policy], flags, s.nice, s.priority, s.runtime, s.deadline, s.period)
    except SyscallError as exc:
        raise exc.within("process.scheduler") from None


def apply_io_priority(process: Process) -> None:
    p = process.io_priority
    if p is None:
        return
    try:  # the range was checked by the validator
        proc.ioprio_set(IOPRIO_CLASS[p.io_class] << 13 | p.priority)
    except SyscallError as exc:
        raise exc.within("process.ioPriority") from None


def apply_memory_policy(policy) -> None:
    if policy is None:
        return
    mode = MPOL_MODE[policy.mode]
    for name in policy.flags:
        mode |= MPOL_FLAGS[name]
    nodes = parse_nodes(policy.nodes) if policy.nodes else []
    try:
        proc.set_mempolicy(mode, nodes)
    except SyscallError as exc:
        raise exc.within("linux.memoryPolicy") from None


def check_lsm(process: Process) -> None:
    """AppArmor/SELinux labels need the LSM; refuse clearly where it is absent."""
    if process.apparmor_profile and not _apparmor_enabled():
        raise PyruntimeError(f"process.apparmorProfile: {process.apparmor_profile!r} requested "
                             "but AppArmor is not enabled on this host")
    if process.selinux_label and not os.path.exists("/sys/fs/selinux/enforce"):
        raise PyruntimeError(f"process.selinuxLabel: {process.selinux_label!r} requested "
                             "but SELinux is not enabled on this host")


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


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def check_host_features(spec: Spec) -> None:
    """Refuse, before anything is created, fields this host cannot honour."""
    if spec.process is not None:
        check_lsm(spec.process)
    if spec.linux.intel_rdt is not None:
        from pyruntime.resctrl import find_root
        find_root()  # runtime-spec: no resctrl mounted is an error
    # not implemented: refused rather than ignored, and `features` says so
    if spec.linux.net_devices:
        raise PyruntimeError("linux.netDevices: not supported by pyruntime (see `pyruntime features`)")


def apply_before_identity(spec: Spec, process: Process) -> None:
    """In the container (init or exec), after pivot_root, while still privileged."""
    apply_personality(spec)
    apply_scheduler(process)
    apply_io_priority(process)
    apply_memory_policy(spec.linux.memory_policy)
    apply_lsm(process)
