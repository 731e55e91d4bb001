"""pyruntime trace [--output FILE] [--merge FILE]... [--format oci|docker] run [run's options] ID

Runs the container as `run` does (in the foreground, deleted at its exit), traced from the
first instruction its profile would govern, and writes the seccomp profile that allows
exactly the system calls it made: defaultAction SCMP_ACT_ERRNO (EPERM), the calls by name,
argument conditions where safe (see pyruntime/trace/profile.py). --format docker writes the
JSON containerd and Kubernetes load as a Localhost profile; --merge adds the rules of earlier
profiles. A table of the calls (count, first caller) goes to stderr at the end, a progress
line meanwhile when stderr is a terminal. Exits with the container's status.

The traced run's filter is the config's profile with "allow" (and "log") made "trace", or a
filter that traces everything for a config without one: only calls the profile allows stop the
program, once each, and the ones it refuses stay refused and out of the result.
"""
from __future__ import annotations

import json
import os
import sys

from pyruntime.cli.common import CREATE_FLAGS, create_options
from pyruntime.cli.flags import Flag, need_args, parse
from pyruntime.errors import PyruntimeError, UsageError

FLAGS = (
    Flag(("output", "o"), "str", "", "write the profile here (default: stdout)"),
    Flag(("merge",), "list", [], "a profile whose rules the new one also allows (repeatable)"),
    Flag(("format",), "str", "oci", "oci (linux.seccomp) or docker (Localhost profiles)"),
)


def _traced_filter(doc: dict) -> dict:
    linux = doc.setdefault("linux", {})
    if not isinstance(linux, dict):
        raise PyruntimeError("linux: expected an object")
    profile = linux.setdefault("seccomp", {"defaultAction": "SCMP_ACT_ALLOW"})
    if not isinstance(profile, dict):
        raise PyruntimeError("linux.seccomp: expected an object")
    for rule in [profile] + [r for r in profile.get("syscalls") or () if isinstance(r, dict)]:
        key = "defaultAction" if rule is profile else "action"
        if rule.get(key) in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG"):
            rule[key] = "SCMP_ACT_TRACE"
    return doc


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.trace import profile
    opts, rest = parse(FLAGS, argv, verb)
    if opts["format"] not in ("oci", "docker"):
        raise UsageError(f"invalid --format {opts['format']!r}: oci or docker")
    if not rest or rest[0] != "run":
        raise UsageError("usage: pyruntime trace [--output FILE] [--merge FILE] [--format oci|docker] run [options] ID")
    run_opts, args = parse(CREATE_FLAGS, rest[1:], "trace run")
    need_args(args, 1, "trace run <container-id>")
    merged_archs, merged_rules = set(), set()
    for path in opts["merge"]:
        try:
            with open(path) as f:
                archs, rules = profile.read(json.load(f), path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PyruntimeError(f"--merge {path}: {exc}") from None
        merged_archs |= archs
        merged_rules |= rules
    from pyruntime.lifecycle.run import traced_run
    status, obs = traced_run(ctx.store(), create_options(ctx, run_opts, args[0]), _traced_filter)
    doc = profile.render(merged_archs | profile.architectures_of(obs), merged_rules | profile.rules_of(obs),
                         opts["format"])
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    if opts["output"]:
        tmp = f"{opts['output']}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, opts["output"])
    else:
        sys.stdout.write(text)
    sys.stderr.write(profile.summary(obs) + "\n")
    from pyruntime.lifecycle.wait import exit_status
    return exit_status(status)
