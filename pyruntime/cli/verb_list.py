"""pyruntime list [-q] [--format table|json]"""
from __future__ import annotations

import sys

from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import UsageError

FLAGS = (Flag(("quiet", "q"), "bool", False, "ids only"),
         Flag(("format", "f"), "str", "table", "table or json"))


def owner_name(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[2] == str(uid):
                    return parts[0]
    except OSError:
        pass
    return str(uid)


def table(rows: list[list[str]]) -> str:
    """Go's tabwriter as runc configures it: min width 12, padding 3."""
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(r, widths)) + r[-1] + "\n" for r in rows)


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.container import states as container_states
    opts, args = parse(FLAGS, argv, verb)
    if opts["format"] not in ("table", "json"):
        raise UsageError(f"invalid format {opts['format']!r}: table or json")
    states = []
    for c, state in container_states(ctx.store()):
        state["owner"] = owner_name(c.record.owner) if c.record is not None else ""
        states.append(state)
    if opts["quiet"]:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif opts["format"] == "json":
        from pyruntime.startup import fastjson
        sys.stdout.write(fastjson.dumps(states) + "\n")
    else:
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]]
                 for s in states]
        sys.stdout.write(table(rows))
    return 0
