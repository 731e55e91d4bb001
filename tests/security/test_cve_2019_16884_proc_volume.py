"""CVE-2019-16884 class: nothing but procfs may be mounted on /proc, and nothing
over the procfs files the runtime writes."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from helpers import run_container


@pytest.mark.parametrize("mount", [
    {"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["rbind"]},
    {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/proc/self/attr", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/proc/sys/kernel/core_pattern", "type": "bind", "source": "/etc/hostname", "options": ["bind"]},
])
def test_volume_over_proc_is_refused(runtime, bundle, mount):
    bundle.edit(lambda c: c["mounts"].append(mount))
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 1 and err.count("\n") == 1 and "/proc" in err, err


def test_allowed_lxcfs_style_file_mount(runtime, bundle, tmp_path):
    fake = tmp_path / "uptime"
    fake.write_text("1.00 1.00\n")
    bundle.edit(lambda c: c["mounts"].append({"destination": "/proc/uptime", "type": "bind", "source": str(fake), "options": ["bind"]}))
    code, out, _ = run_container(runtime, bundle, "cat", "/proc/uptime")
    assert (code, out) == (0, "1.00 1.00\n")


def leftovers(runtime) -> list[str]:
    return os.listdir(runtime.root) if os.path.isdir(runtime.root) else []


@pytest.mark.parametrize("via", ["dev", "volume"])
def test_image_symlink_cannot_move_a_mount_into_proc(runtime, bundle, via):
    """The check is on what the destination resolved to: an image's /dev (default spec) or
    a volume's directory that is a symlink into /proc would give the container a writable
    tmpfs over its /proc/sys/kernel, where the runtime reads host facts from."""
    name = "dev" if via == "dev" else "data"
    path = os.path.join(bundle.rootfs, name)
    shutil.rmtree(path, ignore_errors=True)
    os.symlink("/proc/sys/kernel", path)
    if via == "volume":
        bundle.edit(lambda c: c["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs"}))
    code, _, err = run_container(runtime, bundle, "sh", "-c", "touch /proc/sys/kernel/x && echo wrote")
    assert code == 1 and err.count("\n") == 1, err
    assert f"/{name} resolves to /proc/sys/kernel" in err and "inside /proc" in err, err
    assert leftovers(runtime) == []


def test_exec_reads_cap_last_cap_from_the_host(runtime, bundle, tmp_path):
    """A container that can mount shows exec a /proc/sys/kernel/cap_last_cap of 0; exec must
    still drop every capability outside the bounding set (the number comes from the host)."""
    def grant_sys_admin(c):
        for which in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][which].append("CAP_SYS_ADMIN")
    bundle.edit(grant_sys_admin)
    bundle.set_args("sh", "-c", "echo 0 > /tmp/zero; mount --bind /tmp/zero /proc/sys/kernel/cap_last_cap;"
                                " cat /proc/sys/kernel/cap_last_cap > /tmp/seen; sleep 600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    seen = os.path.join(bundle.rootfs, "tmp", "seen")
    deadline = time.monotonic() + 10
    while not (os.path.exists(seen) and open(seen).read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open(seen).read().strip() == "0", "the container could not fake cap_last_cap"
    wanted = 0
    from pyruntime.model.names import capability_number
    for name in bundle.config["process"]["capabilities"]["bounding"]:
        wanted |= 1 << capability_number(name)
    status = runtime.output("exec", cid, "cat", "/proc/self/status")
    bounding = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)
    assert bounding == wanted, f"exec kept {bounding:#x}, the config allows {wanted:#x}"
