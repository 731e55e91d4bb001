"""Container statistics from cgroup files, in the shape of runc's types.Stats.

containerd's shim and `events --stats` consumers parse these field names, so
they follow runc (libcontainer/cgroups stats -> types/events.go), v1 and v2.
"""
from __future__ import annotations

import os

from pyruntime.cgroups import fs

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ints(path: str) -> list[int]:
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def _entry(d: str, prefix: str) -> dict:
    # v1 limits as the files say (9223372036854771712 for none), like runc
    return {"limit": fs.read_int(f"{d}/{prefix}limit_in_bytes", 0),
            "usage": fs.read_int(f"{d}/{prefix}usage_in_bytes", 0),
            "max": fs.read_int(f"{d}/{prefix}max_usage_in_bytes", 0),
            "failcnt": fs.read_int(f"{d}/{prefix}failcnt", 0)}


def _limit(value: int) -> int:
    """A v2 limit: "max" (read as -1) is reported as the largest uint64, like runc."""
    return 2 ** 64 - 1 if value < 0 else value


def _page_sizes() -> list[str]:
    """Huge page sizes in the cgroup files' spelling: hugepages-2048kB -> 2MB."""
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    out = []
    for name in sorted(names):
        kb = int(name[len("hugepages-"):-len("kB")])
        out.append(f"{kb // 1024 // 1024}GB" if kb >= 1 << 20 else f"{kb // 1024}MB" if kb >= 1024 else f"{kb}KB")
    return out


def _hugetlb(d: str | None, v2: bool) -> dict:
    out = {}
    for size in _page_sizes() if d else ():
        if v2:
            out[size] = {"usage": fs.read_int(f"{d}/hugetlb.{size}.current", 0),
                         "failcnt": fs.read_keyed(f"{d}/hugetlb.{size}.events").get("max", 0)}
        else:
            out[size] = {"usage": fs.read_int(f"{d}/hugetlb.{size}.usage_in_bytes", 0),
                         "max": fs.read_int(f"{d}/hugetlb.{size}.max_usage_in_bytes", 0),
                         "failcnt": fs.read_int(f"{d}/hugetlb.{size}.failcnt", 0)}
    return out


def _with_runc_keys(stats: dict) -> dict:
    """runc's Stats always has these (intel_rdt is filled in by `events` for a container with
    linux.intelRdt; network_interfaces pyruntime does not collect)."""
    stats.setdefault("hugetlb", {})
    stats["intel_rdt"] = {}
    stats["network_interfaces"] = None
    return stats


def _usage_all(path: str) -> tuple[list[int], list[int]]:
    """cpuacct.usage_all: per-cpu user and system nanoseconds."""
    user, kernel = [], []
    try:
        with open(path) as f:
            next(f)  # "cpu user system"
            for line in f:
                _, u, k = line.split()
                user.append(int(u))
                kernel.append(int(k))
    except (OSError, StopIteration, ValueError):
        pass
    return kernel, user


CPUSET_FLAGS = ("cpu_exclusive", "mem_exclusive", "mem_hardwall", "memory_migrate", "memory_pressure",
                "memory_spread_page", "memory_spread_slab", "sched_load_balance", "sched_relax_domain_level")


def _blkio_v1(path: str) -> list[dict]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and ":" in parts[0]:
                    major, minor = parts[0].split(":")
                    out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
    except OSError:
        pass
    return out


