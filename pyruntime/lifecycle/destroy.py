"""kill and delete: signalling a container, and removing everything it had."""
from __future__ import annotations

import os

from pyruntime import log
from pyruntime.errors import PyruntimeError, StateError
from pyruntime.kernel import pidfd as kfd
from pyruntime.lifecycle.container import Container
from pyruntime.state import procinfo
from pyruntime.state.status import CREATED, CREATING, PAUSED, STOPPED, require

SIGKILL = 9


def signal_init(c: Container, sig: int) -> None:
    """Through a pidfd checked against the recorded start time: never a reused pid."""
    r = c.record
    try:
        pidfd = kfd.pidfd_open(r.pid)
    except PyruntimeError:
        raise StateError("container not running") from None
    try:
        if procinfo.start_time(r.pid) != r.pid_start:
            raise StateError("container not running")
        kfd.pidfd_send_signal(pidfd, sig)
    finally:
        os.close(pidfd)


def kill(c: Container, sig: int, all_processes: bool = False) -> None:
    status = c.status()
    require(status, "kill-all" if all_processes else "kill", c.id)
    if all_processes:
        if c.manager() is not None:
            c.manager().kill_all(sig)
        elif status != STOPPED:
            signal_init(c, sig)  # no cgroup (rootless): the init is all we know of
    else:
        signal_init(c, sig)
    if status == PAUSED and sig == SIGKILL and c.manager() is not None:
        c.manager().thaw()  # frozen tasks die only once thawed


def delete(c: Container, force: bool = False) -> None:
    """Remove the container: processes (if forced or still created), cgroups, state.

    poststop hooks run last; their failures are warnings (runtime-spec).
    """
    if c.damaged and force:
        _salvage(c)
        return
    status = c.status()
    if status not in (STOPPED, CREATED, CREATING):
        if not force:
            require(status, "delete", c.id)
        if status == PAUSED and c.manager() is not None:
            c.manager().thaw()
    if c.record is not None and c.init_alive():
        if c.manager() is None:
            signal_init(c, SIGKILL)
        else:
            c.manager().kill_all(SIGKILL)
        _wait_gone(c)
    errors = []
    manager = c.manager()
    if manager is not None:
        try:
            manager.destroy()
        except PyruntimeError as exc:
            errors.append(str(exc))
    if c.record is not None and c.record.resctrl:
        from pyruntime import resctrl
        try:
            resctrl.remove(c.record.resctrl)
        except PyruntimeError as exc:
            errors.append(str(exc))
    if c.record is not None and not c.has_mount_namespace():
        from pyruntime.rootfs.pivot import unmount_below
        unmount_below(c.record.rootfs)
    if c.record is not None and status != CREATING:
        _run_poststop(c)
    c.dir.remove()
    log.info(f"deleted container {c.id}")
    if errors:
        raise PyruntimeError(f"container {c.id} deleted, but: {errors[0]}")


def _salvage(c: Container) -> None:
    """delete --force of a container whose state.json cannot be read: remove the cgroup
    its id gives by default (killing what is in it) and the state directory."""
    from pyruntime import cgroups
    from pyruntime.cgroups.path import resolve
    layout = cgroups.detect()
    for systemd in (False, True):
        try:
            cgroups.for_container(layout, resolve("", c.id, systemd), systemd).destroy()
        except (PyruntimeError, OSError) as exc:
            log.warning(f"container {c.id}: {exc}")
    c.dir.remove()
    log.warning(f"container {c.id}: {c.damaged}: removed its state and the cgroup its id gives by "
                "default; a cgroupsPath of its own or mounts outside a mount namespace are unknown")


def _wait_gone(c: Container, timeout: float = 5.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while c.init_alive() and time.monotonic() < deadline:
        time.sleep(0.002)


def _run_poststop(c: Container) -> None:
    hooks = c.hooks("poststop")
    if not hooks:
        return
    from pyruntime.process.hooks import run_all_warn
    run_all_warn(hooks, c.hook_state(STOPPED), "poststop", log.warning)
