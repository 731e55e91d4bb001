"""pyruntime update [flags | --resources FILE|-] ID: change a live container's limits.

The flags are runc's; --resources takes the LinuxResources JSON document that
containerd sends (``-`` reads stdin). The new values are also stored, so the
state reflects what the container runs with.
"""
from __future__ import annotations

import sys

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import Flag, need_args, parse
from pyruntime.errors import UsageError

FLAGS = (
    Flag(("resources", "r"), "str", "", "LinuxResources JSON file, or - for stdin"),
    Flag(("memory",), "str", "", "memory limit (bytes, or with k/m/g suffix)"),
    Flag(("memory-swap",), "str", "", "memory+swap limit"),
    Flag(("memory-reservation",), "str", "", "memory soft limit"),
    Flag(("kernel-memory",), "str", "", "kernel memory limit (cgroup v1)"),
    Flag(("kernel-memory-tcp",), "str", "", "kernel TCP buffer limit (cgroup v1)"),
    Flag(("cpu-shares",), "str", "", "CPU shares (relative weight)"),
    Flag(("cpu-quota",), "str", "", "CFS quota in microseconds"),
    Flag(("cpu-period",), "str", "", "CFS period in microseconds"),
    Flag(("cpu-burst",), "str", "", "CFS burst in microseconds"),
    Flag(("cpu-rt-period",), "str", "", "real-time period in microseconds"),
    Flag(("cpu-rt-runtime",), "str", "", "real-time runtime in microseconds"),
    Flag(("cpuset-cpus",), "str", "", "CPUs allowed (0-3,5)"),
    Flag(("cpuset-mems",), "str", "", "memory nodes allowed"),
    Flag(("pids-limit",), "str", "", "maximum number of processes"),
    Flag(("blkio-weight",), "str", "", "block IO weight (10-1000)"),
    Flag(("l3-cache-schema",), "str", "", "Intel RDT L3 cache schema line (L3:...)"),
    Flag(("mem-bw-schema",), "str", "", "Intel RDT memory bandwidth schema line (MB:...)"),
)

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# flag -> (section, JSON field, value is a size)
FIELDS = {
    "memory": ("memory", "limit", True), "memory_swap": ("memory", "swap", True),
    "memory_reservation": ("memory", "reservation", True), "kernel_memory": ("memory", "kernel", True),
    "kernel_memory_tcp": ("memory", "kernelTCP", True), "cpu_shares": ("cpu", "shares", False),
    "cpu_quota": ("cpu", "quota", False), "cpu_period": ("cpu", "period", False),
    "cpu_burst": ("cpu", "burst", False), "cpu_rt_period": ("cpu", "realtimePeriod", False),
    "cpu_rt_runtime": ("cpu", "realtimeRuntime", False), "pids_limit": ("pids", "limit", False),
    "blkio_weight": ("blockIO", "weight", False),
}


def number(flag: str, text: str, size: bool) -> int:
    raw = text.strip().lower()
    if raw == "-1":
        return -1
    unit = raw[-1] if size and raw and raw[-1] in UNITS and not raw[-1].isdigit() else ""
    digits = raw[:-1] if unit else raw
    if digits.endswith("i"):
        digits = digits[:-1]
    try:
        return int(digits) * UNITS[unit]
    except ValueError:
        raise UsageError(f"--{flag.replace('_', '-')}: invalid value {text!r}") from None


def document_from_flags(opts: dict) -> dict:
    doc: dict = {}
    for key, (section, field, size) in FIELDS.items():
        if opts[key]:
            doc.setdefault(section, {})[field] = number(key, opts[key], size)
    for key, field in (("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        if opts[key]:
            doc.setdefault("cpu", {})[field] = opts[key]
    return doc


def read_document(source: str) -> dict:
    from pyruntime.startup import fastjson
    from pyruntime.errors import ConfigError
    from pyruntime.model import read_json
    if source == "-":
        try:
            return fastjson.loads(sys.stdin.buffer.read())
        except ValueError as exc:
            raise ConfigError([f"invalid JSON ({exc})"], "resources") from None
    return read_json(source, "resources")


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.update import update
    opts, args = parse(FLAGS, argv, verb)
    need_args(args, 1, "update <container-id>")
    doc = read_document(opts["resources"]) if opts["resources"] else document_from_flags(opts)
    rdt = {k: opts[o] for k, o in (("l3CacheSchema", "l3_cache_schema"), ("memBwSchema", "mem_bw_schema"))
           if opts[o]}
    c = open_container(ctx, args[0])
    try:
        update(c, doc, rdt)
    finally:
        c.dir.close()
    return 0
