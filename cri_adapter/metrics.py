"""CRI metrics (ListMetricDescriptors, ListPodSandboxMetrics): cadvisor's container_* metrics, which
kubelet serves on /metrics/cadvisor when it takes pod and container stats from the runtime.

The descriptors are fixed; each container's values come from the runtime's `events --stats`
(runc's format, the same source as ContainerStats), its processes' /proc entries, its
writable layer's filesystem and its resources. CRI carries a value as a uint64, so
seconds are whole seconds (as other runtimes send them). The labels are CRI-O's: the
container's id, name and image, and what a metric adds (interface, device, failure type).
Not sent, as containerd sends none of them either: hugetlb usage, pressure (PSI) times,
the CPU quota and memory reservation, soft ulimits (critest names these "not yet
implemented by all runtimes").
"""
from __future__ import annotations

import dataclasses
import os

from ._proto import cri_pb2 as pb

BASE = ("id", "name", "image")
COUNTER, GAUGE = pb.COUNTER, pb.GAUGE

# name: (help, type, labels after BASE)
DESCRIPTORS: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "container_cpu_usage_seconds_total": ("Cumulative CPU time consumed in seconds.", COUNTER, ("cpu",)),
    "container_cpu_user_seconds_total": ("Cumulative user CPU time consumed in seconds.", COUNTER, ()),
    "container_cpu_system_seconds_total": ("Cumulative system CPU time consumed in seconds.", COUNTER, ()),
    "container_cpu_cfs_periods_total": ("Number of elapsed enforcement period intervals.", COUNTER, ()),
    "container_cpu_cfs_throttled_periods_total": ("Number of throttled period intervals.", COUNTER, ()),
    "container_cpu_cfs_throttled_seconds_total": ("Total time duration the container has been throttled.",
                                                  COUNTER, ()),
    "container_memory_cache": ("Number of bytes of page cache memory.", GAUGE, ()),
    "container_memory_rss": ("Size of RSS in bytes.", GAUGE, ()),
    "container_memory_kernel_usage": ("Size of kernel memory allocated in bytes.", GAUGE, ()),
    "container_memory_mapped_file": ("Size of memory mapped files in bytes.", GAUGE, ()),
    "container_memory_swap": ("Container swap usage in bytes.", GAUGE, ()),
    "container_memory_failcnt": ("Number of memory usage hits limits.", COUNTER, ()),
    "container_memory_usage_bytes": ("Current memory usage in bytes, including all memory regardless of "
                                     "when it was accessed.", GAUGE, ()),
    "container_memory_max_usage_bytes": ("Maximum memory usage recorded in bytes.", GAUGE, ()),
    "container_memory_working_set_bytes": ("Current working set in bytes.", GAUGE, ()),
    "container_memory_failures_total": ("Cumulative count of memory allocation failures.", COUNTER,
                                        ("failure_type", "scope")),
    "container_oom_events_total": ("Count of out of memory events observed for the container.", COUNTER, ()),
    "container_network_receive_bytes_total": ("Cumulative count of bytes received.", COUNTER, ("interface",)),
    "container_network_receive_packets_total": ("Cumulative count of packets received.", COUNTER, ("interface",)),
    "container_network_receive_packets_dropped_total": ("Cumulative count of packets dropped while receiving.",
                                                        COUNTER, ("interface",)),
    "container_network_receive_errors_total": ("Cumulative count of errors encountered while receiving.",
                                               COUNTER, ("interface",)),
    "container_network_transmit_bytes_total": ("Cumulative count of bytes transmitted.", COUNTER, ("interface",)),
    "container_network_transmit_packets_total": ("Cumulative count of packets transmitted.", COUNTER,
                                                 ("interface",)),
    "container_network_transmit_packets_dropped_total": ("Cumulative count of packets dropped while "
                                                         "transmitting.", COUNTER, ("interface",)),
    "container_network_transmit_errors_total": ("Cumulative count of errors encountered while transmitting.",
                                                COUNTER, ("interface",)),
    "container_fs_usage_bytes": ("Number of bytes that are consumed by the container on this filesystem.",
                                 GAUGE, ("device",)),
    "container_fs_limit_bytes": ("Number of bytes that can be consumed by the container on this filesystem.",
                                 GAUGE, ("device",)),
    "container_fs_inodes_total": ("Number of Inodes.", GAUGE, ("device",)),
    "container_fs_inodes_free": ("Number of available Inodes.", GAUGE, ("device",)),
    "container_fs_reads_bytes_total": ("Cumulative count of bytes read.", COUNTER, ("device",)),
    "container_fs_writes_bytes_total": ("Cumulative count of bytes written.", COUNTER, ("device",)),
    "container_fs_reads_total": ("Cumulative count of reads completed.", COUNTER, ("device",)),
    "container_fs_writes_total": ("Cumulative count of writes completed.", COUNTER, ("device",)),
    "container_blkio_device_usage_total": ("Blkio device bytes usage.", COUNTER,
                                           ("device", "major", "minor", "operation")),
    "container_processes": ("Number of processes running inside the container.", GAUGE, ()),
    "container_threads": ("Number of threads running inside the container.", GAUGE, ()),
    "container_threads_max": ("Maximum number of threads allowed inside the container, 0 if unlimited.",
                              GAUGE, ()),
    "container_file_descriptors": ("Number of open file descriptors for the container.", GAUGE, ()),
    "container_sockets": ("Number of open sockets for the container.", GAUGE, ()),
    "container_spec_cpu_period": ("CPU period of the container.", GAUGE, ()),
    "container_spec_cpu_shares": ("CPU share of the container.", GAUGE, ()),
    "container_spec_memory_limit_bytes": ("Memory limit for the container.", GAUGE, ()),
    "container_spec_memory_swap_limit_bytes": ("Memory swap limit for the container.", GAUGE, ()),
    "container_start_time_seconds": ("Start time of the container since unix epoch in seconds.", GAUGE, ()),
    "container_last_seen": ("Last time a container was seen by the exporter.", GAUGE, ()),
}


