"""Faults a runtime meets in the field: few descriptors, a cgroup parent left half made,
a create killed at any moment. Whatever happens, what is left can be removed, and the
next container starts."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time

import pytest


CPUSET = "/sys/fs/cgroup/cpuset"
HIERARCHIES = ("cpuset", "memory", "pids", "cpu", "freezer", "devices", "blkio", "unified", "systemd")


def cgroup_dirs(cid: str, parent: str = "pyruntime") -> list[str]:
    return [d for h in HIERARCHIES for d in [f"/sys/fs/cgroup/{h}/{parent}/{cid}"] if os.path.exists(d)]


def limited(runtime, nofile: str, *args: str) -> subprocess.CompletedProcess:
    """The runtime started by a caller whose RLIMIT_NOFILE is ``soft:hard``. stderr goes to a
    file, not a pipe: a created init keeps the caller's stdio open."""
    with open(os.devnull, "rb") as null, tempfile.TemporaryFile() as err:
        proc = subprocess.run(["prlimit", f"--nofile={nofile}", *runtime.cmd(*args)], stdin=null,
                              stdout=subprocess.DEVNULL, stderr=err, timeout=30)
        err.seek(0)
        proc.stderr = err.read()
    return proc


def test_a_low_soft_descriptor_limit_is_no_obstacle(runtime, bundle):
    """runc raises its soft limit as Go starts; so does the launcher. The container's
    process gets the caller's limit back when its config sets none."""
    bundle.edit(lambda c: c["process"].pop("rlimits", None))
    bundle.set_args("sleep", "600")  # (busybox sh itself cannot redirect under a limit of 5)
    cid = runtime.new_id()
    runtime.created.add(cid)
    proc = limited(runtime, "5:4096", "run", "-d", "--bundle", bundle.path, cid)
    assert proc.returncode == 0, proc.stderr
    proc = limited(runtime, "5:4096", "exec", cid, "true")
    assert proc.returncode == 0, proc.stderr
    with open(f"/proc/{runtime.state(cid)['pid']}/limits") as f:
        line = next(line for line in f if line.startswith("Max open files"))
    assert line.split()[3:5] == ["5", "4096"], line


def test_running_out_of_descriptors_leaves_nothing_behind(runtime, bundle):
    """With a hard limit the runtime cannot raise, create fails somewhere between its first
    file and its last; every such failure is one line and undoes everything (the undo
    needs no new descriptor), and the shared cgroup parent keeps its cpuset."""
    bundle.edit(lambda c: c["process"].pop("rlimits", None))
    bundle.set_args("sleep", "600")
    outcomes = set()
    for n in range(5, 16):
        cid = runtime.new_id("fd")
        runtime.created.add(cid)
        proc = limited(runtime, f"{n}:{n}", "create", "--bundle", bundle.path, cid)
        err = proc.stderr.decode()
        if proc.returncode == 0:
            outcomes.add("created")
            runtime.run("delete", "--force", cid, check=True)
        else:
            outcomes.add("failed")
            assert err.count("\n") == 1 and err.startswith("pyruntime: "), (n, err)
            assert "internal error" not in err, (n, err)
        assert not os.path.exists(os.path.join(runtime.root, cid)), n
        assert cgroup_dirs(cid) == [], (n, cgroup_dirs(cid))
        if os.path.isdir(f"{CPUSET}/pyruntime"):
            assert open(f"{CPUSET}/pyruntime/cpuset.cpus").read().strip(), f"empty cpuset after n={n}"
    assert outcomes == {"created", "failed"}, outcomes  # the sweep crossed the threshold
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)


@pytest.mark.skipif(not os.path.isdir(CPUSET), reason="a cgroup v1 cpuset hierarchy (v2 has no empty cpusets)")
def test_a_cpuset_parent_left_empty_is_filled(runtime, bundle):
    """A parent cgroup whose cpus and mems were never copied (a create killed between the
    mkdir and the copy) used to fail every later create under it with ENOSPC."""
    parent = f"pyrt-empty-{runtime.new_id()}"
    os.mkdir(f"{CPUSET}/{parent}")
    try:
        assert open(f"{CPUSET}/{parent}/cpuset.cpus").read().strip() == ""
        cid = runtime.new_id()
        bundle.edit(lambda c: c["linux"].update(cgroupsPath=f"/{parent}/{cid}"))
        bundle.set_args("true")
        proc = runtime.run("run", "--bundle", bundle.path, cid)
        assert proc.returncode == 0, proc.stderr
        assert open(f"{CPUSET}/{parent}/cpuset.cpus").read().strip()
    finally:
        for h in HIERARCHIES:
            d = f"/sys/fs/cgroup/{h}/{parent}"
            if os.path.isdir(d):
                os.rmdir(d)


def runtime_processes(runtime) -> list[str]:
    """Live processes started from this test's runtime (a fork keeps its command line)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if runtime.root in cmdline:
            out.append(f"{pid}: {cmdline}")
    return out


def gone_within(check, seconds: float = 5.0):
    """Poll ``check`` (a list of what is left) until it is empty or the time is up."""
    deadline = time.monotonic() + seconds
    left = check()
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = check()
    return left


def killed_at(runtime, point: float, *args: str) -> None:
    """Start the runtime and SIGKILL it ``point`` seconds in (the fault, not a wait)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(runtime.cmd(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        time.sleep(point)
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("verb", [("create",), ("run", "-d")])
def test_a_create_killed_at_any_point_can_be_deleted(runtime, bundle, verb):
    """SIGKILL at 30 points over a create's life: `delete --force` always removes the init,
    stage 1, every cgroup and the state, and the id can be used again (issue 17: 23-27 of
    150 kills once left a blocked init or cgroups behind)."""
    bundle.set_args("sleep", "600")
    for i in range(30):
        cid = runtime.new_id("k")
        runtime.created.add(cid)
        killed_at(runtime, i * 0.0015, *verb, "--bundle", bundle.path, cid)
        proc = runtime.run("delete", "--force", cid)
        assert proc.returncode == 0, (i, proc.stderr)
        assert not os.path.exists(os.path.join(runtime.root, cid)), i
        assert gone_within(lambda: cgroup_dirs(cid)) == [], i
        assert gone_within(lambda: runtime_processes(runtime)) == [], i
    cid = runtime.new_id("k")
    runtime.run(*verb, "--bundle", bundle.path, cid, check=True)  # and the next one starts
    runtime.run("delete", "--force", cid, check=True)


def test_an_exec_killed_at_any_point_leaves_nothing_of_the_runtime(runtime, bundle):
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    init = runtime.state(cid)["pid"]
    for i in range(20):
        killed_at(runtime, i * 0.0015, "exec", cid, "sleep", "600")
    runtime.run("delete", "--force", cid, check=True)
    assert gone_within(lambda: runtime_processes(runtime)) == []
    assert gone_within(lambda: cgroup_dirs(cid)) == []
    assert not os.path.exists(f"/proc/{init}") or open(f"/proc/{init}/stat").read().split()[2] == "Z"