def v1_stats(manager) -> dict:
    d = manager.dir_of
    stats: dict = {}
    cpuacct = d("cpuacct") or ""
    kernel, user = _usage_all(f"{cpuacct}/cpuacct.usage_all")
    usage = {"total": fs.read_int(f"{cpuacct}/cpuacct.usage", 0),
             "percpu": _ints(f"{cpuacct}/cpuacct.usage_percpu"),
             "percpu_kernel": kernel, "percpu_user": user}
    ticks = fs.read_keyed(f"{cpuacct}/cpuacct.stat")
    usage["kernel"] = ticks.get("system", 0) * 10 ** 9 // CLK_TCK
    usage["user"] = ticks.get("user", 0) * 10 ** 9 // CLK_TCK
    throttled = fs.read_keyed(f"{d('cpu') or ''}/cpu.stat")
    stats["cpu"] = {"usage": usage, "throttling": {
        "periods": throttled.get("nr_periods", 0), "throttled_periods": throttled.get("nr_throttled", 0),
        "throttled_time": throttled.get("throttled_time", 0)}}
    mem = d("memory")
    if mem:
        raw = fs.read_keyed(f"{mem}/memory.stat")
        stats["memory"] = {"cache": raw.get("cache", 0), "usage": _entry(mem, "memory."),
                           "swap": _entry(mem, "memory.memsw."), "kernel": _entry(mem, "memory.kmem."),
                           "kernelTCP": _entry(mem, "memory.kmem.tcp."), "raw": raw}
    pids = d("pids")
    if pids:
        stats["pids"] = {"current": fs.read_int(f"{pids}/pids.current", 0),
                         "limit": max(fs.read_int(f"{pids}/pids.max", 0), 0)}
    blk = d("blkio")
    if blk:
        stats["blkio"] = {
            "ioServiceBytesRecursive": _blkio_v1(f"{blk}/blkio.throttle.io_service_bytes_recursive"),
            "ioServicedRecursive": _blkio_v1(f"{blk}/blkio.throttle.io_serviced_recursive")}
    cpuset = d("cpuset")
    if cpuset:
        stats["cpuset"] = {"cpus": _cpu_list(fs.read(f"{cpuset}/cpuset.cpus")),
                           "mems": _cpu_list(fs.read(f"{cpuset}/cpuset.mems")),
                           **{flag: fs.read_int(f"{cpuset}/cpuset.{flag}", 0) for flag in CPUSET_FLAGS}}
    stats["hugetlb"] = _hugetlb(d("hugetlb"), v2=False)
    return _with_runc_keys(stats)


def _cpu_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if part:
            lo, _, hi = part.partition("-")
            out += range(int(lo), int(hi or lo) + 1)
    return out


def v2_stats(manager) -> dict:
    d = manager.main_dir()
    cpu = fs.read_keyed(f"{d}/cpu.stat")
    stats: dict = {"cpu": {
        "usage": {"total": cpu.get("usage_usec", 0) * 1000, "kernel": cpu.get("system_usec", 0) * 1000,
                  "user": cpu.get("user_usec", 0) * 1000},
        "throttling": {"periods": cpu.get("nr_periods", 0), "throttled_periods": cpu.get("nr_throttled", 0),
                       "throttled_time": cpu.get("throttled_usec", 0) * 1000}}}
    raw = fs.read_keyed(f"{d}/memory.stat")
    events = fs.read_keyed(f"{d}/memory.events")
    stats["memory"] = {
        "cache": raw.get("file", 0),
        "usage": {"limit": _limit(fs.read_int(f"{d}/memory.max", -1)), "usage": fs.read_int(f"{d}/memory.current", 0),
                  "max": fs.read_int(f"{d}/memory.peak", 0), "failcnt": events.get("max", 0)},
        "swap": {"limit": _limit(fs.read_int(f"{d}/memory.swap.max", -1)),
                 "usage": fs.read_int(f"{d}/memory.swap.current", 0), "failcnt": 0},
        "raw": raw}
    stats["pids"] = {"current": fs.read_int(f"{d}/pids.current", 0),
                     "limit": max(fs.read_int(f"{d}/pids.max", 0), 0)}
    io = []
    try:
        with open(f"{d}/io.stat") as f:
            for line in f:
                dev, *fields = line.split()
                major, minor = (int(x) for x in dev.split(":"))
                for kv in fields:
                    key, _, value = kv.partition("=")
                    op = {"rbytes": "Read", "wbytes": "Write"}.get(key)
                    if op:
                        io.append({"major": major, "minor": minor, "op": op, "value": int(value)})
    except OSError:
        pass
    stats["blkio"] = {"ioServiceBytesRecursive": io}
    stats["hugetlb"] = _hugetlb(d, v2=True)
    return _with_runc_keys(stats)


def oom_kills(manager) -> int:
    """How many OOM kills the container has had (v2 memory.events, v1 memory.oom_control)."""
    if manager.kind == "v2":
        return fs.read_keyed(f"{manager.main_dir()}/memory.events").get("oom_kill", 0)
    mem = manager.dir_of("memory")
    return fs.read_keyed(f"{mem}/memory.oom_control").get("oom_kill", 0) if mem else 0
