"""Process and kernel tuning sections of the spec model: scheduling, I/O priority,
CPU affinity, time offsets, Intel RDT, memory policy, personality (see model.config)."""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass


@dataclass(frozen=True)
class IOPriority:
    """ioprio_set(2) class and level."""
    io_class: str
    priority: int = 0


@dataclass(frozen=True)
class Scheduler:
    """sched_setattr(2) parameters."""
    policy: str
    nice: int = 0
    priority: int = 0
    flags: tuple[str, ...] = ()
    runtime: int = 0
    deadline: int = 0
    period: int = 0


@dataclass(frozen=True)
class ExecCPUAffinity:
    """CPU lists for the exec'd process: before and after it joins the cgroup."""
    initial: str = ""
    final: str = ""


@dataclass(frozen=True)
class TimeOffset:
    """A time-namespace clock offset."""
    secs: int = 0
    nanosecs: int = 0


@dataclass(frozen=True)
class IntelRdt:
    """resctrl settings."""
    clos_id: str = ""
    schemata: tuple[str, ...] = ()
    l3_cache_schema: str = ""
    mem_bw_schema: str = ""
    enable_monitoring: bool = False


@dataclass(frozen=True)
class MemoryPolicy:
    """set_mempolicy(2) for the container process."""
    mode: str
    nodes: str = ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Personality:
    """personality(2) domain and flags."""
    domain: str
    flags: tuple[str, ...] = ()
