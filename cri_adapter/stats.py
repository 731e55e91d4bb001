"""Container and pod statistics, from the runtime's `events --stats` (runc's format)."""
from __future__ import annotations

import time

from . import rootfs
from ._proto import cri_pb2 as pb
from .errors import CRIError
from .records import decode


def _u64(value) -> pb.UInt64Value:
    return pb.UInt64Value(value=max(int(value or 0), 0))


async def _raw(adapter, record: dict) -> dict:
    try:
        return await adapter.runtime(record["handler"]).stats(record["id"])
    except CRIError:
        return {}  # not running: no cgroup to read


def _usage(data: dict, now: int) -> tuple[pb.CpuUsage, pb.MemoryUsage]:
    cpu = (data.get("cpu") or {}).get("usage") or {}
    memory = data.get("memory") or {}
    usage = (memory.get("usage") or {}).get("usage", 0)
    raw = memory.get("raw") or {}
    inactive = raw.get("total_inactive_file", raw.get("inactive_file", 0))
    return (pb.CpuUsage(timestamp=now, usage_core_nano_seconds=_u64(cpu.get("total"))),
            pb.MemoryUsage(timestamp=now, working_set_bytes=_u64(max(usage - inactive, 0)), usage_bytes=_u64(usage),
                           rss_bytes=_u64(raw.get("total_rss", raw.get("anon", 0))),
                           page_faults=_u64(raw.get("total_pgfault", raw.get("pgfault", 0))),
                           major_page_faults=_u64(raw.get("total_pgmajfault", raw.get("pgmajfault", 0)))))


async def container(adapter, record: dict) -> pb.ContainerStats:
    now = time.time_ns()
    config = decode(pb.ContainerConfig, record["config"])
    cpu, memory = _usage(await _raw(adapter, record), now)
    upper = adapter.containers.path(record["id"]) + "/upper"
    used, inodes = rootfs.usage(upper)
    return pb.ContainerStats(
        attributes=pb.ContainerAttributes(id=record["id"], metadata=config.metadata, labels=record["labels"],
                                          annotations=record["annotations"]),
        cpu=cpu, memory=memory,
        writable_layer=pb.FilesystemUsage(timestamp=now, fs_id=pb.FilesystemIdentifier(mountpoint=upper),
                                          used_bytes=_u64(used), inodes_used=_u64(inodes)))


async def pod(adapter, record: dict) -> pb.PodSandboxStats:
    now = time.time_ns()
    config = decode(pb.PodSandboxConfig, record["config"])
    members = [c for c in adapter.containers.items.values() if c["pod_id"] == record["id"]]
    stats = [await container(adapter, c) for c in members]
    total_cpu = sum(s.cpu.usage_core_nano_seconds.value for s in stats)
    total_ws = sum(s.memory.working_set_bytes.value for s in stats)
    total_usage = sum(s.memory.usage_bytes.value for s in stats)
    return pb.PodSandboxStats(
        attributes=pb.PodSandboxAttributes(id=record["id"], metadata=config.metadata, labels=record["labels"],
                                           annotations=record["annotations"]),
        linux=pb.LinuxPodSandboxStats(
            cpu=pb.CpuUsage(timestamp=now, usage_core_nano_seconds=_u64(total_cpu)),
            memory=pb.MemoryUsage(timestamp=now, working_set_bytes=_u64(total_ws), usage_bytes=_u64(total_usage)),
            containers=stats))
