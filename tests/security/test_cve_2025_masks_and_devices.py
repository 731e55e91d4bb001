"""CVE-2025-31133 / -52565 / -52881 class: masks, /dev/console, /dev/pts/ptmx
and procfs writes cannot be redirected by what the container controls."""
from __future__ import annotations

import os

from helpers import run_container


def dev_volume(bundle, tmp_path, **entries):
    """/dev is a bind of a host directory (a shared volume), as a hostile image would arrange."""
    dev = tmp_path / "devvol"
    dev.mkdir()
    for name, target in entries.items():
        path = dev / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    bundle.edit(lambda c: c.update(mounts=[m for m in c["mounts"] if not m["destination"].startswith("/dev")]
                                   + [{"destination": "/dev", "type": "bind", "source": str(dev), "options": ["rbind"]}]))
    return dev


def test_mask_source_is_never_the_containers_dev_null(runtime, bundle, tmp_path):
    dev_volume(bundle, tmp_path, null="/proc/sys/kernel/core_pattern")
    bundle.edit(lambda c: c["linux"].update(maskedPaths=["/proc/keys"]))
    code, out, err = run_container(runtime, bundle, "sh", "-c", "stat -c '%F %t:%T' /proc/keys; grep ' /proc/keys ' /proc/self/mountinfo")
    assert code == 0, err
    assert out.splitlines()[0] == "character special file 1:3"
    assert " ro" in out.splitlines()[1] or ",ro" in out.splitlines()[1] or " ro," in out.splitlines()[1]


def test_masked_path_that_is_a_symlink_masks_inside(runtime, bundle):
    """The link is followed inside the root: what gets masked is the container's own
    core_pattern (now the null device), never anything of the host."""
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(bundle.rootfs, "maskme"))
    bundle.edit(lambda c: c["linux"].update(maskedPaths=["/maskme"]))
    with open("/proc/sys/kernel/core_pattern") as f:
        host_pattern = f.read()
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "echo x > /proc/sys/kernel/core_pattern; stat -c %t:%T /proc/sys/kernel/core_pattern")
    assert (code, out.strip()) == (0, "1:3"), err
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == host_pattern


def test_console_symlink_is_refused(runtime, bundle, tmp_path):
    dev_volume(bundle, tmp_path, console="/proc/sys/kernel/core_pattern")
    bundle.edit(lambda c: (c["process"].update(terminal=True), c["mounts"].append(
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "ptmxmode=0666"]})))
    os.symlink("pts/ptmx", tmp_path / "devvol" / "ptmx")
    code, out, err = run_container(runtime, bundle, "true")
    assert code == 1
    assert "/dev/console is a symlink or directory in the container; refusing" in err and err.count("\n") == 1


def test_ptmx_symlink_is_refused(runtime, bundle, tmp_path):
    dev_volume(bundle, tmp_path, ptmx="pts/ptmx", **{"pts/ptmx": "/proc/sys/kernel/core_pattern"})
    bundle.edit(lambda c: c["process"].update(terminal=True))
    code, out, err = run_container(runtime, bundle, "true")
    assert code == 1 and "/dev/pts/ptmx is not the character device 5:2" in err, err


def test_sysctl_goes_through_private_procfs(runtime, bundle):
    """/proc/sys is read-only in the container (readonlyPaths): a write through the
    container's /proc would fail; the runtime's private procfs instance is unaffected."""
    assert "/proc/sys" in bundle.config["linux"]["readonlyPaths"]
    bundle.edit(lambda c: c["linux"].update(sysctl={"net.core.somaxconn": "777"}))
    code, out, err = run_container(runtime, bundle, "cat", "/proc/sys/net/core/somaxconn")
    assert (code, out.strip()) == (0, "777"), err
