"""The systemd driver's pure parts: the unit a cgroupsPath names, the plan's decision, and the unit
properties made from linux.resources (the values runc gives systemd for the same config)."""
from __future__ import annotations

import pytest

from pyruntime.cgroups import path as cgpath
from pyruntime.cgroups import systemd_props as sp
from pyruntime.cgroups.devices import DEFAULT_ALLOWED
from pyruntime.cgroups.layout import Layout
from pyruntime.cli.verb_spec import default_spec
from pyruntime.errors import ConfigError
from pyruntime.lifecycle.plan import CreateOptions, HostFacts, make_plan
from pyruntime.model import spec_from_dict
from pyruntime.model.parse import resources_document as resources

V2_HOST = Layout("v2", {}, "/sys/fs/cgroup")


@pytest.mark.parametrize("given,expected", [
    ("", ("system.slice", "pyruntime-c1.scope")),
    ("kubepods-besteffort-pod1.slice:cri-containerd:abc", ("kubepods-besteffort-pod1.slice", "cri-containerd-abc.scope")),
    (":pre:abc", ("system.slice", "pre-abc.scope")),
    ("system.slice::abc", ("system.slice", "abc.scope")),
])
def test_the_unit_a_cgroups_path_names(given, expected):
    assert cgpath.unit(given, "c1") == expected


@pytest.mark.parametrize("bad", ["a:b", "notaslice:p:n", "system.slice:p:", "system.slice:p:a/b", "a--b.slice:p:n"])
def test_what_is_not_a_unit_is_refused(bad):
    with pytest.raises(ConfigError):
        cgpath.unit(bad, "c1")


def plan(systemd_host: bool, cgroups_path: str = "s-x.slice:p:n"):
    doc = default_spec()
    doc["linux"]["cgroupsPath"] = cgroups_path
    return make_plan(spec_from_dict(doc), CreateOptions(id="c1", bundle="/b", systemd_cgroup=True, console_provided=True),
                     HostFacts(V2_HOST, 40, systemd=systemd_host))


def test_the_plan_asks_systemd_for_the_unit_only_on_a_systemd_host():
    with_systemd = plan(True)
    assert with_systemd.systemd_unit == ("s-x.slice", "p-n.scope")
    assert with_systemd.cgroup_path == "/s.slice/s-x.slice/p-n.scope"
    assert not with_systemd.cgroup_self_join  # the init is put in the unit by the parent, through systemd
    assert not any("systemd" in w for w in with_systemd.warnings)
    without = plan(False)
    assert without.systemd_unit is None and without.cgroup_self_join
    assert without.cgroup_path == "/s.slice/s-x.slice/p-n.scope"
    assert any("not booted with systemd" in w for w in without.warnings)


def props(doc: dict, v2: bool = True, version: int = 252) -> dict:
    return {name: value for name, (_, value) in sp.resource_properties(resources(doc), v2, version)}


def test_limits_as_runc_gives_them_to_systemd():
    doc = {"memory": {"limit": 1 << 30, "reservation": 1 << 29, "swap": 3 << 29},
           "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,5", "mems": "0"},
           "pids": {"limit": 100}, "blockIO": {"weight": 500}}
    assert props(doc) == {"MemoryMax": 1 << 30, "MemoryLow": 1 << 29, "MemorySwapMax": 1 << 29,
                          "CPUWeight": 39, "CPUQuotaPeriodUSec": 100000, "CPUQuotaPerSecUSec": 500000,
                          "AllowedCPUs": [0b00100111], "AllowedMemoryNodes": [1], "TasksMax": 100,
                          "IOWeight": 4950}
    assert props(doc, v2=False) == {"MemoryLimit": 1 << 30, "CPUShares": 1024, "CPUQuotaPeriodUSec": 100000,
                                    "CPUQuotaPerSecUSec": 500000, "TasksMax": 100, "BlockIOWeight": 500}
    # systemd before 244 has no AllowedCPUs, before 242 no CPUQuotaPeriodUSec
    assert "AllowedCPUs" not in props(doc, version=243) and "CPUQuotaPeriodUSec" not in props(doc, version=241)


def test_unlimited_values_and_quota_rounding():
    assert props({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}}) == {
        "MemoryMax": sp.UNLIMITED, "MemorySwapMax": sp.UNLIMITED, "TasksMax": sp.UNLIMITED}
    # systemd counts quota in 10 ms steps per second: 12345/100000 is rounded up to 130 ms
    assert props({"cpu": {"quota": 12345, "period": 100000}})["CPUQuotaPerSecUSec"] == 130000
    assert props({"cpu": {"quota": -1}})["CPUQuotaPerSecUSec"] == sp.UNLIMITED
    unified = props({"unified": {"memory.high": "max", "cpu.weight": "300", "cpu.max": "20000 50000",
                                 "memory.min": "junk"}})
    assert unified == {"MemoryHigh": sp.UNLIMITED, "CPUWeight": 300, "CPUQuotaPeriodUSec": 50000,
                       "CPUQuotaPerSecUSec": 400000}  # junk is left to the file write, which refuses it


def test_unit_properties_put_the_init_in_a_delegated_unit():
    got = dict(sp.unit_properties(None, True, 252, 4242, "a.slice", "pyruntime container x", {})[0])
    assert got["PIDs"] == ("au", [4242]) and got["Delegate"] == ("b", True) and got["Slice"] == ("s", "a.slice")
    assert got["DefaultDependencies"] == ("b", False) and got["IOAccounting"] == ("b", True)
    assert "PIDs" not in dict(sp.unit_properties(None, True, 252, 0, "", "a slice unit", {})[0])


GROUPS = sp.device_groups("Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n")


def rules(doc: list) -> tuple:
    return resources({"devices": doc}).devices


def test_device_rules_become_an_allow_list():
    got, warnings = sp.device_properties(rules([{"allow": False, "access": "rwm"}]) + DEFAULT_ALLOWED, GROUPS)
    assert dict(got)["DevicePolicy"] == ("s", "strict") and not warnings
    allowed = dict(dict(got)["DeviceAllow"][1])
    assert allowed["char-*"] == "m" and allowed["block-*"] == "m"
    assert allowed["/dev/char/1:3"] == "rwm" and allowed["char-pts"] == "rwm"
    # a later deny takes access away from what was allowed
    got, _ = sp.device_properties(rules([{"allow": False, "access": "rwm"},
                                         {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                                         {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]),
                                  GROUPS)
    assert dict(got)["DeviceAllow"] == ("a(ss)", [("/dev/char/1:3", "rm")])


def test_allow_all_and_what_systemd_cannot_say():
    assert sp.device_properties(rules([{"allow": True, "access": "rwm"}]), GROUPS) == (
        [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))], [])
    got, warnings = sp.device_properties(rules([{"allow": True, "access": "rwm"},
                                                {"allow": False, "type": "c", "major": 1, "minor": 1}]), GROUPS)
    assert dict(got)["DeviceAllow"] == ("a(ss)", []) and "deny-list" in warnings[0]
    got, warnings = sp.device_properties(rules([{"allow": True, "type": "c", "major": 99, "access": "r"},
                                                {"allow": True, "type": "c", "minor": 3, "access": "r"}]), GROUPS)
    assert dict(got)["DeviceAllow"] == ("a(ss)", []) and len(warnings) == 2
