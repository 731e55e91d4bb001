"""The host facts a plan is made from, read once by the parent on the host (never from inside
a container, whose /proc and /sys may show anything)."""
from __future__ import annotations

import os


def probe(spec, options):
    """lifecycle.plan.HostFacts: everything ``make_plan`` needs for this config, for these
    CreateOptions (resctrl is looked for only when asked for)."""
    from pyruntime import cgroups
    from pyruntime.lifecycle.plan import HostFacts
    from pyruntime.process.caps import held_by_runtime, last_cap
    apparmor, selinux = lsms()
    resctrl_root = ""
    if spec.linux.intel_rdt is not None:
        from pyruntime.errors import PyruntimeError
        from pyruntime.resctrl import find_root
        try:
            resctrl_root = find_root()
        except PyruntimeError:
            pass  # refused by the plan's check, with the others
    from pyruntime.safefs.safepath import probe_openat2
    return HostFacts(cgroups.detect(), last_cap(), held_by_runtime(),
                     systemd=options.systemd_cgroup and cgroups.systemd_booted(),
                     apparmor=apparmor, selinux=selinux, resctrl_root=resctrl_root, openat2=probe_openat2())


def lsms() -> tuple[bool, bool]:
    """(AppArmor enabled, SELinux enabled)."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            apparmor = f.read().strip() == "Y"
    except OSError:
        apparmor = False
    return apparmor, os.path.exists("/sys/fs/selinux/enforce")