def descriptors() -> list[pb.MetricDescriptor]:
    return [pb.MetricDescriptor(name=name, help=text, label_keys=list(BASE + extra))
            for name, (text, _, extra) in DESCRIPTORS.items()]


@dataclasses.dataclass(frozen=True)
class Facts:
    """What one container's metrics are made of, gathered before (see ``gather``)."""
    labels: tuple[str, str, str]  # id, name, image
    now_ns: int
    started_ns: int
    stats: dict              # the runtime's `events --stats` data (runc's format); {} when not running
    resources: "pb.LinuxContainerResources"
    processes: int = 0
    file_descriptors: int = 0
    sockets: int = 0
    oom_events: int = 0
    fs_device: str = ""
    fs_used: int = 0
    fs_limit: int = 0
    fs_inodes: int = 0
    fs_inodes_free: int = 0


def container_metrics(f: Facts) -> list[pb.Metric]:
    out: list[pb.Metric] = []

    def add(name: str, value, *extra: str) -> None:
        out.append(pb.Metric(name=name, timestamp=f.now_ns, metric_type=DESCRIPTORS[name][1],
                             label_values=[*f.labels, *extra], value=pb.UInt64Value(value=max(int(value or 0), 0))))

    cpu = f.stats.get("cpu") or {}
    usage, throttling = cpu.get("usage") or {}, cpu.get("throttling") or {}
    add("container_cpu_usage_seconds_total", usage.get("total", 0) // 10**9, "total")
    add("container_cpu_user_seconds_total", usage.get("user", 0) // 10**9)
    add("container_cpu_system_seconds_total", usage.get("kernel", 0) // 10**9)
    add("container_cpu_cfs_periods_total", throttling.get("periods"))
    add("container_cpu_cfs_throttled_periods_total", throttling.get("throttled_periods"))
    add("container_cpu_cfs_throttled_seconds_total", throttling.get("throttled_time", 0) // 10**9)
    memory = f.stats.get("memory") or {}
    raw, used = memory.get("raw") or {}, memory.get("usage") or {}
    v1 = "total_rss" in raw  # cgroup v1's memory.stat (v2's has "anon")
    current = used.get("usage", 0)
    inactive = raw.get("total_inactive_file" if v1 else "inactive_file", 0)
    add("container_memory_cache", memory.get("cache"))
    add("container_memory_rss", raw.get("total_rss" if v1 else "anon"))
    add("container_memory_kernel_usage", (memory.get("kernel") or {}).get("usage", 0) if v1 else raw.get("kernel"))
    add("container_memory_mapped_file", raw.get("total_mapped_file" if v1 else "file_mapped"))
    swap = (memory.get("swap") or {}).get("usage", 0)
    add("container_memory_swap", swap - current if v1 and swap else swap)  # v1's memsw counts memory too
    add("container_memory_failcnt", used.get("failcnt"))
    add("container_memory_usage_bytes", current)
    add("container_memory_max_usage_bytes", used.get("max"))
    add("container_memory_working_set_bytes", max(current - inactive, 0))
    for kind in ("pgfault", "pgmajfault"):  # v1: the cgroup's own, and with its children (total_)
        add("container_memory_failures_total", raw.get(kind), kind, "container")
        add("container_memory_failures_total", raw.get(f"total_{kind}" if v1 else kind), kind, "hierarchy")
    add("container_oom_events_total", f.oom_events)
    add("container_fs_usage_bytes", f.fs_used, f.fs_device)
    add("container_fs_limit_bytes", f.fs_limit, f.fs_device)
    add("container_fs_inodes_total", f.fs_inodes, f.fs_device)
    add("container_fs_inodes_free", f.fs_inodes_free, f.fs_device)
    for entry in (f.stats.get("blkio") or {}).get("ioServiceBytesRecursive") or ():
        device = f"{entry.get('major')}:{entry.get('minor')}"
        op = str(entry.get("op", ""))
        add("container_blkio_device_usage_total", entry.get("value"), device, str(entry.get("major")),
            str(entry.get("minor")), op)
        if op in ("Read", "Write"):
            add(f"container_fs_{op.lower()}s_bytes_total", entry.get("value"), device)
    for entry in (f.stats.get("blkio") or {}).get("ioServicedRecursive") or ():
        if entry.get("op") in ("Read", "Write"):
            add(f"container_fs_{entry['op'].lower()}s_total", entry.get("value"),
                f"{entry.get('major')}:{entry.get('minor')}")
    pids = f.stats.get("pids") or {}
    add("container_processes", f.processes)
    add("container_threads", pids.get("current"))
    add("container_threads_max", pids.get("limit"))
    add("container_file_descriptors", f.file_descriptors)
    add("container_sockets", f.sockets)
    add("container_spec_cpu_period", f.resources.cpu_period)
    add("container_spec_cpu_shares", f.resources.cpu_shares)
    add("container_spec_memory_limit_bytes", f.resources.memory_limit_in_bytes)
    add("container_spec_memory_swap_limit_bytes", f.resources.memory_swap_limit_in_bytes)
    add("container_start_time_seconds", f.started_ns // 10**9)
    add("container_last_seen", f.now_ns // 10**9)
    return out


def network_metrics(labels: tuple[str, str, str], now_ns: int, net_dev: str) -> list[pb.Metric]:
    """A pod's network counters (its namespace's /proc/net/dev), for every interface but lo."""
    names = ("receive_bytes", "receive_packets", "receive_errors", "receive_packets_dropped", None, None, None,
             None, "transmit_bytes", "transmit_packets", "transmit_errors", "transmit_packets_dropped")
    out = []
    for line in net_dev.splitlines()[2:]:
        interface, _, fields = line.partition(":")
        interface = interface.strip()
        if interface == "lo" or not fields:
            continue
        for name, value in zip(names, fields.split()):
            if name:
                metric = f"container_network_{name}_total"
                out.append(pb.Metric(name=metric, timestamp=now_ns, metric_type=DESCRIPTORS[metric][1],
                                     label_values=[*labels, interface], value=pb.UInt64Value(value=int(value))))
    return out


# gathering the facts (reads /proc, /sys and the container's writable layer) -------------------------------

def processes_of(cgroup_procs: str) -> tuple[int, int, int]:
    """(processes, open descriptors, sockets) of the pids listed in a cgroup.procs file."""
    try:
        with open(cgroup_procs) as f:
            pids = f.read().split()
    except OSError:
        return 0, 0, 0
    fds = sockets = 0
    for pid in pids:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone since
        fds += len(names)
        for name in names:
            try:
                sockets += os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:")
            except OSError:
                pass
    return len(pids), fds, sockets
