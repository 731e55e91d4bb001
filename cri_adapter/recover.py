"""A restarted adapter (after a crash or SIGKILL) rebuilds its view from disk.

Running containers kept running under their conmon, and conmon wrote the exit
files of those that ended meanwhile, so most records are simply right. What needs
work is what an interrupted request left half made: a pod or container whose
record says it was still being created is undone and forgotten, as the request
that made it never got an answer; a container the runtime no longer knows and
conmon recorded no exit for is reported UNKNOWN.
"""
from __future__ import annotations

import logging

from . import containers, monitor, pods
from .core import Adapter

log = logging.getLogger("pyruntime-cri")


async def recover(adapter: Adapter) -> None:
    for record in list(adapter.containers.items.values()):
        if record.get("creating"):
            log.warning("container %s: its create was interrupted; removing it", record["id"][:13])
            await containers.destroy(adapter, record)
            continue
        if monitor.exit_status(adapter.exits, record["id"]) is None:
            state = await adapter.runtime(record["handler"]).state(record["id"])
            if state is None or state.get("status") == "stopped":
                record["unknown"] = True
                adapter.containers.save(record)
            elif record.get("started_at"):
                containers.watch(adapter, record)
    for record in list(adapter.pods.items.values()):
        if record.get("creating"):
            log.warning("pod %s: its creation was interrupted; removing it", record["id"][:13])
            await pods.teardown(adapter, record)
            adapter.pods.remove(record["id"])
