"""CVE-2019-16884 class: nothing but procfs may be mounted on /proc, and nothing
over the procfs files the runtime writes."""
from __future__ import annotations

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
