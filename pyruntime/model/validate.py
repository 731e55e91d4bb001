"""The rules a config's shape cannot express, run on the typed spec once ``parse`` has read it:
absolute paths, namespace and mapping combinations, rlimit names, sysctl ownership, the
kernel's ranges. The shape (names, types, ranges, enums) is ``parse``'s.

Each problem is one line: ``<json.path>: <what is wrong>``.
"""
from __future__ import annotations

from pyruntime.errors import ConfigError
from pyruntime.model import config as c, names


# sysctl keys and the namespace that owns them (runc's list, validator.go)
IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
UTS_SYSCTLS = {"kernel.hostname", "kernel.domainname"}


def string_problems(doc) -> list[str]:
    """Strings the kernel cannot take, with their JSON paths: a NUL ends a C string early
    (a path or argument would silently mean something else), and a lone surrogate has no
    UTF-8 form. Walked without recursion: the document may be nested thousands deep."""
    problems = []
    stack = [((), doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((path + (key,), value))
                if isinstance(key, str):
                    stack.append((path + (f"(key {key!r})",), key))
        elif isinstance(node, list):
            stack.extend((path + (i,), value) for i, value in enumerate(node))
        elif isinstance(node, str):
            if "\0" in node:
                problems.append(f"{json_path(path) or '(document)'}: contains a NUL character")
            else:
                try:
                    node.encode()
                except UnicodeEncodeError:
                    problems.append(f"{json_path(path) or '(document)'}: not valid Unicode (a lone surrogate)")
    return sorted(problems)


def json_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_semantics(spec: c.Spec, for_create: bool = True) -> None:
    """Rules the schema cannot express; raise ConfigError listing all of them."""
    problems: list[str] = []
    if for_create:
        if spec.root is None:
            problems.append("root: is required")
        if spec.process is None:
            problems.append("process: is required")
    if spec.process is not None:
        problems += process_problems(spec.process, "process")
    problems += mount_problems(spec.mounts)
    problems += resource_problems(spec.linux.resources)
    problems += other_problems(spec)
    problems += namespace_problems(spec.linux)
    problems += linux_path_problems(spec.linux)
    problems += sysctl_problems(spec.linux)
    for step in ("prestart", "create_runtime", "create_container", "start_container",
                 "poststart", "poststop"):
        for i, hook in enumerate(getattr(spec.hooks, step)):
            if not hook.path.startswith("/"):
                problems.append(f"hooks.{_camel(step)}[{i}].path: must be absolute, got {hook.path!r}")
    if problems:
        raise ConfigError(problems)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def process_problems(p: c.Process, at: str) -> list[str]:
    out = []
    if not p.cwd.startswith("/"):
        out.append(f"{at}.cwd: must be an absolute path, got {p.cwd!r}")
    for i, entry in enumerate(p.env):
        if "=" not in entry:
            out.append(f"{at}.env[{i}]: must have the form NAME=value, got {entry!r}")
        elif entry.startswith("="):
            out.append(f"{at}.env[{i}]: a variable needs a name before '=', got {entry!r}")
    if p.io_priority is not None and not 0 <= p.io_priority.priority <= 7:
        out.append(f"{at}.ioPriority.priority: must be 0-7, got {p.io_priority.priority}")
    if p.scheduler is not None and not -20 <= p.scheduler.nice <= 19:
        out.append(f"{at}.scheduler.nice: must be -20 to 19, got {p.scheduler.nice}")
    seen = set()
    for i, r in enumerate(p.rlimits):
        if r.type not in names.RLIMITS:
            out.append(f"{at}.rlimits[{i}].type: unknown resource limit {r.type!r}")
        elif r.type in seen:
            out.append(f"{at}.rlimits[{i}].type: {r.type} is given twice")
        seen.add(r.type)
        if r.soft > r.hard:
            out.append(f"{at}.rlimits[{i}]: soft limit {r.soft} is above hard limit {r.hard}")
    return out


def mount_problems(mounts: tuple[c.Mount, ...]) -> list[str]:
    """A relative destination is read relative to "/" (runtime-spec 1.3 allows it; the
    parser makes it absolute). "/" itself is the container's root, which root.path sets:
    a mount there would be hidden by pivot_root (runc refuses it too)."""
    out = []
    for i, m in enumerate(mounts):
        if bool(m.uid_mappings) != bool(m.gid_mappings):  # config.md: each MUST come with the other
            have, lack = ("uidMappings", "gidMappings") if m.uid_mappings else ("gidMappings", "uidMappings")
            out.append(f"mounts[{i}].{lack}: required together with {have}")
        if ".." in m.destination.split("/"):
            out.append(f"mounts[{i}].destination: must not contain '..', got {m.destination!r}")
        elif m.destination.strip("/") in ("", "."):
            out.append(f"mounts[{i}].destination: cannot mount over the container's root "
                       f"(root.path is the root), got {m.destination!r}")
    return out


def resource_problems(res) -> list[str]:
    """Limits the kernel would silently change or refuse half-way: refused here, before
    any cgroup exists (runc refuses the shares range too, after writing)."""
    out = []
    cpu = res.cpu if res is not None else None
    if cpu is not None and cpu.shares not in (None, 0):
        if not 2 <= cpu.shares <= 262144:
            out.append(f"linux.resources.cpu.shares: the kernel's range is 2-262144, got {cpu.shares}")
    if cpu is not None and cpu.burst and cpu.quota is not None and 0 < cpu.quota < cpu.burst:
        # config-linux.md: a positive quota MUST be no smaller than burst
        out.append(f"linux.resources.cpu.burst: {cpu.burst} is above quota {cpu.quota}")
    return out


def other_problems(spec: c.Spec) -> list[str]:
    """config.md and config-linux.md MUSTs on the document the schema does not express."""
    out = []
    personality = spec.linux.personality
    if personality is not None and personality.flags:
        out.append(f"linux.personality.flags: no flags are defined by the spec; got {list(personality.flags)}")
    if "" in spec.annotations:
        out.append("annotations: keys MUST NOT be empty")
    seccomp = spec.linux.seccomp
    if seccomp is not None and seccomp.listener_metadata and not seccomp.listener_path:
        out.append("linux.seccomp.listenerMetadata: MUST NOT be set without listenerPath")
    return out


def namespace_problems(linux: c.Linux) -> list[str]:
    out = []
    seen: set[str] = set()
    for i, ns in enumerate(linux.namespaces):
        if ns.type in seen:
            out.append(f"linux.namespaces[{i}].type: {ns.type} namespace is listed twice")
        seen.add(ns.type)
        if ns.path and not ns.path.startswith("/"):
            out.append(f"linux.namespaces[{i}].path: must be an absolute path, got {ns.path!r}")
    user = linux.namespace("user")
    if user is not None and not user.path:
        missing = [k for k, v in (("linux.uidMappings", linux.uid_mappings),
                                  ("linux.gidMappings", linux.gid_mappings)) if not v]
        if missing:
            out.append(f"{' and '.join(missing)}: required when a new user namespace is created")
    elif user is None and (linux.uid_mappings or linux.gid_mappings):
        out.append("linux.uidMappings: id mappings are given but no user namespace is created")
    if linux.time_offsets:
        time = linux.namespace("time")
        if time is None or time.path:
            out.append("linux.timeOffsets: offsets need a new time namespace (linux.namespaces: time)")
    return out


def linux_path_problems(linux: c.Linux) -> list[str]:
    out = []
    for key, paths in (("maskedPaths", linux.masked_paths), ("readonlyPaths", linux.readonly_paths)):
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                out.append(f"linux.{key}[{i}]: must be an absolute path, got {path!r}")
    for i, dev in enumerate(linux.devices):
        if not dev.path.startswith("/"):
            out.append(f"linux.devices[{i}].path: must be an absolute path, got {dev.path!r}")
    if linux.seccomp is not None:
        uses_notify = linux.seccomp.default_action == "SCMP_ACT_NOTIFY" or any(
            r.action == "SCMP_ACT_NOTIFY" for r in linux.seccomp.syscalls)
        if uses_notify and not linux.seccomp.listener_path:
            out.append("linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY")
        if linux.seccomp.default_action == "SCMP_ACT_NOTIFY":
            out.append("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
    return out


def sysctl_problems(linux: c.Linux) -> list[str]:
    """A sysctl may only be set in a namespace the container owns (runc's rule)."""
    out = []
    for key in linux.sysctl:
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if linux.namespace("ipc") is None:
                out.append(f"linux.sysctl.{key}: needs an ipc namespace (the host's would change)")
        elif key.startswith("net."):
            if linux.namespace("network") is None:
                out.append(f"linux.sysctl.{key}: needs a network namespace (the host's would change)")
        elif key in UTS_SYSCTLS:
            if linux.namespace("uts") is None:
                out.append(f"linux.sysctl.{key}: needs a uts namespace (the host's would change)")
        else:
            out.append(f"linux.sysctl.{key}: not namespaced; setting it would change the host")
    return out
