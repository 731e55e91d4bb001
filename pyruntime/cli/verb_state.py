"""pyruntime state ID"""
from __future__ import annotations

from pyruntime.cli.common import open_container, print_json
from pyruntime.cli.flags import need_args, parse


def run(ctx, verb: str, argv: list[str]) -> int:
    _, args = parse((), argv, verb)
    need_args(args, 1, "state <container-id>")
    c = open_container(ctx, args[0])
    try:
        print_json(c.oci_state())
    finally:
        c.dir.close()
    return 0
