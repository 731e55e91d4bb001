"""Everything create will do, decided before the first fork (pure).

``make_plan(spec, options, host)`` runs every refusal (``CHECKS``), then combines the
per-concern plans (namespaces, mount steps, the process, cgroup writes) into one frozen
``ContainerPlan``; nothing later reads the config. It reads no files: the host facts it
needs arrive in ``HostFacts``, so golden tests can run it without root.
"""
from __future__ import annotations

import os
from pyruntime.startup.dataclass import dataclass, field, fields, replace

from pyruntime.cgroups.layout import Layout
from pyruntime.cgroups import path as cgpath
from pyruntime.errors import ConfigError
from pyruntime import linux as m
from pyruntime.cgroups.devices import every_container
from pyruntime.model.config import Hooks, Spec
from pyruntime.model.resources import Resources
from pyruntime.namespaces import plan as nsplan
from pyruntime.process import plan as procplan
from pyruntime.process.plan import ProcessPlan
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
    console_provided: bool = False  # the caller holds the pty itself (run in the foreground)


@dataclass(frozen=True)
class HostFacts:
    """What the plan needs to know about the machine, probed once by the parent, on the host
    (``probe``): never read again by anything that might be inside the container."""
    layout: Layout
    last_cap: int
    held_caps: int = -1  # the runtime's permitted set (-1: not limited, e.g. tests)
    systemd: bool = False  # booted with systemd: --systemd-cgroup makes the cgroup a systemd unit
    apparmor: bool = True  # the LSMs enabled (True in tests: a label is not refused)
    selinux: bool = True
    resctrl_root: str = ""  # where resctrl is mounted ("" if not, or not asked: no linux.intelRdt)
    openat2: bool = True  # the kernel resolves paths in a root itself (else safefs.safepath walks)


@dataclass(frozen=True)
class ContainerPlan:
    """A container, fully decided: the init and the parent carry this out and decide nothing."""
    options: CreateOptions
    rootfs: str
    root_readonly: bool
    root_propagation: int
    ns: nsplan.NamespacePlan
    mounts: tuple                # rootfs.plan steps, the cgroup namespace's entry among them
    hostname: str | None
    domainname: str | None
    sysctl: dict
    process: ProcessPlan         # the container's program
    hooks: Hooks
    annotations: dict
    cgroup_path: str
    cgroup_layout: Layout
    cgroup_resources: Resources  # the writes, with the device rules every container needs
    cgroup_base_devices: tuple = ()  # those rules (cgroups.devices.every_container), kept for update
    cgroup_required: str = ""    # what needs a cgroup of its own ("": a rootless one may go without)
    warnings: tuple[str, ...] = field(default=())
    resctrl: object = None  # resctrl.ResctrlPlan with linux.intelRdt
    resctrl_root: str = ""
    systemd_unit: tuple | None = None  # (slice, unit): systemd makes the cgroup (cgroups.systemd)
    openat2: bool = True  # HostFacts.openat2, for the init's path resolution

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


def make_plan(spec: Spec, options: CreateOptions, host: HostFacts, seccomp=None) -> ContainerPlan:
    """``seccomp``: linux.seccomp compiled (seccomp.compile.Program), or None without one."""
    ns = nsplan.plan(spec.linux)
    problems = refusals(spec, options, host, ns)
    if problems:
        raise ConfigError(problems)
    rootfs = spec.root.path if os.path.isabs(spec.root.path) else os.path.join(options.bundle, spec.root.path)
    # in a user namespace of its own the init holds every capability there
    held = -1 if ns.has("user") else host.held_caps
    caps, warnings = procplan.plan_caps(spec.process.capabilities, host.last_cap, held)
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
    profile = spec.linux.seccomp
    process = procplan.plan(spec.process, caps, spec.linux.personality, spec.linux.memory_policy,
                            procplan.SeccompPlan(seccomp, profile.listener_path, profile.listener_metadata)
                            if seccomp is not None else None)
    resources = spec.linux.resources or Resources()
    base_devices = every_container(spec.linux.devices)
    return ContainerPlan(
        options=options,
        rootfs=os.path.normpath(rootfs),
        root_readonly=spec.root.readonly,
        root_propagation=PROPAGATION[spec.linux.rootfs_propagation],
        ns=ns,
        # no device nodes in a user namespace: the container's, or the one a rootless runtime runs in
        mounts=tuple(rootplan.plan(spec, options.bundle, can_mknod=not (ns.has("user") or options.rootless))),
        hostname=spec.hostname,
        domainname=spec.domainname,
        sysctl=spec.linux.sysctl,
        process=process,
        hooks=spec.hooks,
        annotations=spec.annotations,
        cgroup_path=cgpath.resolve(spec.linux.cgroups_path, options.id, options.systemd_cgroup),
        cgroup_layout=host.layout,
        cgroup_resources=replace(resources, devices=resources.devices + base_devices),
        cgroup_base_devices=base_devices,
        cgroup_required=_cgroup_required(spec),
        warnings=tuple(warnings),
        resctrl=resctrl,
        resctrl_root=host.resctrl_root,
        systemd_unit=systemd_unit,
        openat2=host.openat2,
    )


