"""The device cgroup: which device nodes the container may open or create.

The rule list is the config's ``linux.resources.devices`` in order, then the
devices every container needs (runc's AllowedDevices), then an allow rule
for each ``linux.devices`` node. On v1 it becomes devices.allow/deny writes;
on v2 an eBPF program (``devices_bpf``) that evaluates the same list.
"""
from __future__ import annotations

from pyruntime.model.config import Device
from pyruntime.model.resources import DeviceRule

# Needed by every container: mknod of anything (access is checked on open),
# the standard /dev nodes, the console and any pty.
DEFAULT_ALLOWED = (
    DeviceRule(True, "c", None, None, "m"),
    DeviceRule(True, "b", None, None, "m"),
    DeviceRule(True, "c", 1, 3, "rwm"),     # /dev/null
    DeviceRule(True, "c", 1, 8, "rwm"),     # /dev/random
    DeviceRule(True, "c", 1, 7, "rwm"),     # /dev/full
    DeviceRule(True, "c", 5, 0, "rwm"),     # /dev/tty
    DeviceRule(True, "c", 1, 5, "rwm"),     # /dev/zero
    DeviceRule(True, "c", 1, 9, "rwm"),     # /dev/urandom
    DeviceRule(True, "c", 5, 1, "rwm"),     # /dev/console
    DeviceRule(True, "c", 136, None, "rwm"),  # /dev/pts/*
    DeviceRule(True, "c", 5, 2, "rwm"),     # /dev/ptmx
)


def every_container(nodes: tuple[Device, ...] = ()) -> tuple[DeviceRule, ...]:
    """The rules that follow whatever a config (or an update) sets: the defaults, then the
    container's ``linux.devices`` nodes."""
    return DEFAULT_ALLOWED + tuple(DeviceRule(True, d.type if d.type != "u" else "c", d.major, d.minor, "rwm")
                                   for d in nodes if d.type != "p")


def effective_rules(configured: tuple[DeviceRule, ...], nodes: tuple[Device, ...] = ()) -> tuple[DeviceRule, ...]:
    """The full ordered rule list for a container."""
    return tuple(configured) + every_container(nodes)


def rule_line(rule: DeviceRule) -> str:
    """'c 1:3 rwm' as the v1 devices.allow/deny files take it."""
    if rule.type == "a":
        return "a *:* rwm"
    major = "*" if rule.major is None or rule.major < 0 else str(rule.major)
    minor = "*" if rule.minor is None or rule.minor < 0 else str(rule.minor)
    return f"{rule.type} {major}:{minor} {rule.access}"


def v1_lines(rules: tuple[DeviceRule, ...]) -> list[tuple[str, str]]:
    """(file, line) pairs in order."""
    return [("devices.allow" if r.allow else "devices.deny", rule_line(r)) for r in rules]


def attach_v2_filter(cgroup_dir: str, rules: tuple[DeviceRule, ...]) -> None:
    from pyruntime.cgroups.devices_bpf import attach
    attach(cgroup_dir, rules)
