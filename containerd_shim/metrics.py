"""A container's cgroup statistics (pyruntime's, in runc's shape) as containerd's Metrics: the v1
message on a v1 or hybrid host, the v2 one on a unified host, as containerd itself decides."""
from __future__ import annotations

from . import wire

V1_MEMORY_RAW = [name for name, (_, kind, _) in wire.V1MemoryStat.FIELDS.items() if isinstance(kind, str)]
V2_MEMORY_RAW = list(wire.V2_MEMORY_COUNTERS)
U64 = (1 << 64) - 1
# the message's names of memory.stat keys it spells differently (with total_ too)
MEMORY_STAT_KEYS = {"pg_pg_in": "pgpgin", "pg_pg_out": "pgpgout", "pg_fault": "pgfault", "pg_maj_fault": "pgmajfault"}


def _memory_stat_key(name: str) -> str:
    total, base = ("total_", name[6:]) if name.startswith("total_") else ("", name)
    return total + MEMORY_STAT_KEYS.get(base, base)


def _u64(value) -> int:
    return min(max(int(value or 0), 0), U64)


def _entry(d: dict) -> wire.V1MemoryEntry:
    return wire.V1MemoryEntry(limit=_u64(d.get("limit")), usage=_u64(d.get("usage")), max=_u64(d.get("max")),
                              failcnt=_u64(d.get("failcnt")))


def to_v1(stats: dict) -> wire.V1Metrics:
    cpu, memory, pids = stats.get("cpu") or {}, stats.get("memory") or {}, stats.get("pids") or {}
    usage, throttling = cpu.get("usage") or {}, cpu.get("throttling") or {}
    raw = memory.get("raw") or {}
    return wire.V1Metrics(
        pids=wire.V1PidsStat(current=_u64(pids.get("current")), limit=_u64(pids.get("limit"))),
        cpu=wire.V1CPUStat(
            usage=wire.V1CPUUsage(total=_u64(usage.get("total")), kernel=_u64(usage.get("kernel")),
                                  user=_u64(usage.get("user")),
                                  per_cpu=[_u64(x) for x in usage.get("percpu") or ()]),
            throttling=wire.V1Throttle(periods=_u64(throttling.get("periods")),
                                       throttled_periods=_u64(throttling.get("throttled_periods")),
                                       throttled_time=_u64(throttling.get("throttled_time")))),
        memory=wire.V1MemoryStat(**{name: _u64(raw.get(_memory_stat_key(name))) for name in V1_MEMORY_RAW},
                                 usage=_entry(memory.get("usage") or {}), swap=_entry(memory.get("swap") or {}),
                                 kernel=_entry(memory.get("kernel") or {}),
                                 kernel_tcp=_entry(memory.get("kernelTCP") or {})))

def to_v2(stats: dict) -> wire.V2Metrics:
    cpu, memory, pids = stats.get("cpu") or {}, stats.get("memory") or {}, stats.get("pids") or {}
    usage, throttling = cpu.get("usage") or {}, cpu.get("throttling") or {}
    raw, used, swap = memory.get("raw") or {}, memory.get("usage") or {}, memory.get("swap") or {}
    return wire.V2Metrics(
        pids=wire.V2PidsStat(current=_u64(pids.get("current")), limit=_u64(pids.get("limit"))),
        cpu=wire.V2CPUStat(usage_usec=_u64(usage.get("total")) // 1000, user_usec=_u64(usage.get("user")) // 1000,
                           system_usec=_u64(usage.get("kernel")) // 1000, nr_periods=_u64(throttling.get("periods")),
                           nr_throttled=_u64(throttling.get("throttled_periods")),
                           throttled_usec=_u64(throttling.get("throttled_time")) // 1000),
        memory=wire.V2MemoryStat(**{name: _u64(raw.get(name)) for name in V2_MEMORY_RAW},
                                 usage=_u64(used.get("usage")), usage_limit=_u64(used.get("limit")),
                                 swap_usage=_u64(swap.get("usage")), swap_limit=_u64(swap.get("limit"))))

def pack(stats: dict, unified: bool) -> wire.Any:
    return wire.pack(to_v2(stats) if unified else to_v1(stats))
