"""pyruntime create [--bundle DIR] [--pid-file F] [--console-socket S] ... ID"""
from __future__ import annotations

from pyruntime.cli.common import CREATE_FLAGS, create_options
from pyruntime.cli.flags import need_args, parse


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.create import create, load_plan
    opts, args = parse(CREATE_FLAGS, argv, verb)
    need_args(args, 1, "create <container-id>")
    plan, doc = load_plan(create_options(ctx, opts, args[0]))
    create(ctx.store(), plan, doc)
    return 0
