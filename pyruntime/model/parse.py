"""config.json into the frozen spec model, in one pass that checks every value as it converts it.

This is the one place that knows a config's shape: each field's name, type, range, pattern
and enum, read by the small functions below, one per spec object. A value that does not
fit is recorded with its JSON path, and reading goes on (the field takes its default), so
one pass lists every problem. ``spec/config.schema.json`` says the same in the standard
language and is the test oracle: jsonschema and this parser see the same valid documents
and seeded mutations of them, and must agree on each (tests/unit/test_schema_oracle.py).
The schema's regular expressions are functions here (``patterns``: ``re`` would cost the
create path about 5 ms), each checked against ``re`` by tests/unit/test_patterns.py.

Rules that relate fields to each other (namespaces and sysctls, mappings) are in
``validate``; they run on the typed spec, once it has the right shape.
"""
from __future__ import annotations

from pyruntime import linux
from pyruntime.errors import ConfigError
from pyruntime.model import config as c, patterns

INT32 = (-(1 << 31), (1 << 31) - 1)
UINT16 = (0, (1 << 16) - 1)
UINT32 = (0, (1 << 32) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, (1 << 64) - 1)

NAMESPACES = tuple(linux.NAMESPACE_FLAGS)
PROPAGATIONS = ("private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable")
SECCOMP_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
SECCOMP_ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
                  "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
                  "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
                  "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                  "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64")
SECCOMP_FLAGS = tuple(linux.SECCOMP_FILTER_FLAGS)
SECCOMP_OPS = tuple(linux.SECCOMP_OPS)
MPOL_MODES = tuple(linux.MPOL_MODE)
MPOL_FLAGS = tuple(linux.MPOL_FLAGS)
PERSONALITY_DOMAINS = tuple(linux.PERSONALITY)
IOPRIO_CLASSES = tuple(linux.IOPRIO_CLASS)
SCHED_POLICIES = tuple(linux.SCHED_POLICY)
SCHED_FLAGS = tuple(linux.SCHED_FLAGS)
HOOK_STEPS = (("prestart", "prestart"), ("createRuntime", "create_runtime"),
              ("createContainer", "create_container"), ("startContainer", "start_container"),
              ("poststart", "poststart"), ("poststop", "poststop"))

_ABSENT = object()


def _join(at: str, rest: str) -> str:
    """A JSON path below ``at`` ("" at the top of a document)."""
    return f"{at}.{rest}" if at else rest
_KIND = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
         type(None): "null"}


