"""linux.intelRdt: cache and memory-bandwidth allocation through the resctrl filesystem.

resctrl (Intel RDT, AMD PQoS) is a pseudo-filesystem like a cgroup
hierarchy: a directory is a group (a CLOS), its ``schemata`` file holds one
line per resource (``L3:0=ff;1=f0``, ``MB:0=50``), and writing a pid to its
``tasks`` file moves that task in. A group's ``mon_groups/<name>`` is a
monitoring group inside it. runtime-spec's rules (config-linux.md, IntelRdt):

    closID      group                      created if missing   removed on delete
    (unset)     <container id>             yes                  if we created it
    "/"         the root (default CLOS)    -                    never
    <name>      <name>                     only with schemata   never
                (without schemata it must exist; with schemata an existing
                group's must match them)

schemata lines are written l3CacheSchema, memBwSchema, then ``schemata``;
``enableMonitoring`` makes mon_groups/<container id>, removed on delete.

``plan`` is pure. ``apply`` runs in the parent once the init's pid is known
(before the container program can run) and returns what ``remove`` needs,
kept in the container's state; ``join`` puts an exec'd process in the group.
"""
from __future__ import annotations

import errno
import os

from pyruntime.startup.dataclass import dataclass
from pyruntime.errors import ConfigError, PyruntimeError, describe_errno
from pyruntime.fileio import read_text, write_once
from pyruntime.model.tuning import IntelRdt

FIELD = "linux.intelRdt"
_RESERVED = {"info", "mon_groups", "mon_data", ".", ".."}


@dataclass(frozen=True)
class ResctrlPlan:
    """Where the container goes and what is written there."""
    group: str                   # directory below the resctrl root; "" is the root itself
    schemata: tuple[str, ...]    # lines, in the order they are written
    may_create: bool             # no closID, or a closID with schemata
    must_match: bool             # a closID with schemata: an existing group's must agree
    removable: bool              # no closID: remove the group on delete if we made it
    monitor: str                 # MON group name ("" when monitoring is off)


def plan(rdt: IntelRdt, container_id: str) -> ResctrlPlan:
    """The spec's rules applied to one container (no host access)."""
    named = [("l3CacheSchema", rdt.l3_cache_schema), ("memBwSchema", rdt.mem_bw_schema),
             *((f"schemata[{i}]", line) for i, line in enumerate(rdt.schemata))]
    for name, value in named:
        if "\n" in value:
            raise ConfigError([f"{FIELD}.{name}: must be one line"])
        try:
            parse_schemata(value)
        except ValueError as exc:
            raise ConfigError([f"{FIELD}.{name}: {exc}"]) from None
    if rdt.mem_bw_schema and not rdt.mem_bw_schema.startswith("MB:"):
        raise ConfigError([f"{FIELD}.memBwSchema: must start with 'MB:' (got {rdt.mem_bw_schema!r})"])
    clos = rdt.clos_id
    if clos != "/" and ("/" in clos or clos in _RESERVED):
        raise ConfigError([f"{FIELD}.closID: {clos!r} is not a resctrl group name (one path component, "
                           f"not {', '.join(sorted(_RESERVED))})"])
    lines = tuple(line for line in (rdt.l3_cache_schema, rdt.mem_bw_schema) if line) + rdt.schemata
    return ResctrlPlan(
        group="" if clos == "/" else (clos or container_id),
        schemata=lines,
        may_create=not clos or bool(lines),
        must_match=bool(clos) and bool(lines),
        removable=not clos,
        monitor=container_id if rdt.enable_monitoring else "",
    )


def parse_schemata(text: str) -> dict[str, dict[str, int]]:
    """``L3:0=00ff;1=f0`` lines -> {"L3": {"0": 0xff, "1": 0xf0}}; MB values are decimal.

    The kernel prints bitmasks zero-padded and may pad lines with spaces, so
    values are compared as numbers.
    """
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        resource, sep, domains = line.partition(":")
        if not sep:
            raise ValueError(f"{line!r}: no 'RESOURCE:' prefix")
        values = out.setdefault(resource.strip(), {})
        for item in domains.split(";"):
            if not item.strip():
                continue
            domain, sep, value = item.partition("=")
            if not sep or not domain.strip() or not value.strip():
                raise ValueError(f"{item!r}: expected DOMAIN=VALUE")
            base = 10 if resource.strip().startswith("MB") else 16
            values[domain.strip()] = int(value.strip(), base)
    return out


def mismatches(wanted: tuple[str, ...], existing: str) -> list[str]:
    """The wanted resource/domain values an existing group's schemata does not have."""
    have = parse_schemata(existing)
    wrong = []
    for resource, domains in parse_schemata("\n".join(wanted)).items():
        for domain, value in domains.items():
            if have.get(resource, {}).get(domain) != value:
                wrong.append(f"{resource}:{domain}")
    return wrong


