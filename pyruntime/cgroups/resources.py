"""linux.resources as cgroup file writes, for v1 and v2 (pure; no file is touched).

Each ``Write`` names the controller, the file, the value and the config field
it came from, so a refused write becomes an error that names both. Order
matters in places (memory+swap on v1) and is decided here, not at write time.
Conversions follow runc (libcontainer/cgroups/fs, fs2 and utils).
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass

from pyruntime.errors import ConfigError
from pyruntime.model.resources import Resources

R = "linux.resources"


@dataclass(frozen=True)
class Write:
    """Write ``value`` to ``<cgroup>/<file>`` in the ``controller`` hierarchy."""
    controller: str
    file: str
    value: str
    field: str


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000], runc's linear mapping."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000]."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_v2(swap: int, limit: int | None) -> int | None:
    """runtime-spec swap is memory+swap; cgroup v2 memory.swap.max is swap alone."""
    limit = limit or 0
    if limit == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if limit in (0, -1):
        raise ConfigError([f"{R}.memory.swap: a swap limit needs a memory limit"])
    if swap < limit:
        raise ConfigError([f"{R}.memory.swap: memory+swap ({swap}) must be >= memory.limit ({limit})"])
    return swap - limit


def _max(value: int) -> str:
    return "max" if value == -1 else str(value)


def _devices(items, fmt) -> list[str]:
    return [f"{d.major}:{d.minor} {fmt(d)}" for d in items]


def v1_writes(res: Resources, current_memsw: int | None = None) -> list[Write]:
    """Writes for cgroup v1 hierarchies. ``current_memsw`` orders limit vs memsw."""
    out: list[Write] = []
    m = res.memory
    if m is not None:
        limit_w = swap_w = None
        if m.limit not in (None, 0):  # 0 is no limit, as runc and cgroup v2 here read it
            limit_w = Write("memory", "memory.limit_in_bytes", str(m.limit), f"{R}.memory.limit")
        if m.swap is not None:
            swap_w = Write("memory", "memory.memsw.limit_in_bytes", str(m.swap), f"{R}.memory.swap")
        # the kernel keeps limit <= memsw at every step: when memsw grows past its
        # current value (-1 = unlimited, as in a new cgroup), write it first
        memsw_grows = swap_w is not None and (
            m.swap == -1 or (current_memsw not in (None, -1) and m.swap > current_memsw))
        out += [w for w in ((swap_w, limit_w) if memsw_grows else (limit_w, swap_w)) if w]
        if m.reservation is not None:
            out.append(Write("memory", "memory.soft_limit_in_bytes", str(m.reservation), f"{R}.memory.reservation"))
        if m.kernel is not None:
            out.append(Write("memory", "memory.kmem.limit_in_bytes", str(m.kernel), f"{R}.memory.kernel"))
        if m.kernel_tcp is not None:
            out.append(Write("memory", "memory.kmem.tcp.limit_in_bytes", str(m.kernel_tcp), f"{R}.memory.kernelTCP"))
        if m.swappiness is not None:
            if m.swappiness > 100:
                raise ConfigError([f"{R}.memory.swappiness: must be 0-100, got {m.swappiness}"])
            out.append(Write("memory", "memory.swappiness", str(m.swappiness), f"{R}.memory.swappiness"))
        if m.disable_oom_killer:
            out.append(Write("memory", "memory.oom_control", "1", f"{R}.memory.disableOOMKiller"))
        if m.use_hierarchy is not None:
            out.append(Write("memory", "memory.use_hierarchy", "1" if m.use_hierarchy else "0",
                             f"{R}.memory.useHierarchy"))
    c = res.cpu
    if c is not None:
        for value, file, key in ((c.shares, "cpu.shares", "shares"),
                                 (c.period, "cpu.cfs_period_us", "period"),
                                 (c.quota, "cpu.cfs_quota_us", "quota"),
                                 (c.burst, "cpu.cfs_burst_us", "burst"),
                                 (c.realtime_period, "cpu.rt_period_us", "realtimePeriod"),
                                 (c.realtime_runtime, "cpu.rt_runtime_us", "realtimeRuntime"),
                                 (c.idle, "cpu.idle", "idle")):
            if value is not None and (value != 0 or key in ("idle", "burst")):
                out.append(Write("cpu", file, str(value), f"{R}.cpu.{key}"))
    out += _cpuset_and_pids_writes(res)
    b = res.block_io
    if b is not None:
        if b.weight is not None:
            out.append(Write("blkio", "blkio.weight", str(b.weight), f"{R}.blockIO.weight"))
        if b.leaf_weight is not None:
            out.append(Write("blkio", "blkio.leaf_weight", str(b.leaf_weight), f"{R}.blockIO.leafWeight"))
        for d in b.weight_device:
            if d.weight is not None:
                out.append(Write("blkio", "blkio.weight_device", f"{d.major}:{d.minor} {d.weight}",
                                 f"{R}.blockIO.weightDevice"))
            if d.leaf_weight is not None:
                out.append(Write("blkio", "blkio.leaf_weight_device", f"{d.major}:{d.minor} {d.leaf_weight}",
                                 f"{R}.blockIO.weightDevice"))
        for items, file, key in ((b.throttle_read_bps, "read_bps_device", "throttleReadBpsDevice"),
                                 (b.throttle_write_bps, "write_bps_device", "throttleWriteBpsDevice"),
                                 (b.throttle_read_iops, "read_iops_device", "throttleReadIOPSDevice"),
                                 (b.throttle_write_iops, "write_iops_device", "throttleWriteIOPSDevice")):
            for line in _devices(items, lambda d: d.rate):
                out.append(Write("blkio", f"blkio.throttle.{file}", line, f"{R}.blockIO.{key}"))
    for h in res.hugepage_limits:
        out.append(Write("hugetlb", f"hugetlb.{h.page_size}.limit_in_bytes", str(h.limit), f"{R}.hugepageLimits"))
    n = res.network
    if n is not None:
        if n.class_id is not None:
            out.append(Write("net_cls", "net_cls.classid", str(n.class_id), f"{R}.network.classID"))
        for p in n.priorities:
            out.append(Write("net_prio", "net_prio.ifpriomap", f"{p.name} {p.priority}", f"{R}.network.priorities"))
    out += _rdma_writes(res)
    if res.unified:
        raise ConfigError([f"{R}.unified: raw cgroup v2 keys need a cgroup v2 host (this one is v1)"])
    return out


def v2_writes(res: Resources) -> list[Write]:
    """Writes for the cgroup v2 unified hierarchy."""
    out: list[Write] = []
    m = res.memory
    if m is not None:
        if m.limit is not None and m.limit != 0:
            out.append(Write("memory", "memory.max", _max(m.limit), f"{R}.memory.limit"))
        if m.swap is not None:
            swap = swap_v2(m.swap, m.limit)
            if swap != 0 or m.swap == 0 and m.limit not in (None, 0, -1):
                out.append(Write("memory", "memory.swap.max", _max(swap), f"{R}.memory.swap"))
        if m.reservation is not None and m.reservation != 0:
            out.append(Write("memory", "memory.low", _max(m.reservation), f"{R}.memory.reservation"))
    c = res.cpu
    if c is not None:
        if c.shares:
            out.append(Write("cpu", "cpu.weight", str(shares_to_weight(c.shares)), f"{R}.cpu.shares"))
        if c.quota or c.period:
            quota = "max" if not c.quota or c.quota < 0 else str(c.quota)
            out.append(Write("cpu", "cpu.max", f"{quota} {c.period or 100000}", f"{R}.cpu.quota"))
        if c.burst is not None:
            out.append(Write("cpu", "cpu.max.burst", str(c.burst), f"{R}.cpu.burst"))
        if c.idle is not None:
            out.append(Write("cpu", "cpu.idle", str(c.idle), f"{R}.cpu.idle"))
        if c.realtime_runtime or c.realtime_period:
            raise ConfigError([f"{R}.cpu.realtimeRuntime: real-time cpu limits do not exist in cgroup v2"])
    out += _cpuset_and_pids_writes(res)
    b = res.block_io
    if b is not None:
        if b.weight:
            out.append(Write("io", "io.weight", f"default {blkio_to_io_weight(b.weight)}", f"{R}.blockIO.weight"))
        for d in b.weight_device:
            if d.weight:
                out.append(Write("io", "io.weight", f"{d.major}:{d.minor} {blkio_to_io_weight(d.weight)}",
                                 f"{R}.blockIO.weightDevice"))
        for items, key, field in ((b.throttle_read_bps, "rbps", "throttleReadBpsDevice"),
                                  (b.throttle_write_bps, "wbps", "throttleWriteBpsDevice"),
                                  (b.throttle_read_iops, "riops", "throttleReadIOPSDevice"),
                                  (b.throttle_write_iops, "wiops", "throttleWriteIOPSDevice")):
            for d in items:
                out.append(Write("io", "io.max", f"{d.major}:{d.minor} {key}={d.rate or 'max'}",
                                 f"{R}.blockIO.{field}"))
    for h in res.hugepage_limits:
        out.append(Write("hugetlb", f"hugetlb.{h.page_size}.max", str(h.limit), f"{R}.hugepageLimits"))
    if res.network is not None and (res.network.class_id is not None or res.network.priorities):
        raise ConfigError([f"{R}.network: net_cls/net_prio exist only in cgroup v1"])
    out += _rdma_writes(res)
    for key, value in sorted(res.unified.items()):
        if "/" in key or key.startswith(".") or "." not in key:
            raise ConfigError([f"{R}.unified.{key}: not a cgroup v2 interface file name"])
        if key.startswith("cgroup."):
            raise ConfigError([f"{R}.unified.{key}: cgroup.* core files are managed by the runtime"])
        out.append(Write(key.split(".", 1)[0], key, value, f"{R}.unified.{key}"))
    return out


def _cpuset_and_pids_writes(res: Resources) -> list[Write]:
    """The same files, with the same values, on v1 and v2."""
    out = []
    c = res.cpu
    if c is not None and c.cpus:
        out.append(Write("cpuset", "cpuset.cpus", c.cpus, f"{R}.cpu.cpus"))
    if c is not None and c.mems:
        out.append(Write("cpuset", "cpuset.mems", c.mems, f"{R}.cpu.mems"))
    if res.pids_limit is not None:
        out.append(Write("pids", "pids.max", "max" if res.pids_limit <= 0 else str(res.pids_limit),
                         f"{R}.pids.limit"))
    return out


def _rdma_writes(res: Resources) -> list[Write]:
    out = []
    for dev, r in sorted(res.rdma.items()):
        parts = []
        if r.hca_handles is not None:
            parts.append(f"hca_handle={r.hca_handles}")
        if r.hca_objects is not None:
            parts.append(f"hca_object={r.hca_objects}")
        if parts:
            out.append(Write("rdma", "rdma.max", f"{dev} {' '.join(parts)}", f"{R}.rdma.{dev}"))
    return out


def write_problems(res: Resources, layout) -> list[str]:
    """What the writes for this host's hierarchies would refuse in ``res``, asked while
    planning, before any cgroup exists (a refusal in apply() came after the mkdirs): the
    values, and on v1 a controller that is not mounted."""
    from pyruntime.cgroups.layout import V2
    try:
        writes = (v2_writes if layout.kind == V2 else v1_writes)(res)
    except ConfigError as exc:
        return exc.lines
    if layout.kind == V2:
        return []  # which controllers a v2 cgroup gets is read from it, at apply()
    missing = {}
    for w in writes:
        if w.controller not in layout.v1:
            missing.setdefault(w.field, w.controller)
    return [f"{field}: the {controller} controller is not mounted on this host"
            for field, controller in missing.items()]
