"""The systemd cgroup driver against Debian's systemd as PID 1 (the tests/vm guest with VM_INIT=systemd,
pure cgroup v2 and hybrid, where run-suite runs this file; a host not booted with systemd has nothing
to test it against).

With --systemd-cgroup the container's cgroup is a transient scope systemd made, in a slice systemd
made, holding the container's processes and the limits systemd has properties for; a daemon-reload
(systemd re-applying what it knows) keeps them; update, pause, resume and stats work through it; and
delete leaves neither the unit nor its cgroup. containerd's runc shim with SystemdCgroup = true runs
a pod on pyruntime the same way."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

import clients
from clients import REGISTRY_PORT, wait_for
from helpers import CGROUP_V2, cgroup_dirs

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/run/systemd/system") or open("/proc/1/comm").read().strip() != "systemd",
    reason="needs systemd as PID 1: runs in the tests/vm guest booted with VM_INIT=systemd")


def show(unit: str, *props: str) -> dict[str, str]:
    out = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


# the file each check reads, by layout: (v1 hierarchy, v1 file, v2 file)
FILES = {"memory limit": ("memory", "memory.limit_in_bytes", "memory.max"),
         "pids limit": ("pids", "pids.max", "pids.max"),
         "procs": ("pids", "cgroup.procs", "cgroup.procs"),
         "frozen": ("freezer", "freezer.state", "cgroup.freeze")}
MEMORY_PROPERTY = "MemoryMax" if CGROUP_V2 else "MemoryLimit"  # what runc sets on each
# the system bus where dbus runs (run-suite's hybrid guest), else systemd's private socket, as go-systemd
BUS = "/run/dbus/system_bus_socket" if os.path.exists("/run/dbus/system_bus_socket") else "/run/systemd/private"


def cgroup(path: str, what: str) -> str:
    hierarchy, v1_file, v2_file = FILES[what]
    with open(f"/sys/fs/cgroup{path}/{v2_file}" if CGROUP_V2 else f"/sys/fs/cgroup/{hierarchy}{path}/{v1_file}") as f:
        return f.read().strip()


def test_a_container_is_a_systemd_scope_with_its_limits(runtime, bundle):
    cid = runtime.new_id()
    unit = f"pyrt-{cid}.scope"
    bundle.set_args("sleep", "600")
    bundle.edit(lambda c: c["linux"].update(cgroupsPath=f"pyrt-pod{cid[2:]}.slice:pyrt:{cid}", resources={
        "memory": {"limit": 64 << 20}, "pids": {"limit": 50}, "cpu": {"quota": 20000, "period": 100000},
        "devices": [{"allow": False, "access": "rwm"}]}))
    runtime.run("--debug", "--systemd-cgroup", "run", "-d", "--bundle", bundle.path, cid, check=True)
    assert f"systemd over D-Bus: {BUS}" in open(runtime.log).read()
    state = runtime.state(cid)
    record = json.load(open(os.path.join(runtime.root, cid, "state.json")))
    path = record["cgroup"]["path"]
    assert path == f"/pyrt.slice/pyrt-pod{cid[2:]}.slice/{unit}"  # the slice made by systemd, nested by its name
    props = show(unit, "ActiveState", "ControlGroup", "Delegate", MEMORY_PROPERTY, "TasksMax", "CPUQuotaPerSecUSec",
                 "DevicePolicy")
    assert props["ActiveState"] == "active" and props["ControlGroup"] == path and props["Delegate"] == "yes"
    assert props[MEMORY_PROPERTY] == str(64 << 20) and props["TasksMax"] == "50"
    assert props["CPUQuotaPerSecUSec"] == "200ms" and props["DevicePolicy"] == "strict"
    status = subprocess.run(["systemctl", "status", "--no-pager", unit], capture_output=True, text=True).stdout
    assert f"{state['pid']} sleep 600" in status  # systemd knows the container's processes
    assert show(f"pyrt-pod{cid[2:]}.slice", "ActiveState")["ActiveState"] == "active"

    # systemd puts back what it knows at a reload: the limits and the device rules survive it
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    assert cgroup(path, "memory limit") == str(64 << 20) and cgroup(path, "pids limit") == "50"
    assert str(state["pid"]) in cgroup(path, "procs").split()
    assert runtime.run("exec", cid, "sh", "-c", "echo x > /dev/null", check=True).returncode == 0
    denied = runtime.run("exec", cid, "sh", "-c", "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem")
    assert denied.returncode != 0 and b"not permitted" in denied.stderr

    runtime.run("update", "--memory", str(96 << 20), "--pids-limit", "70", cid, check=True)
    assert show(unit, MEMORY_PROPERTY, "TasksMax") == {MEMORY_PROPERTY: str(96 << 20), "TasksMax": "70"}
    assert cgroup(path, "memory limit") == str(96 << 20)

    runtime.run("pause", cid, check=True)
    assert runtime.state(cid)["status"] == "paused" and cgroup(path, "frozen") in ("1", "FROZEN")
    runtime.run("resume", cid, check=True)
    assert runtime.state(cid)["status"] == "running"
    stats = json.loads(runtime.run("events", "--stats", cid, check=True).stdout)["data"]
    assert stats["memory"]["usage"]["limit"] == 96 << 20 and stats["pids"]["current"] >= 1

    runtime.run("delete", "--force", cid, check=True)
    assert show(unit, "LoadState")["LoadState"] == "not-found"
    assert cgroup_dirs(path) == []


def test_a_failed_create_leaves_no_unit(runtime, bundle):
    """A limit the kernel refuses after systemd made the unit: the create fails and the unit goes."""
    cid = runtime.new_id()
    bundle.edit(lambda c: c["linux"].update(cgroupsPath=f"system.slice:pyrt:{cid}",
                                            resources={"cpu": {"cpus": "0-63"}}))  # this guest has 2
    proc = runtime.run("--systemd-cgroup", "create", "--bundle", bundle.path, cid)
    # refused by the kernel in the unit's own cgroup, so after systemd had made it
    assert proc.returncode == 1 and f"system.slice/pyrt-{cid}.scope/cpuset.cpus: write".encode() in proc.stderr
    assert show(f"pyrt-{cid}.scope", "LoadState")["LoadState"] == "not-found"
    assert cgroup_dirs(f"/system.slice/pyrt-{cid}.scope") == []


def test_containerd_with_systemd_cgroup_runs_a_pod_on_pyruntime(netns, workdir, registry):
    containerd = clients.Containerd(netns, os.path.join(workdir, "systemd-containerd"), systemd_cgroup=True)
    try:
        pod_file = os.path.join(workdir, "systemd-pod.json")
        with open(pod_file, "w") as f:
            json.dump({"metadata": {"name": "sd", "namespace": "default", "uid": "sd1"},
                       "linux": {"cgroup_parent": "pyrtpods-podsd1.slice"}}, f)
        ctr_file = os.path.join(workdir, "systemd-ctr.json")
        with open(ctr_file, "w") as f:
            json.dump({"metadata": {"name": "main"}, "image": {"image": f"127.0.0.1:{REGISTRY_PORT}/busybox:latest"},
                       "command": ["sleep", "600"]}, f)
        containerd.crictl("pull", f"127.0.0.1:{REGISTRY_PORT}/busybox:latest")
        pod = containerd.crictl("runp", pod_file)
        cid = containerd.crictl("create", pod, ctr_file, pod_file)
        containerd.crictl("start", cid)
        wait_for(lambda: json.loads(containerd.crictl("inspect", cid))["status"]["state"] == "CONTAINER_RUNNING",
                 "the container running")
        unit = f"cri-containerd-{cid}.scope"
        props = show(unit, "ActiveState", "ControlGroup", "Slice")
        assert props["ActiveState"] == "active" and props["Slice"] == "pyrtpods-podsd1.slice"
        assert props["ControlGroup"] == f"/pyrtpods.slice/pyrtpods-podsd1.slice/{unit}"
        pid = json.loads(containerd.crictl("inspect", cid))["info"]["pid"]
        assert str(pid) in cgroup(props["ControlGroup"], "procs").split()
        containerd.crictl("rmp", "-f", pod)
        assert show(unit, "LoadState")["LoadState"] == "not-found"
    finally:
        containerd.close()

