"""The typed, frozen model of config.json (runtime-spec 1.3.0, Linux).

Everything after parsing consumes these classes; JSON exists only at the
edges (``model.parse`` in, ``state`` out). Lists become tuples, absent
optional sections are ``None`` (so "not set" and "empty" stay distinct where
the spec gives them different meanings, e.g. capabilities), and field names
are the Python spelling of the JSON ones.

Every class has a docstring on purpose: dataclasses otherwise computes one
with inspect.signature at import, which shows up in start-up time.
"""
from __future__ import annotations

from dataclasses import dataclass, field



@dataclass(frozen=True)
class IDMapping:
    """size ids starting at container_id (inside) map to host_id (outside)."""
    container_id: int
    host_id: int
    size: int


@dataclass(frozen=True)
class User:
    """The identity of the container process."""
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()
    username: str = ""


@dataclass(frozen=True)
class Capabilities:
    """Capability names per set; None means the set was not given."""
    bounding: tuple[str, ...] | None = None
    effective: tuple[str, ...] | None = None
    inheritable: tuple[str, ...] | None = None
    permitted: tuple[str, ...] | None = None
    ambient: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Rlimit:
    """One setrlimit(2) call."""
    type: str
    soft: int
    hard: int


@dataclass(frozen=True)
class ConsoleSize:
    """Initial terminal size."""
    height: int
    width: int


@dataclass(frozen=True)
class IOPriority:
    """ioprio_set(2) class and level."""
    io_class: str
    priority: int = 0


@dataclass(frozen=True)
class Scheduler:
    """sched_setattr(2) parameters."""
    policy: str
    nice: int = 0
    priority: int = 0
    flags: tuple[str, ...] = ()
    runtime: int = 0
    deadline: int = 0
    period: int = 0


@dataclass(frozen=True)
class ExecCPUAffinity:
    """CPU lists for the exec'd process: before and after it joins the cgroup."""
    initial: str = ""
    final: str = ""


@dataclass(frozen=True)
class Process:
    """The container program and how it runs."""
    args: tuple[str, ...]
    cwd: str = "/"
    env: tuple[str, ...] = ()
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = field(default_factory=User)
    command_line: str = ""
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str = ""
    oom_score_adj: int | None = None
    selinux_label: str = ""
    io_priority: IOPriority | None = None
    scheduler: Scheduler | None = None
    exec_cpu_affinity: ExecCPUAffinity | None = None


@dataclass(frozen=True)
class Root:
    """The root filesystem: a path on the host, relative to the bundle or absolute."""
    path: str
    readonly: bool = False


@dataclass(frozen=True)
class Mount:
    """One entry of ``mounts``, mounted in order."""
    destination: str
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


@dataclass(frozen=True)
class Hook:
    """A program run at a lifecycle step with the state JSON on stdin."""
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None


@dataclass(frozen=True)
class Hooks:
    """Hooks per lifecycle step (runtime-spec config.md, POSIX-platform Hooks)."""
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


@dataclass(frozen=True)
class Namespace:
    """A namespace to create (no path) or to join (path)."""
    type: str
    path: str = ""


@dataclass(frozen=True)
class Device:
    """A device node to make in the container's /dev."""
    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class DeviceRule:
    """One device-cgroup rule; None major/minor/type mean 'any'."""
    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"


@dataclass(frozen=True)
class Memory:
    """Memory controller settings (bytes; -1 is unlimited)."""
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


@dataclass(frozen=True)
class CPU:
    """CPU controller settings."""
    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None


@dataclass(frozen=True)
class DeviceThrottle:
    """A per-device rate (bytes or operations per second)."""
    major: int
    minor: int
    rate: int = 0


@dataclass(frozen=True)
class DeviceWeight:
    """A per-device blkio weight."""
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@dataclass(frozen=True)
class BlockIO:
    """blkio (v1) / io (v2) controller settings."""
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[DeviceWeight, ...] = ()
    throttle_read_bps: tuple[DeviceThrottle, ...] = ()
    throttle_write_bps: tuple[DeviceThrottle, ...] = ()
    throttle_read_iops: tuple[DeviceThrottle, ...] = ()
    throttle_write_iops: tuple[DeviceThrottle, ...] = ()


@dataclass(frozen=True)
class HugepageLimit:
    """A hugetlb limit for one page size ("2MB")."""
    page_size: str
    limit: int


@dataclass(frozen=True)
class NetPriority:
    """net_prio priority of one interface."""
    name: str
    priority: int


@dataclass(frozen=True)
class Network:
    """net_cls / net_prio settings (cgroup v1 only)."""
    class_id: int | None = None
    priorities: tuple[NetPriority, ...] = ()


@dataclass(frozen=True)
class Rdma:
    """RDMA limits of one device."""
    hca_handles: int | None = None
    hca_objects: int | None = None


@dataclass(frozen=True)
class Resources:
    """linux.resources, and the document ``update --resources`` reads."""
    devices: tuple[DeviceRule, ...] = ()
    memory: Memory | None = None
    cpu: CPU | None = None
    pids_limit: int | None = None
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    rdma: dict = field(default_factory=dict)       # device name -> Rdma
    unified: dict = field(default_factory=dict)    # cgroup v2 file -> value


@dataclass(frozen=True)
class SyscallArg:
    """A condition on one syscall argument."""
    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass(frozen=True)
class SyscallRule:
    """Action for a set of syscalls, optionally only when args match."""
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SyscallArg, ...] = ()


@dataclass(frozen=True)
class Seccomp:
    """linux.seccomp."""
    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str = ""
    listener_metadata: str = ""
    syscalls: tuple[SyscallRule, ...] = ()


@dataclass(frozen=True)
class TimeOffset:
    """A time-namespace clock offset."""
    secs: int = 0
    nanosecs: int = 0


@dataclass(frozen=True)
class IntelRdt:
    """resctrl settings."""
    clos_id: str = ""
    schemata: tuple[str, ...] = ()
    l3_cache_schema: str = ""
    mem_bw_schema: str = ""
    enable_monitoring: bool = False


@dataclass(frozen=True)
class MemoryPolicy:
    """set_mempolicy(2) for the container process."""
    mode: str
    nodes: str = ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Personality:
    """personality(2) domain and flags."""
    domain: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Linux:
    """The linux section."""
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    time_offsets: dict = field(default_factory=dict)   # "monotonic"/"boottime" -> TimeOffset
    devices: tuple[Device, ...] = ()
    net_devices: dict = field(default_factory=dict)    # host name -> name in container
    cgroups_path: str = ""
    resources: Resources | None = None
    rootfs_propagation: str = ""
    seccomp: Seccomp | None = None
    sysctl: dict = field(default_factory=dict)
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str = ""
    intel_rdt: IntelRdt | None = None
    memory_policy: MemoryPolicy | None = None
    personality: Personality | None = None

    def namespace(self, kind: str) -> Namespace | None:
        """The entry for one namespace type, if the config asks for it."""
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None


@dataclass(frozen=True)
class Spec:
    """A whole config.json."""
    oci_version: str
    root: Root | None = None
    process: Process | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks = field(default_factory=Hooks)
    annotations: dict = field(default_factory=dict)
    linux: Linux = field(default_factory=Linux)
