"""linux.intelRdt: runtime-spec's rules as a plan, schemata comparison, and the file protocol.

This VM's CPU has no RDT, so the kernel's resctrl cannot be mounted here (nor
in the qemu guest: TCG does not emulate it). The container-level test
(tests/integration/test_process.py::test_intel_rdt) checks the real thing on
a host that has it and the spec's error on one that does not; the last tests
here check only what pyruntime writes where, against a plain directory laid
out as resctrl is.
"""
from __future__ import annotations

import os

import pytest

from pyruntime import resctrl
from pyruntime.errors import ConfigError, PyruntimeError
from pyruntime.model.tuning import IntelRdt


def test_no_closid_means_a_group_named_after_the_container():
    p = resctrl.plan(IntelRdt(l3_cache_schema="L3:0=ff", mem_bw_schema="MB:0=50",
                              schemata=("L2:0=f",)), "c1")
    assert (p.group, p.may_create, p.must_match, p.removable) == ("c1", True, False, True)
    assert p.schemata == ("L3:0=ff", "MB:0=50", "L2:0=f")  # l3, then mb, then schemata


def test_closid_rules():
    pre = resctrl.plan(IntelRdt(clos_id="gold"), "c1")
    assert (pre.group, pre.may_create, pre.must_match, pre.removable) == ("gold", False, False, False)
    shaped = resctrl.plan(IntelRdt(clos_id="gold", l3_cache_schema="L3:0=f"), "c1")
    assert (shaped.may_create, shaped.must_match, shaped.removable) == (True, True, False)
    assert resctrl.plan(IntelRdt(clos_id="/"), "c1").group == ""  # the default CLOS: the root
    assert resctrl.plan(IntelRdt(enable_monitoring=True), "c1").monitor == "c1"


@pytest.mark.parametrize("rdt, message", [
    (IntelRdt(mem_bw_schema="L3:0=f"), "linux.intelRdt.memBwSchema: must start with 'MB:'"),
    (IntelRdt(l3_cache_schema="L3:0=f\nMB:0=1"), "linux.intelRdt.l3CacheSchema: must be one line"),
    (IntelRdt(schemata=("L3:0=f", "MB:0=1\n")), "linux.intelRdt.schemata[1]: must be one line"),
    (IntelRdt(clos_id="a/b"), "linux.intelRdt.closID: 'a/b' is not a resctrl group name"),
    (IntelRdt(clos_id="info"), "linux.intelRdt.closID: 'info' is not a resctrl group name"),
    (IntelRdt(schemata=("L3:0=f;1",)), "linux.intelRdt.schemata[0]: '1': expected DOMAIN=VALUE"),
    (IntelRdt(l3_cache_schema="L3:0=zz"), "linux.intelRdt.l3CacheSchema: invalid literal"),
])
def test_bad_fields_are_named(rdt, message):
    with pytest.raises(ConfigError) as err:
        resctrl.plan(rdt, "c1")
    assert str(err.value).startswith(f"config.json: {message}")


def test_schemata_compare_as_numbers():
    kernel = "    L3:0=00ff;1=0ff0\n    MB:0=100;1= 50\n"
    assert resctrl.parse_schemata(kernel) == {"L3": {"0": 0xff, "1": 0xff0}, "MB": {"0": 100, "1": 50}}
    assert resctrl.mismatches(("L3:0=ff;1=ff0",), kernel) == []
    assert resctrl.mismatches(("L3:1=ff0",), kernel) == []  # domains not named are not compared
    assert resctrl.mismatches(("L3:0=f", "MB:1=50"), kernel) == ["L3:0"]
    assert resctrl.mismatches(("L2:0=f",), kernel) == ["L2:0"]
    with pytest.raises(ValueError):
        resctrl.parse_schemata("L3:0")


