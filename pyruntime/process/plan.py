"""A container process, decided in the parent (pure): the init's program, and each exec'd one.

The process applies these in the container as the kernel takes them (``attributes``,
``launch``); the names of the config became numbers here, once, where a mistake is
still a config error and nothing exists yet.
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass

from pyruntime.errors import ConfigError
from pyruntime.linux import IOPRIO_CLASS, MPOL_FLAGS, MPOL_MODE, PERSONALITY, SCHED_FLAGS, SCHED_POLICY
from pyruntime.model.config import Capabilities, Process
from pyruntime.model.names import capability_number

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


@dataclass(frozen=True)
class SeccompPlan:
    """The filter, compiled in the parent (seccomp.compile.Program), and where its notify fd goes."""
    program: object
    listener_path: str = ""
    listener_metadata: str = ""


@dataclass(frozen=True)
class ProcessPlan:
    """Everything a container process sets on itself before execve, as the kernel takes it."""
    process: Process              # args, cwd, env, user, rlimits, terminal, LSM labels, oomScoreAdj
    caps: CapPlan
    persona: int | None = None    # personality(2), from linux.personality
    scheduler: tuple | None = None  # sched_setattr(2): (policy, flags, nice, priority, runtime, deadline, period)
    io_priority: int | None = None  # ioprio_set(2): class << 13 | level
    memory_policy: tuple | None = None  # set_mempolicy(2): (mode | flags, nodes)
    affinity: tuple = (None, None)  # exec: (CPUs before joining the container, CPUs after), None: unchanged
    seccomp: SeccompPlan | None = None


def plan_caps(caps: Capabilities | None, last: int, held: int = -1,
              at: str = "process.capabilities") -> tuple[CapPlan, list[str]]:
    """An unset capabilities object means no capabilities at all (as runc).

    ``held``: what the runtime may grant (-1: everything, when the process gets a user
    namespace, where it holds every capability); the bounding set is not limited by it
    (a bound the runtime lacks is simply absent).
    """
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


def cpu_list(text: str, field: str) -> frozenset[int]:
    """'0-2,5' -> {0, 1, 2, 5}: a list of CPUs or of NUMA nodes."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if part:
            lo, _, hi = part.partition("-")
            if not (lo.isdigit() and (hi.isdigit() or not hi and "-" not in part)) or int(hi or lo) < int(lo):
                raise ConfigError([f"{field}: {text!r} is not a list like 0-2,5"])
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(cpus)


def plan(process: Process, caps, personality=None, memory_policy=None, seccomp: SeccompPlan | None = None,
         at: str = "process") -> ProcessPlan:
    """``personality`` and ``memory_policy`` (model.tuning) are the config's linux-wide settings,
    which every process of the container takes; ``at`` names the process in errors."""
    s, io, mp = process.scheduler, process.io_priority, memory_policy
    affinity = process.exec_cpu_affinity
    return ProcessPlan(
        process=process,
        caps=caps,
        persona=PERSONALITY[personality.domain] if personality is not None else None,  # flags: refused
        scheduler=(SCHED_POLICY[s.policy], _bits(SCHED_FLAGS, s.flags), s.nice, s.priority, s.runtime,
                   s.deadline, s.period) if s is not None else None,
        io_priority=IOPRIO_CLASS[io.io_class] << 13 | io.priority if io is not None else None,
        memory_policy=(MPOL_MODE[mp.mode] | _bits(MPOL_FLAGS, mp.flags),
                       tuple(sorted(cpu_list(mp.nodes, "linux.memoryPolicy.nodes")))) if mp is not None else None,
        affinity=(cpu_list(affinity.initial, f"{at}.execCPUAffinity.initial")
                  if affinity and affinity.initial else None,
                  cpu_list(affinity.final, f"{at}.execCPUAffinity.final") if affinity and affinity.final else None),
        seccomp=seccomp,
    )


def _bits(table: dict, names) -> int:
    out = 0
    for name in names:
        out |= table[name]
    return out


def lsm_problems(process: Process, apparmor: bool, selinux: bool, at: str = "process") -> list[str]:
    """AppArmor/SELinux labels need the LSM enabled on the host (create's process, and exec's)."""
    out = []
    if process.apparmor_profile and not apparmor:
        out.append(f"{at}.apparmorProfile: {process.apparmor_profile!r} requested but AppArmor is not "
                   "enabled on this host")
    if process.selinux_label and not selinux:
        out.append(f"{at}.selinuxLabel: {process.selinux_label!r} requested but SELinux is not enabled "
                   "on this host")
    return out
