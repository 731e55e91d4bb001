"""pyruntime spec [--bundle DIR] [--rootless]: write a default config.json.

The same defaults as ``runc spec`` (a busybox-friendly sh in a new pid,
network, ipc, uts, mount and cgroup namespace), at our spec version.
"""
from __future__ import annotations

import json
import os

from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import PyruntimeError

FLAGS = (Flag(("bundle", "b"), "str", "", "where to write config.json"),
         Flag(("rootless",), "bool", False, "a spec for an unprivileged user"))

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec() -> dict:
    from pyruntime import SPEC_VERSION
    return {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "pyruntime",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def to_rootless(spec: dict, uid: int, gid: int) -> dict:
    """runc's ToRootless: a user namespace mapping the caller, no cgroup limits, sysfs bound."""
    linux = spec["linux"]
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] not in ("network", "user")]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    linux.pop("resources", None)
    mounts = []
    for m in spec["mounts"]:
        if m["destination"] == "/sys":
            m = {"destination": "/sys", "type": "none", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
        elif m["type"] == "cgroup":
            continue
        elif m["type"] == "devpts":
            m = dict(m, options=[o for o in m["options"] if not o.startswith("gid=")])
        mounts.append(m)
    spec["mounts"] = mounts
    return spec


def run(ctx, verb: str, argv: list[str]) -> int:
    opts, _ = parse(FLAGS, argv, verb)
    path = os.path.join(opts["bundle"] or ".", "config.json")
    if os.path.exists(path):
        raise PyruntimeError(f"File {path} exists. Remove it first")
    spec = default_spec()
    if opts["rootless"]:
        spec = to_rootless(spec, os.getuid(), os.getgid())
    with open(path, "w") as f:
        json.dump(spec, f, indent="\t")
    return 0
