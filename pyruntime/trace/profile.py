"""Seccomp profiles from traced system calls: OCI (linux.seccomp) or Docker's JSON (what containerd and
Kubernetes load as a Localhost profile); a union of several; a summary. Pure, and deterministic:
sorted output, so a profile can be kept in version control.

Arguments are conditioned where that is safe to derive from what was seen: personality() and
socket() allow the values and families seen; clone() keeps namespace flags out when no call
used one (Docker's rule). Everything else is allowed by name.
"""
from __future__ import annotations

import dataclasses

ALLOW = "SCMP_ACT_ALLOW"
EPERM = 1
# clone flags that make namespaces: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
CLONE_NAMESPACES = 0x7E020000
ARCHS = {0xC000003E: "SCMP_ARCH_X86_64", 0x40000003: "SCMP_ARCH_X86", 0xC00000B7: "SCMP_ARCH_AARCH64"}
VALUE_ARG = {"personality": 0, "socket": 0}  # name -> the argument whose values are allowed one by one


@dataclasses.dataclass
class Observations:
    """What a traced run made: calls per (architecture, name), who made each first, and the argument
    values the conditions are derived from."""
    counts: dict = dataclasses.field(default_factory=dict)   # (arch, name) -> count
    first: dict = dataclasses.field(default_factory=dict)    # (arch, name) -> "comm[pid]"
    values: dict = dataclasses.field(default_factory=dict)   # name -> set of argument values
    clone_namespaces: bool = False
    unknown: set = dataclasses.field(default_factory=set)    # (arch, number) no name is known for

    def add(self, arch: str, name: str, args, caller: str) -> None:
        key = (arch, name)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.first.setdefault(key, caller)
        if name in VALUE_ARG:
            self.values.setdefault(name, set()).add(int(args[VALUE_ARG[name]]) & 0xFFFFFFFF)
        elif name == "clone" and int(args[0]) & CLONE_NAMESPACES:
            self.clone_namespaces = True


def rules_of(obs: Observations) -> set[tuple]:
    """(name, condition) pairs; a condition is () or (index, value, value_two, op)."""
    out: set[tuple] = set()
    for _, name in obs.counts:
        if name in VALUE_ARG:
            out |= {(name, (VALUE_ARG[name], v, 0, "SCMP_CMP_EQ")) for v in obs.values.get(name, ())}
        elif name == "clone" and not obs.clone_namespaces:
            out.add((name, (0, CLONE_NAMESPACES, 0, "SCMP_CMP_MASKED_EQ")))
        else:
            out.add((name, ()))
    return out


def architectures_of(obs: Observations) -> set[str]:
    return {arch for arch, _ in obs.counts}


def read(doc: dict, source: str) -> tuple[set[str], set[tuple]]:
    """(architectures, rules) of an existing profile, OCI or Docker form (for --merge)."""
    archs = set(doc.get("architectures") or ())
    for entry in doc.get("archMap") or ():
        archs |= {entry.get("architecture", "")} | set(entry.get("subArchitectures") or ())
    rules: set[tuple] = set()
    for i, rule in enumerate(doc.get("syscalls") or ()):
        if rule.get("action") != ALLOW:
            continue  # only what a profile allows is merged
        args = rule.get("args") or []
        if len(args) > 1:
            raise ValueError(f"{source}: syscalls[{i}]: more than one argument condition cannot be merged")
        cond = () if not args else (int(args[0]["index"]), int(args[0]["value"]), int(args[0].get("valueTwo", 0)),
                                    args[0]["op"])
        rules |= {(name, cond) for name in rule.get("names") or ()}
    return archs - {""}, rules


def render(archs: set[str], rules: set[tuple], form: str = "oci") -> dict:
    """A profile allowing ``rules`` on ``archs``, everything else failing with EPERM."""
    unconditional = sorted({name for name, cond in rules if not cond})
    conditioned = sorted((name, cond) for name, cond in rules if cond and name not in unconditional)
    syscalls: list[dict] = [{"names": unconditional, "action": ALLOW}] if unconditional else []
    for name, (index, value, value_two, op) in conditioned:
        syscalls.append({"names": [name], "action": ALLOW,
                         "args": [{"index": index, "value": value, "valueTwo": value_two, "op": op}]})
    doc: dict = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM}
    native = [a for a in ("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64") if a in archs]
    if form == "docker":
        main = native[0] if native else (sorted(archs) or ["SCMP_ARCH_X86_64"])[0]
        doc["archMap"] = [{"architecture": main, "subArchitectures": sorted(archs - {main})}]
    else:
        doc["architectures"] = sorted(archs)
    doc["syscalls"] = syscalls
    return doc


def summary(obs: Observations) -> str:
    """A table: syscall, architecture, count, first caller; the most made first."""
    rows = sorted(obs.counts.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))
    width = max([len(name) for (_, name), _ in rows] + [7])
    lines = [f"{'syscall':{width}}  {'arch':16}  {'count':>8}  first caller"]
    for (arch, name), count in rows:
        lines.append(f"{name:{width}}  {arch:16}  {count:8}  {obs.first[(arch, name)]}")
    for arch, nr in sorted(obs.unknown):
        lines.append(f"(unknown {nr} on {arch}: not in the profile)")
    return "\n".join(lines)