def _show(value) -> str:
    import json  # only for a problem's message
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Reader:
    """Reads one document, recording each problem as (JSON path, what is wrong)."""

    __slots__ = ("problems",)

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def wrong_type(self, value, at: str, expected: str):
        got = "null" if value is None else f"{_KIND.get(type(value), type(value).__name__)} {_show(value)}"
        article = "an" if expected in ("integer", "array", "object") else "a"
        self.problems.append((at, f"expected {article} {expected}, got {got}"))
        return None

    # -- values: each returns the converted value, or None after recording a problem
    def obj(self, value, at: str) -> dict | None:
        return value if type(value) is dict else self.wrong_type(value, at, "object")

    def array(self, value, at: str, non_empty: bool = False) -> list | None:
        if type(value) is not list:
            return self.wrong_type(value, at, "array")
        if non_empty and not value:
            self.problems.append((at, "must be a non-empty array"))
        return value

    def boolean(self, value, at: str) -> bool | None:
        return value if type(value) is bool else self.wrong_type(value, at, "boolean")

    def string(self, value, at: str, enum: tuple = (), pattern: str = "") -> str | None:
        if type(value) is not str:
            self.wrong_type(value, at, "string")
            if enum:  # the schema's two rules, each broken (as jsonschema reports them)
                self.problems.append((at, f"must be one of {', '.join(enum)}; got {_show(value)}"))
            return None
        if enum and value not in enum:
            self.problems.append((at, f"must be one of {', '.join(enum)}; got {_show(value)}"))
        elif pattern and not patterns.REGEX_PATTERNS[pattern].search(value):
            self.problems.append((at, f"must match {pattern}; got {_show(value)}"))
        return value

    def integer(self, value, at: str, bounds: tuple[int, int] = INT64) -> int | None:
        given = value
        if type(value) is not int:
            if type(value) is not float:  # a bool is not a number either
                return self.wrong_type(value, at, "integer")
            if not value.is_integer():  # JSON Schema (draft 7) counts 2.0 as an integer
                self.wrong_type(value, at, "integer")
                value = None  # its range is checked too, as jsonschema does
        lo, hi = bounds
        if given < lo:
            self.problems.append((at, f"must be at least {lo}, got {given}"))
        elif given > hi:
            self.problems.append((at, f"must be at most {hi}, got {given}"))
        return int(given) if value is not None else None

    def strings(self, value, at: str) -> tuple[str, ...]:
        items = self.array(value, at)
        if items is None:
            return ()
        for i, item in enumerate(items):
            if type(item) is not str:
                self.wrong_type(item, f"{at}[{i}]", "string")
        return tuple(items)

    def string_map(self, value, at: str) -> dict:
        d = self.obj(value, at)
        if d is None:
            return {}
        for key, item in d.items():
            if type(item) is not str:
                self.wrong_type(item, _join(at, f"{key}"), "string")
        return dict(d)

    def objects(self, value, at: str, read) -> tuple:
        """An array of objects, each converted by ``read(reader, object, path)``."""
        items = self.array(value, at)
        out = []
        for i, item in enumerate(items or ()):
            d = self.obj(item, f"{at}[{i}]")
            if d is not None:
                out.append(read(self, d, f"{at}[{i}]"))
        return tuple(out)

    # -- fields of an object
    def field(self, d: dict, key: str, at: str, convert, default=None, **how):
        """``convert(d[key], path, **how)``, or ``default`` when the key is absent."""
        value = d.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        out = convert(value, _join(at, f"{key}") if at else key, **how)
        return default if out is None else out

    def required(self, d: dict, keys: tuple[str, ...], at: str) -> bool:
        missing = [k for k in keys if k not in d]
        for key in missing:
            self.problems.append((_join(at, f"{key}") if at else key, "is required"))
        return not missing

    def closed(self, d: dict, allowed: tuple[str, ...], at: str) -> None:
        """An object that takes only the named keys (the schema's additionalProperties: false)."""
        extra = sorted(k for k in d if k not in allowed)  # as jsonschema lists them
        if extra:
            which = ", ".join(repr(k) for k in extra)
            self.problems.append((at, f"Additional properties are not allowed ({which} "
                                      f"{'was' if len(extra) == 1 else 'were'} unexpected)"))

    def lines(self, strip: str = "") -> list[str]:
        """Every problem, one line each, in path order (``strip``: a prefix the caller's document lacks)."""
        out = []
        for at, text in sorted(self.problems, key=lambda p: p[0]):
            if strip and (at == strip or at.startswith(strip + ".") or at.startswith(strip + "[")):
                at = at[len(strip):].lstrip(".")
            out.append(f"{at or '(document)'}: {text}")
        return out


# -- one function per spec object: (reader, object, its JSON path) -> model value

def id_mapping(r: Reader, d: dict, at: str) -> c.IDMapping:
    r.required(d, ("containerID", "hostID", "size"), at)
    f = r.field
    return c.IDMapping(f(d, "containerID", at, r.integer, 0, bounds=UINT32),
                       f(d, "hostID", at, r.integer, 0, bounds=UINT32), f(d, "size", at, r.integer, 0, bounds=UINT32))


def id_mappings(r: Reader, d: dict, key: str, at: str) -> tuple[c.IDMapping, ...]:
    return r.field(d, key, at, r.objects, (), read=id_mapping)


