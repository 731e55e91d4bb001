"""Cgroups on whatever layout this host has (v1/hybrid here, pure v2 in tests/vm):
every resource written and read back, its effect observed, update, pause,
events, and nothing left behind. Layout-specific expectations branch on it."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from clients import wait_for
from helpers import CGROUP_UNIFIED, CGROUP_V2, cgroup_dirs

V1_ONLY = pytest.mark.skipif(CGROUP_V2, reason="cgroup v1 file layout")
V2_ONLY = pytest.mark.skipif(not CGROUP_V2, reason="cgroup v2 file layout")


def cgroup_file(cid: str, controller: str, name: str, parent: str = "/pyruntime") -> str:
    if CGROUP_V2:
        return f"/sys/fs/cgroup{parent}/{cid}/{name}"
    return f"/sys/fs/cgroup/{controller}{parent}/{cid}/{name}"


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def start(runtime, bundle, resources=None, args=("sleep", "600"), **linux) -> str:
    bundle.set_args(*args)
    if resources is not None:
        bundle.edit(lambda c: c["linux"].update(resources=resources))
    if linux:
        bundle.edit(lambda c: c["linux"].update(**linux))
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    return cid


def test_memory_settings_read_back(runtime, bundle):
    memory = {"limit": 64 << 20, "reservation": 32 << 20}
    if not CGROUP_V2:
        memory.update(swappiness=10, kernelTCP=16 << 20, disableOOMKiller=False)
    cid = start(runtime, bundle, {"memory": memory})
    if CGROUP_V2:
        assert read(cgroup_file(cid, "memory", "memory.max")) == str(64 << 20)
        assert read(cgroup_file(cid, "memory", "memory.low")) == str(32 << 20)
    else:
        assert read(cgroup_file(cid, "memory", "memory.limit_in_bytes")) == str(64 << 20)
        assert read(cgroup_file(cid, "memory", "memory.soft_limit_in_bytes")) == str(32 << 20)
        assert read(cgroup_file(cid, "memory", "memory.swappiness")) == "10"
        assert read(cgroup_file(cid, "memory", "memory.kmem.tcp.limit_in_bytes")) == str(16 << 20)


def test_memory_hog_is_oom_killed_and_reported(runtime, bundle):
    cid = start(runtime, bundle, {"memory": {"limit": 32 << 20}})
    events = subprocess.Popen(runtime.cmd("events", "--interval", "100ms", cid), stdout=subprocess.PIPE, text=True)
    try:
        proc = runtime.run("exec", cid, "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived")
        assert proc.returncode != 0 and b"survived" not in proc.stdout
        deadline = time.monotonic() + 10
        seen = []
        while time.monotonic() < deadline:
            line = events.stdout.readline()
            seen.append(json.loads(line)["type"])
            if "oom" in seen:
                break
        assert "oom" in seen and "stats" in seen
    finally:
        events.kill()
        events.wait()


def test_cpu_settings(runtime, bundle):
    cpu = {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"}
    cid = start(runtime, bundle, {"cpu": cpu})
    if CGROUP_V2:
        assert read(cgroup_file(cid, "cpu", "cpu.weight")) == "20"
        assert read(cgroup_file(cid, "cpu", "cpu.max")) == "20000 100000"
    else:
        assert read(cgroup_file(cid, "cpu", "cpu.shares")) == "512"
        assert read(cgroup_file(cid, "cpu", "cpu.cfs_quota_us")) == "20000"
        assert read(cgroup_file(cid, "cpu", "cpu.cfs_period_us")) == "100000"
    assert read(cgroup_file(cid, "cpuset", "cpuset.cpus")) == "0"
    out = runtime.output("exec", cid, "grep", "Cpus_allowed_list", "/proc/self/status")
    assert out.split()[1] == "0"


def test_cpu_quota_throttles(runtime, bundle):
    # from before the cgroup exists: the init's own set-up runs in it, under the quota, and in the
    # emulated guest create + start take long enough to count
    began = time.monotonic()
    cid = start(runtime, bundle, {"cpu": {"quota": 10000, "period": 100000}},
                args=("sh", "-c", "while :; do :; done"))

    def cpu() -> dict:
        return json.loads(runtime.output("events", "--stats", cid))["data"]["cpu"]
    wait_for(lambda: cpu()["throttling"]["throttled_periods"] >= 10, "ten throttled periods (a second at 10%)")
    used, elapsed = cpu()["usage"]["total"], time.monotonic() - began
    assert used < 0.3 * elapsed * 1e9  # 10% of the time it has run, with margin: the busy loop wants 100%


def test_pids_limit_stops_fork_bomb(runtime, bundle):
    cid = start(runtime, bundle, {"pids": {"limit": 10}})
    proc = runtime.run("exec", cid, "sh", "-c", "for i in $(seq 30); do sleep 30 & done")
    assert b"can't fork" in proc.stderr
    assert read(cgroup_file(cid, "pids", "pids.max")) == "10"
    assert 8 <= json.loads(runtime.output("events", "--stats", cid))["data"]["pids"]["current"] <= 10


def block_device() -> tuple[int, int]:
    """A real disk of this machine (the VM lane gives its guest a scratch one)."""
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram", "nbd", "sr")):
            major, minor = read(f"/sys/block/{name}/dev").split(":")
            return int(major), int(minor)
    raise AssertionError("no block device to throttle")


def test_block_io(runtime, bundle):
    major, minor = block_device()
    throttle = [{"major": major, "minor": minor, "rate": 1048576}]
    cid = start(runtime, bundle, {"blockIO": {"throttleReadBpsDevice": throttle, "throttleWriteIOPSDevice": throttle}})
    if CGROUP_V2:
        assert f"{major}:{minor} rbps=1048576" in read(cgroup_file(cid, "io", "io.max"))
    else:
        assert read(cgroup_file(cid, "blkio", "blkio.throttle.read_bps_device")) == f"{major}:{minor} 1048576"
        assert read(cgroup_file(cid, "blkio", "blkio.throttle.write_iops_device")) == f"{major}:{minor} 1048576"


def test_freeze_and_thaw(runtime, bundle):
    cid = start(runtime, bundle, args=("sh", "-c", "while :; do echo x >> /tmp/counter; done"))
    counter = os.path.join(bundle.rootfs, "tmp", "counter")
    wait_for(lambda: os.path.getsize(counter) > 0, "the container writing")
    runtime.run("pause", cid, check=True)
    assert runtime.state(cid)["status"] == "paused"
    # the kernel's word that every task is frozen, then a look that nothing moves meanwhile
    if CGROUP_V2:
        assert "frozen 1" in read(cgroup_file(cid, "freezer", "cgroup.events")).splitlines()
    else:
        assert read(cgroup_file(cid, "freezer", "freezer.state")) == "FROZEN"
    first = os.path.getsize(counter)
    time.sleep(0.3)  # an observation window, not a wait for something to happen
    assert os.path.getsize(counter) == first
    assert runtime.run("exec", cid, "true").returncode == 255  # refused while paused (runc: exec failed, 255)
    runtime.run("resume", cid, check=True)
    assert runtime.state(cid)["status"] == "running"
    wait_for(lambda: os.path.getsize(counter) > first, "the container writing again")
    assert runtime.run("resume", cid).stderr.decode().startswith("pyruntime: cannot resume")


def test_update_live_limits(runtime, bundle):
    cid = start(runtime, bundle, {"memory": {"limit": 64 << 20}, "pids": {"limit": 100}})
    runtime.run("update", "--memory", "96m", "--pids-limit", "42", "--cpu-shares", "256", cid, check=True)
    limit = "memory.max" if CGROUP_V2 else "memory.limit_in_bytes"
    assert read(cgroup_file(cid, "memory", limit)) == str(96 << 20)
    assert read(cgroup_file(cid, "pids", "pids.max")) == "42"
    runtime.run("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 7}}).encode(), check=True)
    assert read(cgroup_file(cid, "pids", "pids.max")) == "7"
    # the kernel holds the container to it: the eighth process cannot be made
    proc = runtime.run("exec", cid, "sh", "-c", "for i in $(seq 10); do sleep 30 & done")
    assert b"can't fork" in proc.stderr
    assert json.loads(runtime.output("events", "--stats", cid))["data"]["pids"]["current"] <= 7
    stored = json.load(open(os.path.join(runtime.root, cid, "state.json")))
    assert stored["config"]["linux"]["resources"]["pids"]["limit"] == 7


@V1_ONLY  # cgroup v2 accepts memory.max below usage and reclaims (or OOM-kills) instead
def test_update_below_usage_is_a_clear_error(runtime, bundle):
    cid = start(runtime, bundle, {"memory": {"limit": 64 << 20}})
    proc = runtime.run("update", "--memory", "4k", cid)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1
    assert err.startswith("pyruntime: linux.resources.memory.limit: cgroup ") and "4096" in err


def test_update_rdt_schemata_needs_intel_rdt(runtime, bundle):
    cid = start(runtime, bundle, {"pids": {"limit": 50}})
    proc = runtime.run("update", "--l3-cache-schema", "L3:0=f", cid)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"pyruntime: container {cid} has no linux.intelRdt: its schemata cannot be updated\n"


def test_update_stopped_container_refused(runtime, bundle):
    cid = start(runtime, bundle, args=("true",))
    wait_for(lambda: runtime.state(cid)["status"] == "stopped", "the container to stop")
    proc = runtime.run("update", "--pids-limit", "5", cid)
    assert proc.stderr.decode() == "pyruntime: cannot update a container that is stopped\n"


@V1_ONLY
def test_device_rules_v1(runtime, bundle):
    bundle.edit(lambda c: c["process"]["capabilities"]["bounding"].append("CAP_MKNOD") or
                c["process"]["capabilities"]["effective"].append("CAP_MKNOD") or
                c["process"]["capabilities"]["permitted"].append("CAP_MKNOD"))
    cid = start(runtime, bundle, {"devices": [{"allow": False, "access": "rwm"}]})
    listing = read(cgroup_file(cid, "devices", "devices.list")).splitlines()
    assert "c 1:3 rwm" in listing and "c *:* m" in listing and "a *:* rwm" not in listing
    out = runtime.run("exec", cid, "sh", "-c", "mknod /tmp/mem c 1 1 && cat /tmp/mem >/dev/null").stderr.decode()
    assert "Operation not permitted" in out


def test_device_filter_program_enforced(tmp_path):
    """The v2 eBPF filter, on a cgroup2 directory of this host (any layout has one)."""
    from pyruntime.cgroups import devices_bpf
    from pyruntime.model.resources import DeviceRule
    if not CGROUP_UNIFIED:
        pytest.skip("no cgroup2 hierarchy")
    d = f"{CGROUP_UNIFIED}/pyruntime-test-{os.getpid()}"
    os.mkdir(d)
    try:
        devices_bpf.attach(d, (DeviceRule(False, "a"), DeviceRule(True, "c", 1, 5, "rwm"),
                               DeviceRule(True, "c", 1, 3, "w")))
        assert devices_bpf.attached(d) == 1
        script = ("import sys\nopen(sys.argv[1] + '/cgroup.procs', 'w').write('0')\n"
                  "for path, mode in (('/dev/zero', 'rb'), ('/dev/null', 'wb'), ('/dev/null', 'rb'), ('/dev/full', 'rb')):\n"
                  "    try:\n        open(path, mode, buffering=0).close(); print('ok')\n"
                  "    except PermissionError:\n        print('denied')\n")
        out = subprocess.run(["python3", "-c", script, d], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["ok", "ok", "denied", "denied"]
    finally:
        os.rmdir(d)


@V1_ONLY
@pytest.mark.parametrize("resources,message", [
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]}, "linux.resources.hugepageLimits: the hugetlb controller is not mounted"),
    ({"network": {"classID": 1}}, "linux.resources.network.classID: the net_cls controller is not mounted"),
    ({"unified": {"memory.high": "1"}}, "linux.resources.unified: raw cgroup v2 keys need a cgroup v2 host"),
    ({"memory": {"limit": -5}}, "linux.resources.memory.limit: cgroup "),
])
def test_unsupported_or_invalid_limits(runtime, bundle, resources, message):
    bundle.edit(lambda c: c["linux"].update(resources=resources))
    cid = runtime.new_id()
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and message in err and err.count("\n") == 1, err
    assert cgroup_dirs(f"/pyruntime/{cid}") == []


@pytest.mark.parametrize("path", ["../../escape", "/a/../../b"])
def test_cgroups_path_escape_refused(runtime, bundle, path):
    bundle.edit(lambda c: c["linux"].update(cgroupsPath=path))
    proc = runtime.run("create", "--bundle", bundle.path, runtime.new_id())
    assert proc.returncode == 1 and "escapes the cgroup root" in proc.stderr.decode()


def test_absolute_and_systemd_paths(runtime, bundle):
    cid = start(runtime, bundle, cgroupsPath=f"/pyrt-abs/{runtime.new_id()}")
    path = json.load(open(os.path.join(runtime.root, cid, "state.json")))["cgroup"]["path"]
    assert path.startswith("/pyrt-abs/")
    runtime.run("delete", "--force", cid, check=True)
    assert cgroup_dirs("/pyrt-abs") == []
    bundle.edit(lambda c: c["linux"].update(cgroupsPath="pyrt.slice:test:one"))
    cid = runtime.new_id()
    runtime.run("--systemd-cgroup", "run", "-d", "--bundle", bundle.path, cid, check=True)
    if not os.path.isdir("/run/systemd/system"):  # no systemd to ask (test_systemd has one): said, then mapped
        assert "not booted with systemd" in open(runtime.log).read()
    state = json.load(open(os.path.join(runtime.root, cid, "state.json")))
    assert state["cgroup"]["path"] == "/pyrt.slice/test-one.scope" and state["systemd_cgroup"]
    runtime.run("delete", "--force", cid, check=True)  # without the flag: the state knows
    assert cgroup_dirs("/pyrt.slice") == []


def test_delete_force_after_init_died_removes_cgroups(runtime, bundle):
    cid = start(runtime, bundle, args=("sh", "-c", "sleep 600 & sleep 600"))
    pid = runtime.state(cid)["pid"]
    os.kill(pid, 9)  # the init dies; a grandchild stays in the cgroup
    wait_for(lambda: runtime.state(cid)["status"] == "stopped", "the container to stop")
    runtime.run("delete", "--force", cid, check=True)
    assert cgroup_dirs(f"/pyruntime/{cid}") == []


@V2_ONLY
def test_device_rules_v2_ebpf(runtime, bundle):
    from pyruntime.cgroups import devices_bpf
    bundle.edit(lambda c: [c["process"]["capabilities"][k].append("CAP_MKNOD") for k in ("bounding", "effective", "permitted")])
    cid = start(runtime, bundle, {"devices": [{"allow": False, "access": "rwm"}]})
    assert devices_bpf.attached(f"{CGROUP_UNIFIED}/pyruntime/{cid}") == 1
    out = runtime.run("exec", cid, "sh", "-c", "mknod /tmp/mem c 1 1 && cat /tmp/mem >/dev/null; echo x > /dev/null && echo null-ok").stdout.decode()
    err = runtime.run("exec", cid, "sh", "-c", "cat /tmp/mem").stderr.decode()
    assert "null-ok" in out and "Operation not permitted" in err


@V2_ONLY
def test_hugetlb_swap_and_unified_v2(runtime, bundle):
    cid = start(runtime, bundle, {"memory": {"limit": 64 << 20, "swap": 96 << 20},
                                   "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 21}],
                                   "unified": {"memory.high": str(48 << 20), "pids.max": "33"}})
    assert read(cgroup_file(cid, "memory", "memory.swap.max")) == str(32 << 20)  # swap = memsw - limit
    assert read(cgroup_file(cid, "hugetlb", "hugetlb.2MB.max")) == str(4 << 21)
    assert read(cgroup_file(cid, "memory", "memory.high")) == str(48 << 20)
    assert read(cgroup_file(cid, "pids", "pids.max")) == "33"


@V2_ONLY
def test_unknown_unified_key_v2(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(resources={"unified": {"memory.nonsense": "1"}}))
    proc = runtime.run("create", "--bundle", bundle.path, runtime.new_id())
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1
    assert "linux.resources.unified.memory.nonsense: cgroup file" in err and "does not exist" in err
