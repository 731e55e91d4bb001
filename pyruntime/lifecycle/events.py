"""events: a running container's stats and OOM kills, as runc's types.Event documents."""
from __future__ import annotations

import time

from pyruntime.errors import StateError
from pyruntime.lifecycle.container import Container
from pyruntime.state.status import STOPPED


def stats(c: Container, manager) -> dict:
    """The cgroup's statistics (cgroups.stats), with the resctrl group's."""
    out = manager.stats()
    if c.record.resctrl:
        from pyruntime import resctrl
        out["intel_rdt"] = resctrl.stats(c.record.resctrl)
    return out


def manager_of_running(c: Container):
    """The cgroup manager of a container that runs (events need both)."""
    if c.status() == STOPPED:
        raise StateError(f"container {c.id} is not running")
    manager = c.manager()
    if manager is None:
        raise StateError(f"container {c.id} has no cgroup")
    return manager


def watch(c: Container, interval: float):
    """Events until the container stops: a stats event every ``interval`` seconds, an oom event
    whenever the kernel OOM-kills in it. Yields (type, data or None)."""
    from pyruntime.cgroups.stats import oom_kills
    manager = manager_of_running(c)
    seen = oom_kills(manager)
    next_stats = 0.0
    while c.status() != STOPPED:
        now = time.monotonic()
        if now >= next_stats:
            yield "stats", stats(c, manager)
            next_stats = now + interval
        kills = oom_kills(manager)
        if kills > seen:
            yield "oom", None
            seen = kills
        time.sleep(min(0.1, interval))  # polling the cgroup's files: there is nothing to wait on
    if oom_kills(manager) > seen:
        yield "oom", None
