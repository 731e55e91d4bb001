"""pyruntime delete [--force] ID"""
from __future__ import annotations

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import Flag, need_args, parse
from pyruntime.errors import NotFound

FLAGS = (Flag(("force", "f"), "bool", False, "kill a running container first"),)


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle.destroy import delete
    opts, args = parse(FLAGS, argv, verb)
    need_args(args, 1, "delete <container-id>")
    try:
        c = open_container(ctx, args[0])
    except NotFound:
        if opts["force"]:
            return 0  # idempotent for callers that clean up twice (containerd does)
        raise
    try:
        delete(c, opts["force"])
    finally:
        c.dir.close()
    return 0
