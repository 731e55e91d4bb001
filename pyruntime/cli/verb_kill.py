"""pyruntime kill [--all] ID [SIGNAL]   (SIGNAL: 9, KILL or SIGKILL; default TERM)"""
from __future__ import annotations

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import UsageError
from pyruntime.model.names import parse_signal

FLAGS = (Flag(("all", "a"), "bool", False, "signal every process of the container"),)


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.destroy import kill
    opts, args = parse(FLAGS, argv, verb)
    if not 1 <= len(args) <= 2:
        raise UsageError('"kill" requires 1 or 2 arguments: <container-id> [signal]')
    sig = parse_signal(args[1], allow_zero=True) if len(args) == 2 else 15
    if sig is None:
        raise UsageError(f"unknown signal {args[1]!r}")
    c = open_container(ctx, args[0])
    try:
        kill(c, sig, opts["all"])
    finally:
        c.dir.close()
    return 0