def _cgroup_required(spec: Spec) -> str:
    """What in the config needs the container's own cgroup, named (runc's rootless rule: only
    without these may a rootless container run without one). Device rules are not limits."""
    res = spec.linux.resources
    limits = ", ".join(f.name for f in fields(res) if f.name != "devices"
                       and getattr(res, f.name) not in (None, (), {})) if res is not None else ""
    if limits:
        return f"{limits} limits"
    return "linux.cgroupsPath" if spec.linux.cgroups_path else ""


# -- refusals --------------------------------------------------------------
# What the config alone cannot be refused for is refused here, against the host, the
# command line and the namespaces: each check names the field and says why, and every
# problem of every check is reported at once, before anything exists (model.validate
# has the config's own rules).

def check_mounts_need_mount_namespace(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    """runc's rules: without a mount namespace the mounts land in the host's (delete removes
    them), but nothing that would change the host's existing mounts."""
    if ns.has("mount"):
        return []
    return [f"{name}: needs a mount namespace (it would change the host's mounts)"
            for name, value in (("linux.maskedPaths", spec.linux.masked_paths),
                                ("linux.readonlyPaths", spec.linux.readonly_paths),
                                ("root.readonly", spec.root.readonly),
                                ("linux.rootfsPropagation", spec.linux.rootfs_propagation)) if value]


def check_cgroup_writes(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    """The limits this host's hierarchies cannot take (a v1 controller not mounted, `unified` on v1)."""
    if spec.linux.resources is None:
        return []
    from pyruntime.cgroups.resources import write_problems
    return write_problems(spec.linux.resources, host.layout)


def check_names_need_uts_namespace(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    """A joined uts namespace may be renamed too (runc allows it); the host's may not."""
    if ns.has("uts"):
        return []
    return [f"{name}: setting it needs a uts namespace"
            for name, value in (("hostname", spec.hostname), ("domainname", spec.domainname)) if value]


def check_console(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    """A terminal's pty master goes to --console-socket, or to the caller that holds it."""
    if spec.process.terminal and not (options.console_socket or options.console_provided):
        return ["process.terminal is true but no --console-socket was given (where its pty master goes)"]
    return []


def check_lsm_labels(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    """A label for an LSM this host has not enabled would be silently meaningless."""
    return procplan.lsm_problems(spec.process, host.apparmor, host.selinux)


def check_host_features(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    """Fields the host cannot honour, and the one pyruntime does not implement (`features` says so)."""
    out = []
    if spec.linux.intel_rdt is not None and not host.resctrl_root:
        out.append("linux.intelRdt: no resctrl filesystem is mounted (it needs a CPU with Intel RDT or "
                   "AMD PQoS and `mount -t resctrl resctrl /sys/fs/resctrl`)")
    if spec.linux.net_devices:
        out.append("linux.netDevices: not supported by pyruntime (see `pyruntime features`)")
    return out


CHECKS = (check_mounts_need_mount_namespace, check_cgroup_writes, check_names_need_uts_namespace,
          check_console, check_lsm_labels, check_host_features)


def refusals(spec: Spec, options: CreateOptions, host: HostFacts, ns) -> list[str]:
    return [problem for check in CHECKS for problem in check(spec, options, host, ns)]
