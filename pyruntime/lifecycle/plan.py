"""Everything create will do, decided before the first fork (pure).

``make_plan(spec, options, host)`` combines the per-concern plans
(namespaces, mount steps, capabilities, cgroup path) into one frozen
``ContainerPlan``. It reads no files: the few host facts it needs arrive in
``HostFacts``, so golden tests can run it without root.
"""
from __future__ import annotations

import os
from pyruntime.startup.dataclass import dataclass, field

from pyruntime.cgroups.layout import Layout
from pyruntime.cgroups import path as cgpath
from pyruntime.errors import ConfigError
from pyruntime import linux as m
from pyruntime.model.config import Spec
from pyruntime.namespaces import plan as nsplan
from pyruntime.process import caps as capsplan
from pyruntime.rootfs import plan as rootplan

# linux.rootfsPropagation: applied to the new "/" only, after pivot_root (0: leave rslave)
# runc's mapping: the recursive forms are not in runtime-spec's list, but containerd's CRI
# writes rshared/rslave for pods with Bidirectional/HostToContainer volumes (PRINCIPLES.md)
PROPAGATION = {"": 0, "slave": m.MS_SLAVE, "private": m.MS_PRIVATE,
               "shared": m.MS_SHARED, "unbindable": m.MS_UNBINDABLE,
               "rslave": m.MS_SLAVE | m.MS_REC, "rprivate": m.MS_PRIVATE | m.MS_REC,
               "rshared": m.MS_SHARED | m.MS_REC, "runbindable": m.MS_UNBINDABLE | m.MS_REC}


@dataclass(frozen=True)
class CreateOptions:
    """What the command line adds to the bundle."""
    id: str
    bundle: str
    pid_file: str = ""
    console_socket: str = ""
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0
    systemd_cgroup: bool = False
    rootless: bool = False  # may go without a cgroup the host refuses (runc's rootless cgroup rule)


@dataclass(frozen=True)
class HostFacts:
    """What the plan needs to know about the machine (read on the host, by the parent)."""
    layout: Layout
    last_cap: int
    held_caps: int = -1  # the runtime's permitted set (-1: not limited, e.g. tests)
    systemd: bool = False  # booted with systemd: --systemd-cgroup makes the cgroup a systemd unit


@dataclass(frozen=True)
class ContainerPlan:
    """A container, fully decided."""
    options: CreateOptions
    spec: Spec
    rootfs: str
    ns: nsplan.NamespacePlan
    mounts: tuple
    cgroup_path: str
    cgroup_layout: Layout
    caps: capsplan.CapPlan
    root_propagation: int
    warnings: tuple[str, ...] = field(default=())
    resctrl: object = None  # resctrl.ResctrlPlan with linux.intelRdt
    systemd_unit: tuple | None = None  # (slice, unit): systemd makes the cgroup (cgroups.systemd)

    @property
    def id(self) -> str:
        return self.options.id

    @property
    def cgroup_self_join(self) -> bool:
        """Whether the init joins its cgroup itself (see cgroups.fs.join_v1).

        Not with a user namespace: its root is not the owner of the host's cgroup
        files, so the parent writes the pid there instead. Not with the systemd
        driver: the cgroup exists only once systemd has put the init in its unit.
        """
        return not self.ns.has("user") and self.systemd_unit is None


def make_plan(spec: Spec, options: CreateOptions, host: HostFacts) -> ContainerPlan:
    problems = []
    ns = nsplan.plan(spec.linux)
    if not ns.has("mount"):
        # runc's rules: without a mount namespace the mounts land in the host's (delete
        # removes them), but nothing that would change the host's existing mounts
        for name, value in (("linux.maskedPaths", spec.linux.masked_paths),
                             ("linux.readonlyPaths", spec.linux.readonly_paths),
                             ("root.readonly", spec.root.readonly),
                             ("linux.rootfsPropagation", spec.linux.rootfs_propagation)):
            if value:
                problems.append(f"{name}: needs a mount namespace (it would change the host's mounts)")
    if spec.linux.resources is not None:  # the cgroup writes' refusals, before any cgroup exists
        from pyruntime.cgroups.resources import write_problems
        problems += write_problems(spec.linux.resources, host.layout)
    # a joined uts namespace may be renamed too (runc allows it); the host's may not
    if spec.hostname and not ns.has("uts"):
        problems.append("hostname: setting it needs a uts namespace")
    if spec.domainname and not ns.has("uts"):
        problems.append("domainname: setting it needs a uts namespace")
    if problems:
        raise ConfigError(problems)
    rootfs = spec.root.path if os.path.isabs(spec.root.path) else os.path.join(options.bundle, spec.root.path)
    # in a user namespace of its own the init holds every capability there
    held = -1 if ns.has("user") else host.held_caps
    caps, warnings = capsplan.plan(spec.process.capabilities, last=host.last_cap, held=held)
    systemd_unit = None
    if options.systemd_cgroup:
        systemd_unit = cgpath.unit(spec.linux.cgroups_path, options.id)
        if not host.systemd:
            systemd_unit = None
            warnings.append("--systemd-cgroup: this host was not booted with systemd: the cgroup is made "
                            "at its systemd path by pyruntime itself, not as a systemd unit")
    resctrl = None
    if spec.linux.intel_rdt is not None:
        from pyruntime import resctrl as rdt
        resctrl = rdt.plan(spec.linux.intel_rdt, options.id)
    return ContainerPlan(
        options=options,
        spec=spec,
        rootfs=os.path.normpath(rootfs),
        ns=ns,
        # no device nodes in a user namespace: the container's, or the one a rootless runtime runs in
        mounts=tuple(rootplan.plan(spec, options.bundle, can_mknod=not (ns.has("user") or options.rootless))),
        cgroup_path=cgpath.resolve(spec.linux.cgroups_path, options.id, options.systemd_cgroup),
        cgroup_layout=host.layout,
        caps=caps,
        root_propagation=PROPAGATION[spec.linux.rootfs_propagation],
        warnings=tuple(warnings),
        resctrl=resctrl,
        systemd_unit=systemd_unit,
    )
