"""pyruntime features: what this runtime implements (runtime-spec features.md).

Every list is built from the tables the code itself uses, so it cannot claim
more than is implemented.
"""
from __future__ import annotations

from pyruntime.cli.common import print_json
from pyruntime.cli.flags import parse


def features() -> dict:
    from pyruntime import SPEC_VERSION, __version__
    from pyruntime.model.names import CAPABILITIES
    from pyruntime.namespaces.plan import FLAGS as NAMESPACES
    from pyruntime.linux import MPOL_FLAGS, MPOL_MODE
    from pyruntime.rootfs.options import ALL_OPTIONS
    from pyruntime.seccomp.compile import FILTER_FLAGS, OPS
    from pyruntime.model.parse import SECCOMP_ACTIONS, SECCOMP_ARCHES
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": ALL_OPTIONS,
        "linux": {
            "namespaces": sorted(NAMESPACES),
            "capabilities": list(CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False, "rdma": True},
            "seccomp": {
                "enabled": True,
                "actions": list(SECCOMP_ACTIONS),
                "operators": sorted(OPS),
                "archs": list(SECCOMP_ARCHES),
                "knownFlags": sorted(FILTER_FLAGS),
                "supportedFlags": sorted(FILTER_FLAGS),
            },
            "apparmor": {"enabled": True},
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": True, "schemata": True, "monitoring": True},
            "memoryPolicy": {"modes": sorted(MPOL_MODE), "flags": sorted(MPOL_FLAGS)},
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": False},
        },
        "annotations": {"io.github.pyruntime.version": __version__,
                        # on a host not booted with systemd, --systemd-cgroup still works: pyruntime makes
                        # the cgroup at the unit's path itself, and warns
                        "io.github.pyruntime.systemd-cgroup.without-systemd": "cgroupfs path, with a warning"},
        "potentiallyUnsafeConfigAnnotations": [],
    }


def run(ctx, verb: str, argv: list[str]) -> int:
    parse((), argv, verb)
    print_json(features())
    return 0
