"""pyruntime pause ID / pyruntime resume ID: freeze or thaw every process of a container."""
from __future__ import annotations

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import need_args, parse


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.update import freeze_or_thaw
    _, args = parse((), argv, verb)
    need_args(args, 1, f"{verb} <container-id>")
    c = open_container(ctx, args[0])
    try:
        freeze_or_thaw(c, verb)
    finally:
        c.dir.close()
    return 0
