"""The host's mount table is the same before, during and after a container: nothing
propagates in (the container's mounts) or out (its unmounts of the host's shared mounts).

The case that matters is a shared host mount with submounts, like /run/netns after
`ip netns add`: the container's copy of it is unmounted with the old root after
pivot_root, and only making the whole tree rslave first keeps that unmount local.
With a shared rootfsPropagation (containerd's CRI writes rshared) the tree stays
shared, and the old root is made rslave just before it is detached.
"""
from __future__ import annotations

import subprocess

import pytest

from helpers import run_container


def host_mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@pytest.mark.parametrize("propagation", [None, "rshared", "shared", "rslave", "rprivate"])
def test_shared_host_mounts_survive_containers(runtime, bundle, tmp_path, propagation):
    if propagation:
        bundle.edit(lambda c: c["linux"].update(rootfsPropagation=propagation))
    shared = tmp_path / "shared"
    shared.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "--make-shared", "tmpfs", str(shared)], check=True)
    try:
        (shared / "sub").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(shared / "sub")], check=True)
        before = host_mounts()
        bundle.set_args("sleep", "60")
        cid = runtime.new_id()
        runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
        during = host_mounts()
        runtime.run("delete", "--force", cid, check=True)
        code, _, err = run_container(runtime, bundle, "true")
        assert code == 0, err
        after = host_mounts()
        assert str(shared / "sub") in during and str(shared / "sub") in after, "a host mount was unmounted"
        assert during == before and after == before, (during ^ before) | (after ^ before)
    finally:
        subprocess.run(["umount", "-R", str(shared)], check=False)
