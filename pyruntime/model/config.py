"""The typed, frozen model of config.json (runtime-spec 1.3.0, Linux).

Everything after parsing consumes these classes; JSON exists only at the
edges (``model.parse`` in, ``state`` out). Lists become tuples, absent
optional sections are ``None`` (so "not set" and "empty" stay distinct where
the spec gives them different meanings, e.g. capabilities), and field names
are the Python spelling of the JSON ones.

Sections most containers do not use live in sibling modules (``resources``,
``limits``, ``seccomp``, ``tuning``), imported by ``model.parse`` only when a config has
them: each frozen dataclass costs start-up time to create.
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # for readers and type checkers; never imported at run time
    from pyruntime.model.resources import Resources
    from pyruntime.model.seccomp import Seccomp
    from pyruntime.model.tuning import ExecCPUAffinity, IntelRdt, IOPriority, MemoryPolicy, Personality, Scheduler


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
