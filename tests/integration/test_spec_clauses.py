"""runtime-spec clauses runtime-tools does not check, and configs where runc and the letter
of the spec part ways: each decision here is a row of conformance/clauses.md."""
from __future__ import annotations

import json
import os

from helpers import run_container


def last_log_entries(runtime) -> list[dict]:
    with open(runtime.log) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_relative_mount_destination_is_read_from_root(runtime, bundle):
    """config.md: a relative destination MAY be given and MUST be read relative to "/"."""
    bundle.edit(lambda c: c["mounts"].append({"destination": "data/x", "type": "tmpfs", "source": "tmpfs"}))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "grep ' /data/x ' /proc/self/mountinfo | cut -d' ' -f9")
    assert (code, out) == (0, "tmpfs\n"), err


def test_capabilities_that_cannot_be_granted_are_warnings(runtime, bundle):
    """config.md: a capability that cannot be mapped MUST be logged as a warning and SHOULD
    NOT fail the container (runc: 'ignoring unknown or unavailable capabilities')."""
    def add(c):
        for which in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][which].append("CAP_BOGUS")
    bundle.edit(add)
    code, out, err = run_container(runtime, bundle, "sh", "-c", "grep CapEff /proc/self/status")
    assert code == 0, err
    warnings = [e["msg"] for e in last_log_entries(runtime) if e["level"] == "warning"]
    assert any("process.capabilities.effective: unknown capability 'CAP_BOGUS'; ignored" in w
               for w in warnings), warnings


def test_exec_cap_that_cannot_be_granted_is_a_warning(runtime, bundle):
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    proc = runtime.run("exec", "--cap", "CAP_BOGUS", cid, "true")
    assert proc.returncode == 0, proc.stderr
    assert any("unknown capability 'CAP_BOGUS'" in e["msg"] for e in last_log_entries(runtime))


def test_memory_limit_zero_means_no_limit(runtime, bundle):
    """runc (and CRI, where 0 is 'not set') read memory.limit 0 as no limit; writing it
    would OOM-kill the init before it says READY."""
    bundle.edit(lambda c: c["linux"].update(resources={"memory": {"limit": 0}}))
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
                                   "|| cat /sys/fs/cgroup/memory.max")
    assert code == 0, err
    assert out.strip() in ("max", "9223372036854771712"), out


def test_missing_cwd_is_created_for_the_init_only(runtime, bundle):
    """runc makes a missing process.cwd for the container's process; exec's is an error."""
    bundle.edit(lambda c: c["process"].update(cwd="/made/by/runtime"))
    bundle.set_args("sh", "-c", "pwd; sleep 600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    assert os.path.isdir(os.path.join(bundle.rootfs, "made", "by", "runtime"))
    proc = runtime.run("exec", "--cwd", "/not/there", cid, "true")
    assert proc.returncode == 255 and "process.cwd" in proc.stderr.decode(), proc.stderr


def test_device_over_a_different_file_is_an_error(runtime, bundle):
    """config-linux.md: a file already at a device's path that does not match it MUST be an
    error (runc 1.1 keeps the file silently)."""
    bundle.edit(lambda c: c["linux"].update(devices=[{"path": "/etc/passwd", "type": "c", "major": 1, "minor": 3}]))
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 1 and err.count("\n") == 1, err
    assert "linux.devices[0]: /etc/passwd exists and is not the requested device (c 1:3)" in err, err
    assert open(os.path.join(bundle.rootfs, "etc", "passwd")).read().startswith("root:")


def test_device_that_is_already_there_is_fine(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(devices=[{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]))
    code, _, err = run_container(runtime, bundle, "sh", "-c", "echo x > /dev/null")
    assert code == 0, err


def test_pids_limit_zero_is_no_limit_as_in_runc(runtime, bundle):
    """config-linux.md says 0 SHOULD be a real limit; runc reads it as none, and podman and
    containerd write what runc reads: we follow runc (conformance/clauses.md, table 2)."""
    bundle.edit(lambda c: c["linux"].update(resources={"pids": {"limit": 0}}))
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
    assert (code, out) == (0, "max\n"), err
