"""CVE-2021-30465 class: a mount destination that is, or becomes, a symlink
never mounts (or creates anything) outside the rootfs. The racing test is
also CVE-2024-45310's: empty directories made on the host through a swap."""
from __future__ import annotations

import os
import threading

from helpers import run_container


def test_absolute_symlink_destination_stays_inside(runtime, bundle, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(f"/../../../..{outside}", os.path.join(bundle.rootfs, "link"))
    bundle.edit(lambda c: c["mounts"].append({"destination": "/link/inner", "type": "tmpfs", "source": "tmpfs"}))
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   f"grep -c ' {outside}/inner ' /proc/self/mountinfo; touch /link/inner/x && echo ok")
    assert code == 0, err
    assert out.split() == ["1", "ok"]
    assert os.listdir(outside) == []  # nothing was created on the host
    assert os.path.isdir(os.path.join(bundle.rootfs, str(outside).lstrip("/"), "inner"))


def test_relative_escape_is_clamped(runtime, bundle, tmp_path):
    os.symlink("../../../../../../../../tmp", os.path.join(bundle.rootfs, "up"))
    bundle.edit(lambda c: c["mounts"].append({"destination": "/up/clamped", "type": "tmpfs", "source": "tmpfs"}))
    code, out, err = run_container(runtime, bundle, "grep", "-c", " /tmp/clamped ", "/proc/self/mountinfo")
    assert code == 0 and out.strip() == "1", err
    assert not os.path.exists("/tmp/clamped")


def test_racing_swap_to_symlink_never_reaches_the_host(runtime, bundle, tmp_path):
    """A process in a shared volume flips a directory and a symlink to a host path."""
    outside = tmp_path / "target"
    outside.mkdir()
    race = os.path.join(bundle.rootfs, "race")
    stop = threading.Event()

    def flipper():
        while not stop.is_set():
            try:
                os.rename(race, race + ".d") if os.path.isdir(race) and not os.path.islink(race) else None
                tmp = race + ".l"
                if not os.path.lexists(tmp):
                    os.symlink(str(outside), tmp)
                os.replace(tmp, race)
                os.unlink(race)
                if os.path.isdir(race + ".d"):
                    os.rename(race + ".d", race)
            except OSError:
                pass

    os.mkdir(race)
    bundle.edit(lambda c: c["mounts"].append({"destination": "/race/sub", "type": "tmpfs", "source": "tmpfs"}))
    thread = threading.Thread(target=flipper, daemon=True)
    thread.start()
    try:
        for _ in range(15):
            run_container(runtime, bundle, "true")
    finally:
        stop.set()
        thread.join()
    assert os.listdir(outside) == [], "a directory was created through the symlink on the host"
