"""Container and pod statistics and metrics, from the runtime's `events --stats` (runc's format)."""
from __future__ import annotations

import os
import time

from . import metrics, rootfs
from .containers import RUNNING, resources, status
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


def _cgroup_file(record: dict, name: str, v1_controller: str) -> str:
    path = record.get("cgroups_path", "")
    v2 = f"/sys/fs/cgroup{path}/{name}"
    return v2 if os.path.exists(v2) else f"/sys/fs/cgroup/{v1_controller}{path}/{name}"


def _oom_events(record: dict) -> int:
    for path in (_cgroup_file(record, "memory.events", "memory"), _cgroup_file(record, "memory.oom_control", "memory")):
        try:
            with open(path) as f:
                return next((int(v) for k, _, v in (line.partition(" ") for line in f) if k == "oom_kill"), 0)
        except (OSError, ValueError):
            continue
    return 0


async def _container_facts(adapter, record: dict, now: int) -> metrics.Facts:
    config = decode(pb.ContainerConfig, record["config"])
    upper = adapter.containers.path(record["id"]) + "/upper"
    used, _ = rootfs.usage(upper)
    try:
        fs = os.statvfs(upper)
        device = os.stat(upper).st_dev
        fs_facts = dict(fs_device=f"{os.major(device)}:{os.minor(device)}", fs_limit=fs.f_blocks * fs.f_frsize,
                        fs_inodes=fs.f_files, fs_inodes_free=fs.f_ffree)
    except OSError:
        fs_facts = {}
    running = status(adapter, record)[0] == RUNNING and record.get("cgroups_path")
    processes, fds, sockets = metrics.processes_of(_cgroup_file(record, "cgroup.procs", "pids")) if running \
        else (0, 0, 0)
    return metrics.Facts(labels=(record["id"], config.metadata.name, record["image"]), now_ns=now,
                         started_ns=record.get("started_at") or 0, stats=await _raw(adapter, record) if running else {},
                         resources=resources(record, config), processes=processes, file_descriptors=fds,
                         sockets=sockets, oom_events=_oom_events(record) if running else 0, fs_used=used, **fs_facts)


async def pod_metrics(adapter, record: dict) -> pb.PodSandboxMetrics:
    now = time.time_ns()
    members = [c for c in adapter.containers.items.values() if c["pod_id"] == record["id"]]
    out = pb.PodSandboxMetrics(pod_sandbox_id=record["id"])
    net_dev = ""
    for c in members:
        facts = await _container_facts(adapter, c, now)
        out.container_metrics.append(pb.ContainerMetrics(container_id=c["id"],
                                                         metrics=metrics.container_metrics(facts)))
        if not net_dev and facts.processes and c.get("pid"):
            try:  # the pod's network namespace, as one of its processes sees it
                with open(f"/proc/{c['pid']}/net/dev") as f:
                    net_dev = f.read()
            except OSError:
                pass
    config = decode(pb.PodSandboxConfig, record["config"])
    out.metrics.extend(metrics.network_metrics((record["id"], config.metadata.name, adapter.config.sandbox_image),
                                               now, net_dev))
    return out
