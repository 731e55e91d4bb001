"""Container status and which verbs each status allows.

Transitions are data: ``ALLOWED[(status, verb)]`` is the status after the verb,
and ``require()`` is the one place that refuses a verb with a clear message.
"""
from __future__ import annotations

from pyruntime.errors import StateError

CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"

ALLOWED = {
    (CREATED, "start"): RUNNING,
    (CREATED, "kill"): CREATED,
    (RUNNING, "kill"): RUNNING,
    (PAUSED, "kill"): PAUSED,
    # kill --all signals whatever is left in the cgroup, also once the init has exited
    # (runc 1.1; containerd's shim calls it on every task exit: processes a pod's shared
    # pid namespace kept alive would otherwise hold the task's output open)
    (CREATED, "kill-all"): CREATED,
    (RUNNING, "kill-all"): RUNNING,
    (PAUSED, "kill-all"): PAUSED,
    (STOPPED, "kill-all"): STOPPED,
    (CREATED, "exec"): CREATED,
    (RUNNING, "exec"): RUNNING,
    (RUNNING, "pause"): PAUSED,
    (CREATED, "pause"): PAUSED,
    (PAUSED, "resume"): RUNNING,
    (CREATED, "update"): CREATED,
    (RUNNING, "update"): RUNNING,
    (PAUSED, "update"): PAUSED,
    (STOPPED, "delete"): None,
    (CREATED, "delete"): None,    # runc deletes a created container without --force
    (CREATING, "delete"): None,   # a create that died half-way leaves only this
}

WHY_NOT = {
    "start": "cannot start a container that is {status} (only a created container can start)",
    "kill": "cannot kill a container that is {status}: container not running",
    "kill-all": "cannot kill a container that is {status}: container not running",
    "exec": "cannot exec in a container that is {status}",
    "pause": "cannot pause a container that is {status}",
    "resume": "cannot resume a container that is {status} (it is not paused)",
    "update": "cannot update a container that is {status}",
    "delete": "cannot delete container {id} that is not stopped: {status}",
}


def require(status: str, verb: str, container_id: str = "") -> str | None:
    """Return the status after ``verb``, or raise StateError naming why it is refused."""
    if (status, verb) in ALLOWED:
        return ALLOWED[(status, verb)]
    raise StateError(WHY_NOT[verb].format(status=status, id=container_id))