def user(r: Reader, d: dict, at: str) -> c.User:
    f = r.field
    gids = f(d, "additionalGids", at, r.array, ())
    return c.User(uid=f(d, "uid", at, r.integer, 0, bounds=UINT32), gid=f(d, "gid", at, r.integer, 0, bounds=UINT32),
                  umask=f(d, "umask", at, r.integer, None, bounds=UINT32),
                  additional_gids=tuple(g for i, g in enumerate(gids)
                                        if r.integer(g, _join(at, f"additionalGids[{i}]"), UINT32) is not None),
                  username=f(d, "username", at, r.string, ""))


def capabilities(r: Reader, d: dict, at: str) -> c.Capabilities:
    return c.Capabilities(*(r.field(d, k, at, r.strings, None)
                            for k in ("bounding", "effective", "inheritable", "permitted", "ambient")))


def rlimit(r: Reader, d: dict, at: str) -> c.Rlimit:
    r.required(d, ("type", "soft", "hard"), at)
    f = r.field
    return c.Rlimit(f(d, "type", at, r.string, "", pattern="^RLIMIT_[A-Z]+$"),
                    f(d, "soft", at, r.integer, 0, bounds=UINT64), f(d, "hard", at, r.integer, 0, bounds=UINT64))


def process(r: Reader, d: dict, at: str = "process") -> c.Process:
    r.required(d, ("cwd", "args"), at)
    f = r.field
    size = f(d, "consoleSize", at, r.obj)
    if size is not None:
        r.required(size, ("height", "width"), _join(at, "consoleSize"))
    cap = f(d, "capabilities", at, r.obj)
    usr = f(d, "user", at, r.obj, {})
    return c.Process(
        args=f(d, "args", at, r.strings, ()) if r.field(d, "args", at, r.array, (), non_empty=True) else (),
        cwd=f(d, "cwd", at, r.string, "/"),
        env=f(d, "env", at, r.strings, ()),
        terminal=f(d, "terminal", at, r.boolean, False),
        console_size=c.ConsoleSize(f(size, "height", _join(at, "consoleSize"), r.integer, 0, bounds=UINT64),
                                   f(size, "width", _join(at, "consoleSize"), r.integer, 0, bounds=UINT64))
        if size is not None else None,
        user=user(r, usr, _join(at, "user")),
        command_line=f(d, "commandLine", at, r.string, ""),
        capabilities=capabilities(r, cap, _join(at, "capabilities")) if cap is not None else None,
        rlimits=f(d, "rlimits", at, r.objects, (), read=rlimit),
        no_new_privileges=f(d, "noNewPrivileges", at, r.boolean, False),
        apparmor_profile=f(d, "apparmorProfile", at, r.string, ""),
        oom_score_adj=f(d, "oomScoreAdj", at, r.integer, None, bounds=(-1000, 1000)),
        selinux_label=f(d, "selinuxLabel", at, r.string, ""),
        io_priority=_optional(r, d, "ioPriority", at, _io_priority),
        scheduler=_optional(r, d, "scheduler", at, _scheduler),
        exec_cpu_affinity=_optional(r, d, "execCPUAffinity", at, _affinity),
    )


def _optional(r: Reader, d: dict, key: str, at: str, read):
    """An optional object field converted by ``read`` (its module is imported only if present)."""
    value = r.field(d, key, at, r.obj)
    return read(r, value, _join(at, f"{key}")) if value is not None else None


def _io_priority(r: Reader, d: dict, at: str):
    from pyruntime.model.tuning import IOPriority
    r.required(d, ("class",), at)
    return IOPriority(r.field(d, "class", at, r.string, "IOPRIO_CLASS_BE", enum=IOPRIO_CLASSES),
                      r.field(d, "priority", at, r.integer, 0, bounds=INT32))


