"""CVE-2022-29162 class: no process gets inheritable capabilities it was not given.

runc's default spec and `runc exec --cap` used to fill the inheritable set, so a
non-root program with file capabilities could gain them at execve. The default
spec carries no inheritable or ambient set, and `exec --cap` adds to the
bounding, effective and permitted sets only.
"""
from __future__ import annotations

import json

CAP_KILL = 5
CAP_SYS_ADMIN = 21


def capability_sets(status: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in status.splitlines() if line.startswith("Cap")}


def test_default_spec_has_no_inheritable_or_ambient(runtime, tmp_path):
    runtime.run("spec", "--bundle", str(tmp_path), check=True)
    with open(tmp_path / "config.json") as f:
        caps = json.load(f)["process"]["capabilities"]
    assert "inheritable" not in caps and "ambient" not in caps
    assert caps["bounding"] == caps["effective"] == caps["permitted"]


def test_exec_cap_never_fills_inheritable(runtime, bundle):
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    init = capability_sets(runtime.output("exec", cid, "grep", "^Cap", "/proc/1/status"))
    assert init["CapInh"] == 0 and init["CapAmb"] == 0
    added = capability_sets(runtime.output("exec", "--cap", "CAP_SYS_ADMIN", cid, "grep", "^Cap", "/proc/self/status"))
    assert added["CapEff"] >> CAP_SYS_ADMIN & 1 and added["CapPrm"] >> CAP_SYS_ADMIN & 1
    assert added["CapBnd"] >> CAP_SYS_ADMIN & 1
    assert added["CapInh"] == 0 and added["CapAmb"] == 0
    runtime.run("delete", "--force", cid, check=True)


def test_exec_cap_is_ambient_only_beside_an_inheritable_set(runtime, bundle):
    """runc's rule: with an inheritable set in the spec, --cap is raised in ambient too
    (the kernel allows it only for a capability that is also inheritable)."""
    bundle.set_args("sleep", "600")
    bundle.edit(lambda c: c["process"]["capabilities"].update(inheritable=["CAP_KILL"]))
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    raw = capability_sets(runtime.output("exec", "--cap", "CAP_KILL", cid, "grep", "^Cap", "/proc/self/status"))
    assert raw["CapAmb"] == 1 << CAP_KILL and raw["CapInh"] == 1 << CAP_KILL
    admin = runtime.run("exec", "--cap", "CAP_SYS_ADMIN", cid, "grep", "^Cap", "/proc/self/status")
    assert admin.returncode == 0  # ambient refused by the kernel: a warning, as in runc
    sets = capability_sets(admin.stdout.decode())
    assert sets["CapEff"] >> CAP_SYS_ADMIN & 1 and sets["CapAmb"] == 0
    runtime.run("delete", "--force", cid, check=True)
