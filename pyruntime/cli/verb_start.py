"""pyruntime start ID"""
from __future__ import annotations

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import need_args, parse


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.start import start
    _, args = parse((), argv, verb)
    need_args(args, 1, "start <container-id>")
    c = open_container(ctx, args[0])
    try:
        start(c)
    finally:
        c.dir.close()
    return 0
