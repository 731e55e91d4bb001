"""pyruntime run [create options] [-d] [--keep] ID

create + start; in the foreground (the default) wait, delete, and exit with the
container's status, as runc does (lifecycle.run).
"""
from __future__ import annotations

from pyruntime.cli.common import CREATE_FLAGS, create_options
from pyruntime.cli.flags import Flag, need_args, parse

FLAGS = CREATE_FLAGS + (
    Flag(("detach", "d"), "bool", False, "return once the container started"),
    Flag(("keep",), "bool", False, "do not delete the container when it exits"),
)


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.run import run as run_container
    opts, args = parse(FLAGS, argv, verb)
    need_args(args, 1, "run <container-id>")
    return run_container(ctx.store(), create_options(ctx, opts, args[0]), opts["detach"], opts["keep"])
