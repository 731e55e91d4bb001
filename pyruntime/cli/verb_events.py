"""pyruntime events [--stats] [--interval 5s] ID: stats and OOM events as JSON lines.

Each line is runc's types.Event: {"type": "stats"|"oom", "id": ..., "data": ...}.
With --stats, one stats event and exit; otherwise a stats event every
--interval and an oom event whenever the kernel OOM-kills in the container,
until the container stops.
"""
from __future__ import annotations

import sys

from pyruntime.cli.common import open_container
from pyruntime.cli.flags import Flag, need_args, parse
from pyruntime.errors import UsageError

FLAGS = (Flag(("stats",), "bool", False, "print one stats event and exit"),
         Flag(("interval",), "str", "5s", "time between stats events (Go duration: 500ms, 5s, 1m)"))


def duration(text: str) -> float:
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * scale
    raise UsageError(f"--interval {text!r}: expected a duration like 500ms or 5s")


def emit(kind: str, cid: str, data=None) -> None:
    from pyruntime.startup import fastjson
    event = {"type": kind, "id": cid}
    if data is not None:
        event["data"] = data
    sys.stdout.write(fastjson.dumps(event) + "\n")
    sys.stdout.flush()


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.lifecycle import events
    opts, args = parse(FLAGS, argv, verb)
    need_args(args, 1, "events <container-id>")
    interval = duration(opts["interval"])
    c = open_container(ctx, args[0])
    c.dir.close()  # a stream must not hold the lock
    if opts["stats"]:
        emit("stats", c.id, events.stats(c, events.manager_of_running(c)))
        return 0
    import gc
    gc.enable()  # a stream lives as long as the container: collect (the launcher turned it off)
    for kind, data in events.watch(c, interval):
        emit(kind, c.id, data)
    return 0
