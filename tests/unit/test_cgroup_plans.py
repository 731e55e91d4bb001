"""cgroup path resolution, layout detection and the resource write tables (pure)."""
from __future__ import annotations

import pytest

from pyruntime.cgroups import path as cgpath
from pyruntime.cgroups.layout import HYBRID, V1, V2, parse_mountinfo
from pyruntime.cgroups.resources import blkio_to_io_weight, shares_to_weight, swap_v2, v1_writes, v2_writes
from pyruntime.errors import ConfigError
from pyruntime.model.parse import resources_document as resources

HYBRID_MOUNTINFO = """\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 31 0:38 /sub /mnt/x rw,relatime - cgroup2 cgroup2 rw
"""


def test_layout_hybrid_and_v2():
    layout = parse_mountinfo(HYBRID_MOUNTINFO)
    assert layout.kind == HYBRID and layout.unified == "/sys/fs/cgroup/unified"
    assert layout.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct" and "xattr" not in layout.v1
    assert layout.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    v2 = parse_mountinfo("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")
    assert v2.kind == V2 and v2.unified == "/sys/fs/cgroup"


def test_layout_ignores_hidden_hierarchies():
    """A tmpfs over unified (what crun needs on a hybrid host) leaves plain v1; one over
    /sys/fs/cgroup hides every hierarchy below it."""
    over_unified = HYBRID_MOUNTINFO + "60 41 0:50 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n"
    layout = parse_mountinfo(over_unified)
    assert layout.kind == V1 and layout.unified == "" and layout.v1["memory"] == "/sys/fs/cgroup/memory"
    layout = parse_mountinfo(HYBRID_MOUNTINFO + "61 31 0:51 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n")
    assert layout.kind == V2 and layout.unified == "" and layout.v1 == {}


@pytest.mark.parametrize("given,systemd,expected", [
    ("", False, "/pyruntime/c1"),
    ("/kubepods/pod1/c1", False, "/kubepods/pod1/c1"),
    ("mygroup/c1", False, "/pyruntime/mygroup/c1"),
    ("system.slice:docker:c1", True, "/system.slice/docker-c1.scope"),
    ("kubepods-besteffort-pod1.slice:cri-containerd:c1", True,
     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope"),
    ("", True, "/system.slice/pyruntime-c1.scope"),
])
def test_cgroups_path(given, systemd, expected):
    assert cgpath.resolve(given, "c1", systemd) == expected


@pytest.mark.parametrize("bad", ["../../etc", "/a/../../b", "/"])
def test_cgroups_path_escape_refused(bad):
    with pytest.raises(ConfigError):
        cgpath.resolve(bad, "c1")


def test_conversions_match_runc():
    assert shares_to_weight(1024) == 39 and shares_to_weight(2) == 1 and shares_to_weight(262144) == 10000
    assert blkio_to_io_weight(10) == 1 and blkio_to_io_weight(1000) == 10000
    assert swap_v2(200, 100) == 100 and swap_v2(-1, 100) == -1 and swap_v2(0, -1) == -1


def test_v1_memory_order_when_growing():
    res = resources({"memory": {"limit": 300, "swap": 600}})
    files = [w.file for w in v1_writes(res, current_memsw=400)]
    assert files[:2] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    files = [w.file for w in v1_writes(res, current_memsw=-1)]
    assert files[:2] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_v2_table():
    res = resources({"memory": {"limit": 1 << 20, "swap": 2 << 20, "reservation": 1 << 19},
                     "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
                     "pids": {"limit": 0},
                     "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]},
                     "unified": {"memory.high": "900000"}})
    got = {(w.file, w.value) for w in v2_writes(res)}
    assert got == {("memory.max", str(1 << 20)), ("memory.swap.max", str(1 << 20)),
                   ("memory.low", str(1 << 19)), ("cpu.weight", "39"), ("cpu.max", "50000 100000"),
                   ("cpuset.cpus", "0"), ("pids.max", "max"), ("io.max", "8:0 rbps=1000"),
                   ("memory.high", "900000")}


def test_unified_refused_on_v1_and_bad_keys_on_v2():
    with pytest.raises(ConfigError, match="need a cgroup v2 host"):
        v1_writes(resources({"unified": {"memory.high": "1"}}))
    with pytest.raises(ConfigError, match="not a cgroup v2 interface file"):
        v2_writes(resources({"unified": {"../x": "1"}}))


def test_the_unified_directory_exec_is_born_in():
    """exec's plan asks the manager, not its description, where the container's cgroup v2 directory is."""
    from pyruntime import cgroups
    from pyruntime.cgroups.layout import Layout
    v2 = cgroups.for_container(Layout("v2", {}, "/sys/fs/cgroup"), "/pyruntime/c1")
    hybrid = cgroups.for_container(Layout("hybrid", {"pids": "/sys/fs/cgroup/pids"}, "/sys/fs/cgroup/unified"),
                                   "/pyruntime/c1")
    v1 = cgroups.for_container(Layout("v1", {"pids": "/sys/fs/cgroup/pids"}, ""), "/pyruntime/c1")
    assert v2.unified_dir() == "/sys/fs/cgroup/pyruntime/c1"
    assert hybrid.unified_dir() == "/sys/fs/cgroup/unified/pyruntime/c1" and v1.unified_dir() == ""
    assert cgroups.from_record(hybrid.describe()).unified_dir() == hybrid.unified_dir()
