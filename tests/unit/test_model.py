"""The spec model: schema, semantic checks and parsing (pure: no root, no kernel)."""
from __future__ import annotations

import copy

import pytest

from pyruntime.errors import ConfigError
from pyruntime.model import spec_from_dict
from pyruntime.model.names import capability_number, parse_signal

BASE = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/"},
    "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]},
}


def spec(**changes):
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        node = doc
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


def problems(doc) -> list[str]:
    with pytest.raises(ConfigError) as info:
        spec_from_dict(doc)
    return info.value.problems


def test_minimal_config_parses_to_frozen_model():
    s = spec_from_dict(spec())
    assert s.process.args == ("sh",) and s.root.path == "rootfs"
    assert [n.type for n in s.linux.namespaces] == ["mount", "pid"]
    with pytest.raises(Exception):
        s.process.cwd = "/tmp"  # frozen


def test_wrong_type_names_path_and_value():
    assert problems(spec(linux__resources={"memory": {"limit": "64M"}})) == [
        'config.json: linux.resources.memory.limit: expected an integer, got string "64M"']


def test_out_of_range():
    assert problems(spec(process__user={"uid": -1})) == [
        "config.json: process.user.uid: must be at least 0, got -1"]


def test_nested_array_path():
    doc = spec(mounts=[{"destination": "/a"}, {"destination": 3}])
    assert problems(doc) == ["config.json: mounts[1].destination: expected a string, got integer 3"]


def test_semantic_rules():
    doc = spec(process__cwd="rel", linux__sysctl={"net.ipv4.ip_forward": "1", "vm.swappiness": "1"},
               linux__uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}])
    assert problems(doc) == [
        "config.json: process.cwd: must be an absolute path, got 'rel'",
        "config.json: linux.uidMappings: id mappings are given but no user namespace is created",
        "config.json: linux.sysctl.net.ipv4.ip_forward: needs a network namespace (the host's would change)",
        "config.json: linux.sysctl.vm.swappiness: not namespaced; setting it would change the host",
    ]


def test_sections_parse_lazily_but_fully():
    doc = spec(linux__resources={"memory": {"limit": 1 << 20, "swap": 1 << 21}, "pids": {"limit": 5},
                                 "devices": [{"allow": False, "access": "rwm"}]},
               linux__seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]},
               process__ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 4})
    s = spec_from_dict(doc)
    assert s.linux.resources.memory.limit == 1 << 20 and s.linux.resources.pids_limit == 5
    assert s.linux.resources.devices[0].allow is False and s.linux.resources.devices[0].type == "a"
    assert s.linux.seccomp.syscalls[0].errno_ret == 38
    assert s.process.io_priority.io_class == "IOPRIO_CLASS_BE"


def test_capability_and_signal_names():
    assert capability_number("CAP_SYS_ADMIN") == 21 == capability_number("sys_admin")
    assert capability_number("CAP_NOPE") is None
    assert [parse_signal(s) for s in ("9", "KILL", "SIGKILL", "sigterm", "RTMIN+2", "0", "BOGUS")] == [
        9, 9, 9, 15, 36, None, None]