def test_no_resctrl_mount_is_the_specs_error(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("22 1 0:21 / /proc rw,nosuid - proc proc rw\n")
    with pytest.raises(PyruntimeError, match="no resctrl filesystem is mounted"):
        resctrl.find_root(str(info))
    info.write_text("22 1 0:21 / /proc rw - proc proc rw\n40 22 0:35 / /sys/fs/resctrl rw - resctrl resctrl rw\n")
    assert resctrl.find_root(str(info)) == "/sys/fs/resctrl"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A directory laid out as a resctrl root (the files, not the kernel behind them).

    resctrl's mkdir makes a group's files and its rmdir takes them away; here
    that is done around the real calls.
    """
    real_mkdir, real_rmdir = os.mkdir, os.rmdir

    def mkdir(path, mode=0o777):
        real_mkdir(path, mode)
        for name in ("tasks", "schemata"):
            with open(os.path.join(path, name), "w"):
                pass
        if os.path.basename(os.path.dirname(path)) != "mon_groups":
            real_mkdir(os.path.join(path, "mon_groups"))

    (tmp_path / "info").mkdir()
    (tmp_path / "info" / "last_cmd_status").write_text("ok\n")
    (tmp_path / "mon_groups").mkdir()
    for name in ("tasks", "schemata"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(resctrl.os, "mkdir", mkdir)
    def rmdir(path):
        for directory, dirs, files in os.walk(path, topdown=False):
            for name in files:
                os.unlink(os.path.join(directory, name))
            for name in dirs:
                real_rmdir(os.path.join(directory, name))
        real_rmdir(path)

    monkeypatch.setattr(resctrl.os, "rmdir", rmdir)
    return tmp_path


def test_apply_and_remove_a_container_group(tree):
    state = resctrl.apply(resctrl.plan(IntelRdt(l3_cache_schema="L3:0=f", enable_monitoring=True), "c1"),
                          42, str(tree))
    assert (tree / "c1" / "schemata").read_text() == "L3:0=f\n"
    assert (tree / "c1" / "mon_groups" / "c1" / "tasks").read_text() == "42"
    assert state == {"root": str(tree), "group": str(tree / "c1"),
                     "tasks": str(tree / "c1" / "mon_groups" / "c1" / "tasks"),
                     "remove": [str(tree / "c1" / "mon_groups" / "c1"), str(tree / "c1")]}
    (tree / "schemata").write_text("    L3:0=ff\n    MB:0=100\n")
    assert resctrl.stats(state) == {"l3_cache_schema": "L3:0=f", "l3_cache_schema_root": "L3:0=ff",
                                    "mem_bw_schema_root": "MB:0=100"}
    resctrl.update(state, ("MB:0=20",))
    assert (tree / "c1" / "schemata").read_text() == "MB:0=20\n"  # (the kernel merges lines; a file keeps the last)
    resctrl.remove(state)
    assert not (tree / "c1").exists()


def test_a_named_group_is_used_checked_and_kept(tree):
    os.mkdir(tree / "gold")
    (tree / "gold" / "schemata").write_text("L3:0=00f0\n")
    state = resctrl.apply(resctrl.plan(IntelRdt(clos_id="gold"), "c1"), 7, str(tree))
    assert (tree / "gold" / "tasks").read_text() == "7" and state["remove"] == []
    resctrl.apply(resctrl.plan(IntelRdt(clos_id="gold", l3_cache_schema="L3:0=f0"), "c1"), 8, str(tree))
    with pytest.raises(PyruntimeError, match=r"resctrl group .*/gold exists with other schemata \(L3:0 differ"):
        resctrl.apply(resctrl.plan(IntelRdt(clos_id="gold", l3_cache_schema="L3:0=f"), "c1"), 9, str(tree))
    (tree / "gold" / "schemata").write_text("L3:0\n")  # what no kernel writes
    with pytest.raises(PyruntimeError, match=r"linux.intelRdt: comparing with the schemata of .*/gold: '0': expected"):
        resctrl.apply(resctrl.plan(IntelRdt(clos_id="gold", l3_cache_schema="L3:0=f"), "c1"), 9, str(tree))
    with pytest.raises(PyruntimeError, match=r"linux.intelRdt.closID: resctrl group .*/silver does not exist"):
        resctrl.apply(resctrl.plan(IntelRdt(clos_id="silver"), "c1"), 9, str(tree))


def test_a_failed_write_names_the_kernels_reason_and_undoes(tree):
    (tree / "info" / "last_cmd_status").write_text("Unknown or unsupported resource name 'L9'\n")
    os.mkdir(tree / "c1")
    (tree / "c1" / "schemata").unlink()
    (tree / "c1" / "schemata").mkdir()  # writing to it fails (EISDIR) as a refused line would
    with pytest.raises(PyruntimeError) as err:
        resctrl.apply(resctrl.plan(IntelRdt(schemata=("L9:0=1",)), "c1"), 1, str(tree))
    assert "writing 'L9:0=1' to" in str(err.value) and "(Unknown or unsupported resource name 'L9')" in str(err.value)
    assert (tree / "c1").exists()  # it was there before: not ours to remove