def find_root(mountinfo: str = "/proc/self/mountinfo") -> str:
    """The mount point of resctrl in our mount namespace, or the spec's error."""
    try:
        with open(mountinfo) as f:
            for line in f:
                parts = line.split()
                sep = parts.index("-")
                if parts[sep + 1] == "resctrl":
                    return parts[4]
    except OSError as exc:
        raise PyruntimeError(f"{FIELD}: reading {mountinfo}: {describe_errno(exc.errno)}") from None
    raise PyruntimeError(f"{FIELD}: no resctrl filesystem is mounted (it needs a CPU with Intel RDT or "
                         "AMD PQoS and `mount -t resctrl resctrl /sys/fs/resctrl`)")


def apply(p: ResctrlPlan, pid: int, root: str | None = None) -> dict:
    """Put ``pid`` in its group, making and configuring what the plan says.

    Returns the state to keep: {"root": the resctrl mount, "group": the
    group's directory, "tasks": the tasks file exec'd processes are written
    to, "remove": directories to remove on delete, deepest first}.
    Anything made here is removed again if a later step fails.
    """
    root = root or find_root()
    group = os.path.join(root, p.group) if p.group else root
    made: list[str] = []
    try:
        existed = True
        if p.group:
            existed = _make_dir(group, p.may_create, made)
            if not existed and not p.may_create:
                raise PyruntimeError(f"{FIELD}.closID: resctrl group {group} does not exist "
                                     "(without schemata it must be configured beforehand)")
        if p.schemata and existed and p.must_match:
            try:
                wrong = mismatches(p.schemata, _read(os.path.join(group, "schemata")))
            except ValueError as exc:
                raise PyruntimeError(f"{FIELD}: comparing with the schemata of {group}: {exc}") from None
            if wrong:
                raise PyruntimeError(f"{FIELD}: resctrl group {group} exists with other schemata "
                                     f"({', '.join(wrong)} differ from the config)")
        elif p.schemata:
            for line in p.schemata:
                _write(root, os.path.join(group, "schemata"), line + "\n")
        tasks_dir = group
        if p.monitor:
            tasks_dir = os.path.join(group, "mon_groups", p.monitor)
            _make_dir(tasks_dir, True, made)
        tasks = os.path.join(tasks_dir, "tasks")
        _write(root, tasks, str(pid))
    except BaseException:
        remove({"remove": list(reversed(made))})
        raise
    removable = [d for d in made if d != group or p.removable]
    return {"root": root, "group": group, "tasks": tasks, "remove": list(reversed(removable))}


def join(state: dict, pid: int) -> None:
    """Put another process (exec) where the container's init is."""
    if state.get("tasks"):
        _write(state["root"], state["tasks"], str(pid))


def update(state: dict, lines: tuple[str, ...]) -> None:
    """``pyruntime update --l3-cache-schema/--mem-bw-schema``: new schemata lines for the group."""
    for line in lines:
        _write(state["root"], os.path.join(state["group"], "schemata"), line + "\n")


def stats(state: dict) -> dict:
    """runc's intel_rdt stats: the L3 and MB schemata lines of the group and of the root."""
    out = {}
    for key, directory in (("", state["group"]), ("_root", state["root"])):
        try:
            lines = _read(os.path.join(directory, "schemata")).splitlines()
        except PyruntimeError:
            continue
        for line in (x.strip() for x in lines):
            if line.startswith("L3:"):
                out[f"l3_cache_schema{key}"] = line
            elif line.startswith("MB:"):
                out[f"mem_bw_schema{key}"] = line
    return out


def remove(state: dict) -> None:
    """Remove the groups a container's create made (the tasks in them are gone)."""
    for directory in state.get("remove", ()):
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise PyruntimeError(f"resctrl group {directory}: remove: {describe_errno(exc.errno)}") from None


def _make_dir(path: str, may_create: bool, made: list[str]) -> bool:
    """True if it existed; creates it (recording that) when allowed."""
    if not may_create:
        return os.path.isdir(path)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return True
    except OSError as exc:
        raise PyruntimeError(f"{FIELD}: creating resctrl group {path}: {describe_errno(exc.errno)}") from None
    made.append(path)
    return False


def _read(path: str) -> str:
    try:
        return read_text(path)
    except OSError as exc:
        raise PyruntimeError(f"{FIELD}: reading {path}: {describe_errno(exc.errno)}") from None


def _write(root: str, path: str, data: str) -> None:
    """One write; a refusal carries the kernel's own reason (info/last_cmd_status)."""
    try:
        write_once(path, data.encode())
    except OSError as exc:
        reason = describe_errno(exc.errno or errno.EIO)
        try:
            status = _read(os.path.join(root, "info", "last_cmd_status")).strip()
        except PyruntimeError:
            status = ""
        detail = f" ({status})" if status and status != "ok" else ""
        raise PyruntimeError(f"{FIELD}: writing {data.strip()!r} to {path}: {reason}{detail}") from None