def _scheduler(r: Reader, d: dict, at: str):
    from pyruntime.model.tuning import Scheduler
    r.required(d, ("policy",), at)
    f = r.field
    flags = f(d, "flags", at, r.array, ())
    return Scheduler(f(d, "policy", at, r.string, "SCHED_OTHER", enum=SCHED_POLICIES),
                     f(d, "nice", at, r.integer, 0, bounds=INT32), f(d, "priority", at, r.integer, 0, bounds=INT32),
                     tuple(x for i, x in enumerate(flags)
                           if r.string(x, _join(at, f"flags[{i}]"), enum=SCHED_FLAGS) in SCHED_FLAGS),
                     f(d, "runtime", at, r.integer, 0, bounds=UINT64), f(d, "deadline", at, r.integer, 0, bounds=UINT64),
                     f(d, "period", at, r.integer, 0, bounds=UINT64))


def _affinity(r: Reader, d: dict, at: str):
    from pyruntime.model.tuning import ExecCPUAffinity
    return ExecCPUAffinity(r.field(d, "initial", at, r.string, "", pattern="^[0-9, -]*$"),
                           r.field(d, "final", at, r.string, "", pattern="^[0-9, -]*$"))


def mount(r: Reader, d: dict, at: str) -> c.Mount:
    r.required(d, ("destination",), at)
    f = r.field
    destination = f(d, "destination", at, r.string, "/")
    if not destination.startswith("/"):  # runtime-spec: relative to "/" (deprecated, allowed)
        destination = "/" + destination
    return c.Mount(destination=destination, type=f(d, "type", at, r.string, ""),
                   source=f(d, "source", at, r.string, ""), options=f(d, "options", at, r.strings, ()),
                   uid_mappings=id_mappings(r, d, "uidMappings", at),
                   gid_mappings=id_mappings(r, d, "gidMappings", at))


def hook(r: Reader, d: dict, at: str) -> c.Hook:
    r.required(d, ("path",), at)
    f = r.field
    return c.Hook(f(d, "path", at, r.string, ""), f(d, "args", at, r.strings, ()), f(d, "env", at, r.strings, ()),
                  f(d, "timeout", at, r.integer, None, bounds=(1, INT64[1])))


def hooks(r: Reader, d: dict, at: str = "hooks") -> c.Hooks:
    return c.Hooks(*(r.field(d, key, at, r.objects, (), read=hook) for key, _ in HOOK_STEPS))


def _device_rule(r: Reader, d: dict, at: str):
    from pyruntime.model.resources import DeviceRule
    r.required(d, ("allow",), at)
    f = r.field
    return DeviceRule(f(d, "allow", at, r.boolean, False), f(d, "type", at, r.string, "", pattern="^[abcu]?$") or "a",
                      f(d, "major", at, r.integer, None), f(d, "minor", at, r.integer, None),
                      f(d, "access", at, r.string, "", pattern="^[rwm]*$") or "rwm")


