"""pyruntime-cri's configuration: a TOML file where every key has a default; flags override it.

    socket = "/run/pyruntime-cri/cri.sock"   # the CRI endpoint kubelet and crictl dial
    root = "/var/lib/pyruntime-cri"          # records, images, bundles (kept across reboots)
    state = "/run/pyruntime-cri"             # exit files, namespace pins, runtime state
    log_level = "info"                       # debug, info, warning, error
    default_runtime = "pyruntime"            # the handler for pods without a RuntimeClass
    conmon = "/usr/bin/conmon"               # the per-container monitor
    sandbox_image = "registry.k8s.io/pause:3.10"
    cgroup_parent = "/pyruntime-cri"         # for pods whose config names none
    registry_timeout = 30                    # seconds a registry may stay silent before a pull fails
    registry_config_path = "/etc/pyruntime-cri/certs.d"  # <host>/hosts.toml: mirrors, plain HTTP, TLS
                                             # (containerd's layout: one directory can serve both)
    registry_auth_file = ""                  # a Docker config.json: credentials for pulls that bring none
    pull_worker_idle = 10                    # seconds the pull worker process outlives its last pull
    stream_address = "127.0.0.1"             # the streaming server (exec, attach, port-forward)
    stream_port = 0                          # 0: a free port, chosen at start
    stream_tls_cert = ""                     # with stream_tls_key: the streaming server speaks TLS
    stream_tls_key = ""

    [runtimes.<handler>]                     # one per RuntimeClass handler
    path = "/usr/local/bin/pyruntime"        # an OCI runtime with runc's CLI
    root = ""                                # its --root (default: <state>/runtimes/<handler>)

    [cni]
    conf_dir = "/etc/cni/net.d"              # the first *.conflist / *.conf by name is used
    bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]

The typed form is frozen: the adapter reads it, never changes it.
"""
from __future__ import annotations

import dataclasses
import tomllib
from types import MappingProxyType

from .errors import InvalidArgument

PYRUNTIME = "/usr/local/bin/pyruntime"


@dataclasses.dataclass(frozen=True)
class Runtime:
    path: str
    root: str


@dataclasses.dataclass(frozen=True)
class Config:
    socket: str = "/run/pyruntime-cri/cri.sock"
    root: str = "/var/lib/pyruntime-cri"
    state: str = "/run/pyruntime-cri"
    log_level: str = "info"
    default_runtime: str = "pyruntime"
    conmon: str = "/usr/bin/conmon"
    sandbox_image: str = "registry.k8s.io/pause:3.10"
    cgroup_parent: str = "/pyruntime-cri"
    registry_timeout: int = 30
    registry_config_path: str = "/etc/pyruntime-cri/certs.d"
    registry_auth_file: str = ""
    pull_worker_idle: int = 10
    stream_address: str = "127.0.0.1"
    stream_port: int = 0
    stream_tls_cert: str = ""
    stream_tls_key: str = ""
    cni_conf_dir: str = "/etc/cni/net.d"
    cni_bin_dirs: tuple[str, ...] = ("/usr/lib/cni", "/opt/cni/bin")
    runtimes: MappingProxyType = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def runtime(self, handler: str) -> tuple[str, Runtime]:
        """The handler's name and runtime; "" is the default handler."""
        name = handler or self.default_runtime
        try:
            return name, self.runtimes[name]
        except KeyError:
            raise InvalidArgument(f"runtime handler {name!r} is not configured "
                                  f"(have: {', '.join(sorted(self.runtimes))})") from None


_SCALARS = {f.name: f for f in dataclasses.fields(Config)
            if f.name not in ("runtimes", "cni_bin_dirs", "cni_conf_dir")}


def load(path: str | None, overrides: dict) -> Config:
    """The file's settings (or none) with ``overrides`` (flags that were given) on top."""
    data: dict = {}
    if path:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgument(f"{path}: {exc}") from None
    return from_dict(data, overrides, path or "config")


def from_dict(data: dict, overrides: dict | None = None, source: str = "config") -> Config:
    data = dict(data)
    values: dict = {}
    for name, field in _SCALARS.items():
        if name in data:
            value = data.pop(name)
            if not isinstance(value, type(field.default)) or isinstance(value, bool) != isinstance(field.default, bool):
                raise InvalidArgument(f"{source}: {name}: expected {type(field.default).__name__}, got {value!r}")
            values[name] = value
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    cni = dict(data.pop("cni", {}))
    values["cni_conf_dir"] = cni.pop("conf_dir", Config.cni_conf_dir)
    values["cni_bin_dirs"] = tuple(cni.pop("bin_dirs", Config.cni_bin_dirs))
    state = values.get("state", Config.state)
    runtimes = {"pyruntime": Runtime(PYRUNTIME, "")}
    for name, table in data.pop("runtimes", {}).items():
        table = dict(table)
        runtimes[name] = Runtime(table.pop("path", PYRUNTIME), table.pop("root", ""))
        _no_more(table, f"{source}: runtimes.{name}")
    runtimes = {name: Runtime(rt.path, rt.root or f"{state}/runtimes/{name}") for name, rt in runtimes.items()}
    _no_more(cni, f"{source}: cni")
    _no_more(data, source)
    config = Config(**values, runtimes=MappingProxyType(runtimes))
    config.runtime("")  # the default handler must exist
    if bool(config.stream_tls_cert) != bool(config.stream_tls_key):
        raise InvalidArgument(f"{source}: stream_tls_cert and stream_tls_key go together")
    return config


def _no_more(table: dict, where: str) -> None:
    if table:
        raise InvalidArgument(f"{where}: unknown key {sorted(table)[0]!r}")
