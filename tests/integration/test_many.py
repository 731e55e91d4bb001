"""Many containers: created and deleted in a loop, they leave nothing behind."""
from __future__ import annotations

import os


def snapshot() -> dict[str, set]:
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f}
    cgroups = set()
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if "process_api" in root:  # the host agent's own cgroups come and go
            dirs[:] = []
            continue
        cgroups.update(os.path.join(root, d) for d in dirs if "process_api" not in d)
    procs = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"pyruntime" in f.read():
                    procs.add(pid)
        except OSError:
            pass
    procs.discard(str(os.getpid()))
    return {"mounts": mounts, "cgroups": cgroups, "processes": procs}


def test_twenty_containers_leave_nothing(runtime, bundle):
    before = snapshot()
    for i in range(20):
        cid = runtime.new_id(f"loop{i}")
        bundle.set_args("sleep", "60") if i % 2 else bundle.set_args("true")
        runtime.run("create", "--bundle", bundle.path, cid, check=True)
        if i % 3:
            runtime.run("start", cid, check=True)
        runtime.run("delete", "--force", cid, check=True)
    after = snapshot()
    for kind in before:
        assert after[kind] - before[kind] == set(), f"{kind} left behind"
    assert os.listdir(runtime.root) == []
