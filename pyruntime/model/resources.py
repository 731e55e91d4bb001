"""linux.resources in the spec model: the Resources document and device rules.

The per-controller limits (memory, cpu, blkio, ...) are in ``model.limits``,
created only when a config sets them (see model.config on start-up cost).
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # for readers and type checkers; never imported at run time
    from pyruntime.model.limits import CPU, BlockIO, HugepageLimit, Memory, Network


@dataclass(frozen=True)
class DeviceRule:
    """One device-cgroup rule; None major/minor/type mean 'any'."""
    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"


@dataclass(frozen=True)
class Resources:
    """linux.resources, and the document ``update --resources`` reads."""
    devices: tuple[DeviceRule, ...] = ()
    memory: Memory | None = None
    cpu: CPU | None = None
    pids_limit: int | None = None
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    rdma: dict = field(default_factory=dict)       # device name -> Rdma
    unified: dict = field(default_factory=dict)    # cgroup v2 file -> value