def _throttle(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import DeviceThrottle
    r.required(d, ("major", "minor"), at)
    f = r.field
    return DeviceThrottle(f(d, "major", at, r.integer, 0), f(d, "minor", at, r.integer, 0),
                          f(d, "rate", at, r.integer, 0, bounds=UINT64))


def _weight(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import DeviceWeight
    r.required(d, ("major", "minor"), at)
    f = r.field
    return DeviceWeight(f(d, "major", at, r.integer, 0), f(d, "minor", at, r.integer, 0),
                        f(d, "weight", at, r.integer, None, bounds=UINT16),
                        f(d, "leafWeight", at, r.integer, None, bounds=UINT16))


def _memory(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import Memory
    f = r.field
    return Memory(*(f(d, k, at, r.integer, None) for k in ("limit", "reservation", "swap", "kernel", "kernelTCP")),
                  f(d, "swappiness", at, r.integer, None, bounds=UINT64),
                  *(f(d, k, at, r.boolean, None) for k in ("disableOOMKiller", "useHierarchy", "checkBeforeUpdate")))


def _cpu(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import CPU
    f = r.field
    return CPU(f(d, "shares", at, r.integer, None, bounds=UINT64), f(d, "quota", at, r.integer, None),
               f(d, "burst", at, r.integer, None, bounds=UINT64), f(d, "period", at, r.integer, None, bounds=UINT64),
               f(d, "realtimeRuntime", at, r.integer, None),
               f(d, "realtimePeriod", at, r.integer, None, bounds=UINT64),
               f(d, "cpus", at, r.string, None), f(d, "mems", at, r.string, None), f(d, "idle", at, r.integer, None))


def _block_io(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import BlockIO
    f = r.field
    return BlockIO(f(d, "weight", at, r.integer, None, bounds=UINT16),
                   f(d, "leafWeight", at, r.integer, None, bounds=UINT16),
                   f(d, "weightDevice", at, r.objects, (), read=_weight),
                   *(f(d, k, at, r.objects, (), read=_throttle)
                     for k in ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                               "throttleWriteIOPSDevice")))


def _hugepage(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import HugepageLimit
    r.required(d, ("pageSize", "limit"), at)
    return HugepageLimit(r.field(d, "pageSize", at, r.string, "", pattern="^[1-9][0-9]*[KMG]B$"),
                         r.field(d, "limit", at, r.integer, 0, bounds=UINT64))


def _priority(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import NetPriority
    r.required(d, ("name", "priority"), at)
    return NetPriority(r.field(d, "name", at, r.string, ""), r.field(d, "priority", at, r.integer, 0, bounds=UINT32))


def _network(r: Reader, d: dict, at: str):
    from pyruntime.model.limits import Network
    return Network(r.field(d, "classID", at, r.integer, None, bounds=UINT32),
                   r.field(d, "priorities", at, r.objects, (), read=_priority))


def _rdma(r: Reader, d: dict, at: str) -> dict:
    from pyruntime.model.limits import Rdma
    out = {}
    for device, value in d.items():
        limit = r.obj(value, _join(at, f"{device}"))
        if limit is not None:
            out[device] = Rdma(r.field(limit, "hcaHandles", _join(at, f"{device}"), r.integer, None, bounds=UINT32),
                               r.field(limit, "hcaObjects", _join(at, f"{device}"), r.integer, None, bounds=UINT32))
    return out


def resources(r: Reader, d: dict, at: str = "linux.resources"):
    from pyruntime.model.resources import Resources
    f = r.field
    pids = f(d, "pids", at, r.obj)
    if pids is not None:
        r.required(pids, ("limit",), _join(at, "pids"))
    limits = {name: read(r, value, _join(at, f"{key}")) for key, name, read in (
        ("memory", "memory", _memory), ("cpu", "cpu", _cpu), ("blockIO", "block_io", _block_io),
        ("network", "network", _network), ("rdma", "rdma", _rdma))
        if (value := f(d, key, at, r.obj)) is not None}
    hugepages = f(d, "hugepageLimits", at, r.objects, (), read=_hugepage)
    if hugepages:
        limits["hugepage_limits"] = hugepages
    return Resources(devices=f(d, "devices", at, r.objects, (), read=_device_rule),
                     pids_limit=f(pids, "limit", _join(at, "pids"), r.integer, None) if pids is not None else None,
                     unified=f(d, "unified", at, r.string_map, {}), **limits)


def _syscall_arg(r: Reader, d: dict, at: str):
    from pyruntime.model.seccomp import SyscallArg
    r.required(d, ("index", "value", "op"), at)
    f = r.field
    return SyscallArg(f(d, "index", at, r.integer, 0, bounds=UINT32), f(d, "value", at, r.integer, 0, bounds=UINT64),
                      f(d, "op", at, r.string, "SCMP_CMP_EQ", enum=SECCOMP_OPS),
                      f(d, "valueTwo", at, r.integer, 0, bounds=UINT64))


def _syscall(r: Reader, d: dict, at: str):
    from pyruntime.model.seccomp import SyscallRule
    r.required(d, ("names", "action"), at)
    f = r.field
    names = f(d, "names", at, r.strings, ()) if f(d, "names", at, r.array, (), non_empty=True) else ()
    return SyscallRule(names, f(d, "action", at, r.string, "SCMP_ACT_ALLOW", enum=SECCOMP_ACTIONS),
                       f(d, "errnoRet", at, r.integer, None, bounds=UINT32),
                       f(d, "args", at, r.objects, (), read=_syscall_arg))


def _enums(r: Reader, d: dict, key: str, at: str, enum: tuple) -> tuple[str, ...]:
    items = r.field(d, key, at, r.array, ())
    return tuple(x for i, x in enumerate(items) if r.string(x, _join(at, f"{key}[{i}]"), enum=enum) in enum)


def seccomp(r: Reader, d: dict, at: str = "linux.seccomp"):
    from pyruntime.model import seccomp as sc
    r.required(d, ("defaultAction",), at)
    f = r.field
    return sc.Seccomp(
        default_action=f(d, "defaultAction", at, r.string, "SCMP_ACT_ALLOW", enum=SECCOMP_ACTIONS),
        default_errno_ret=f(d, "defaultErrnoRet", at, r.integer, None, bounds=UINT32),
        architectures=_enums(r, d, "architectures", at, SECCOMP_ARCHES),
        flags=_enums(r, d, "flags", at, SECCOMP_FLAGS),
        listener_path=f(d, "listenerPath", at, r.string, ""),
        listener_metadata=f(d, "listenerMetadata", at, r.string, ""),
        syscalls=f(d, "syscalls", at, r.objects, (), read=_syscall))


def _namespace(r: Reader, d: dict, at: str) -> c.Namespace:
    r.required(d, ("type",), at)
    return c.Namespace(r.field(d, "type", at, r.string, "", enum=NAMESPACES), r.field(d, "path", at, r.string, ""))


def _device(r: Reader, d: dict, at: str) -> c.Device:
    r.required(d, ("type", "path"), at)
    f = r.field
    return c.Device(f(d, "type", at, r.string, "c", pattern="^[cbup]$"), f(d, "path", at, r.string, "/"),
                    f(d, "major", at, r.integer, 0), f(d, "minor", at, r.integer, 0),
                    f(d, "fileMode", at, r.integer, None, bounds=(0, 511)),
                    f(d, "uid", at, r.integer, None, bounds=UINT32), f(d, "gid", at, r.integer, None, bounds=UINT32))


def _time_offsets(r: Reader, d: dict, at: str) -> dict:
    from pyruntime.model.tuning import TimeOffset
    r.closed(d, ("boottime", "monotonic"), at)
    out = {}
    for clock in ("boottime", "monotonic"):
        offset = r.field(d, clock, at, r.obj)
        if offset is not None:
            out[clock] = TimeOffset(r.field(offset, "secs", _join(at, f"{clock}"), r.integer, 0),
                                    r.field(offset, "nanosecs", _join(at, f"{clock}"), r.integer, 0, bounds=UINT32))
    return out


def _net_devices(r: Reader, d: dict, at: str) -> dict:
    out = {}
    for host_name, value in d.items():
        entry = r.obj(value, _join(at, f"{host_name}"))
        if entry is not None:
            out[host_name] = r.field(entry, "name", _join(at, f"{host_name}"), r.string, "") or host_name
    return out


def _intel_rdt(r: Reader, d: dict, at: str):
    from pyruntime.model.tuning import IntelRdt
    f = r.field
    return IntelRdt(f(d, "closID", at, r.string, ""), f(d, "schemata", at, r.strings, ()),
                    f(d, "l3CacheSchema", at, r.string, ""), f(d, "memBwSchema", at, r.string, "", pattern="^MB:[^\\n]*$"),
                    f(d, "enableMonitoring", at, r.boolean, False))


def _memory_policy(r: Reader, d: dict, at: str):
    from pyruntime.model.tuning import MemoryPolicy
    return MemoryPolicy(r.field(d, "mode", at, r.string, "MPOL_DEFAULT", enum=MPOL_MODES),
                        r.field(d, "nodes", at, r.string, ""), _enums(r, d, "flags", at, MPOL_FLAGS))


def _personality(r: Reader, d: dict, at: str):
    from pyruntime.model.tuning import Personality
    return Personality(r.field(d, "domain", at, r.string, "LINUX", enum=PERSONALITY_DOMAINS),
                       r.field(d, "flags", at, r.strings, ()))


def linux(r: Reader, d: dict, at: str = "linux") -> c.Linux:
    f = r.field
    return c.Linux(
        namespaces=f(d, "namespaces", at, r.objects, (), read=_namespace),
        uid_mappings=id_mappings(r, d, "uidMappings", at),
        gid_mappings=id_mappings(r, d, "gidMappings", at),
        time_offsets=_optional(r, d, "timeOffsets", at, _time_offsets) or {},
        devices=f(d, "devices", at, r.objects, (), read=_device),
        net_devices=_optional(r, d, "netDevices", at, _net_devices) or {},
        cgroups_path=f(d, "cgroupsPath", at, r.string, ""),
        resources=_optional(r, d, "resources", at, resources),
        rootfs_propagation=f(d, "rootfsPropagation", at, r.string, "", enum=PROPAGATIONS),
        seccomp=_optional(r, d, "seccomp", at, seccomp),
        sysctl=f(d, "sysctl", at, r.string_map, {}),
        masked_paths=f(d, "maskedPaths", at, r.strings, ()),
        readonly_paths=f(d, "readonlyPaths", at, r.strings, ()),
        mount_label=f(d, "mountLabel", at, r.string, ""),
        intel_rdt=_optional(r, d, "intelRdt", at, _intel_rdt),
        memory_policy=_optional(r, d, "memoryPolicy", at, _memory_policy),
        personality=_optional(r, d, "personality", at, _personality),
    )


def _root(r: Reader, d: dict, at: str) -> c.Root:
    r.required(d, ("path",), at)
    return c.Root(r.field(d, "path", at, r.string, ""), r.field(d, "readonly", at, r.boolean, False))


def read_spec(r: Reader, doc) -> c.Spec | None:
    d = r.obj(doc, "")
    if d is None:
        return None
    r.required(d, ("ociVersion",), "")
    f = r.field
    return c.Spec(
        oci_version=f(d, "ociVersion", "", r.string, "", pattern="^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?"
                                                               "(\\+[0-9A-Za-z.-]+)?$"),
        root=_optional(r, d, "root", "", _root),
        process=_optional(r, d, "process", "", process),
        hostname=f(d, "hostname", "", r.string, None),
        domainname=f(d, "domainname", "", r.string, None),
        mounts=f(d, "mounts", "", r.objects, (), read=mount),
        hooks=_optional(r, d, "hooks", "", hooks) or c.Hooks(),
        annotations=f(d, "annotations", "", r.string_map, {}),
        linux=_optional(r, d, "linux", "", linux) or c.Linux(),
    )


def _done(r: Reader, source: str, strip: str = "") -> None:
    if r.problems:
        raise ConfigError(r.lines(strip), source)


def spec(doc, source: str = "config.json") -> c.Spec:
    """A whole config (shape only: ``model.spec_from_dict`` adds the rules across fields)."""
    r = Reader()
    out = read_spec(r, doc)
    _done(r, source)
    return out


def process_document(doc, source: str, at: str = "") -> c.Process:
    """A process on its own (exec's process.json; ``at`` names it in errors, "" for a file of its own)."""
    r = Reader()
    d = r.obj(doc, at)
    out = process(r, d, at) if d is not None else None
    _done(r, source)
    return out


def resources_document(doc, source: str = "resources"):
    """A linux.resources document on its own (update's)."""
    r = Reader()
    d = r.obj(doc, "")
    out = resources(r, d, "") if d is not None else None
    _done(r, source)
    return out


def hooks_document(doc) -> c.Hooks:
    """Hooks a record from an earlier pyruntime kept only in its config copy (checked when created)."""
    return spec({"ociVersion": "1.0.0", "hooks": doc}).hooks
