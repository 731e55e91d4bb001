"""pyruntime pause ID / pyruntime resume ID: freeze or thaw every process of a container."""
from __future__ import annotations

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import need_args, parse
from pyruntime.errors import PyruntimeError
from pyruntime.state.status import require


def run(ctx, verb: str, argv: list[str]) -> int:
    _, args = parse((), argv, verb)
    need_args(args, 1, f"{verb} <container-id>")
    c = open_container(ctx, args[0])
    try:
        require(c.status(), verb, c.id)
        manager = c.manager()
        if manager is None:
            raise PyruntimeError(f"cannot {verb} {c.id}: it has no cgroup")
        if verb == "pause":
            manager.freeze()
        else:
            manager.thaw()
    finally:
        c.dir.close()
    return 0
