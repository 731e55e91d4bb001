"""Per-controller cgroup limits of linux.resources (memory, cpu, blkio, hugetlb, net, rdma)."""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass


@dataclass(frozen=True)
class Memory:
    """Memory controller settings (bytes; -1 is unlimited)."""
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


@dataclass(frozen=True)
class CPU:
    """CPU controller settings."""
    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None


@dataclass(frozen=True)
class DeviceThrottle:
    """A per-device rate (bytes or operations per second)."""
    major: int
    minor: int
    rate: int = 0


@dataclass(frozen=True)
class DeviceWeight:
    """A per-device blkio weight."""
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@dataclass(frozen=True)
class BlockIO:
    """blkio (v1) / io (v2) controller settings."""
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[DeviceWeight, ...] = ()
    throttle_read_bps: tuple[DeviceThrottle, ...] = ()
    throttle_write_bps: tuple[DeviceThrottle, ...] = ()
    throttle_read_iops: tuple[DeviceThrottle, ...] = ()
    throttle_write_iops: tuple[DeviceThrottle, ...] = ()


@dataclass(frozen=True)
class HugepageLimit:
    """A hugetlb limit for one page size ("2MB")."""
    page_size: str
    limit: int


@dataclass(frozen=True)
class NetPriority:
    """net_prio priority of one interface."""
    name: str
    priority: int


@dataclass(frozen=True)
class Network:
    """net_cls / net_prio settings (cgroup v1 only)."""
    class_id: int | None = None
    priorities: tuple[NetPriority, ...] = ()


@dataclass(frozen=True)
class Rdma:
    """RDMA limits of one device."""
    hca_handles: int | None = None
    hca_objects: int | None = None
