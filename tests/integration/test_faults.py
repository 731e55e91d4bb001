"""Faults a runtime meets in the field: few descriptors, a cgroup parent left half made,
a create killed at any moment. Whatever happens, what is left can be removed, and the
next container starts."""
from __future__ import annotations

import os
import subprocess
import tempfile

import pytest

from helpers import PYRUNTIME

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
