"""pyruntime ps [--format table|json] ID [-- ps options]: the container's processes.

json is what containerd's shim parses: a list of host pids. The table comes
from the host's ps(1), filtered to the container's pids, as runc does.
"""
from __future__ import annotations

import sys

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import PyruntimeError, UsageError

FLAGS = (Flag(("format", "f"), "str", "table", "table or json"),)


def run(ctx, verb: str, argv: list[str]) -> int:
    opts, args = parse(FLAGS, argv, verb)
    if not args:
        raise UsageError('"ps" requires a container id')
    c = open_container(ctx, args[0])
    try:
        pids = c.pids()
    finally:
        c.dir.close()
    if opts["format"] == "json":
        from pyruntime.startup import fastjson
        sys.stdout.write(fastjson.dumps(pids) + "\n")
        return 0
    if opts["format"] != "table":
        raise UsageError(f"invalid format {opts['format']!r}: table or json")
    import subprocess
    ps_args = args[1:] or ["-ef"]
    try:
        out = subprocess.run(["ps", *ps_args], capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PyruntimeError(f"running ps {' '.join(ps_args)}: {exc}") from None
    lines = out.splitlines()
    header = lines[0].split()
    if "PID" not in header:
        raise PyruntimeError("ps output has no PID column")
    col = header.index("PID")
    wanted = {str(p) for p in pids}
    sys.stdout.write("\n".join([lines[0]] + [l for l in lines[1:] if l.split()[col] in wanted]) + "\n")
    return 0
