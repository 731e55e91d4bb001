"""start: release a created container's init, then run the poststart hooks."""
from __future__ import annotations

import errno
import os
import select

from pyruntime import log
from pyruntime.errors import HookError, PyruntimeError, StateError
from pyruntime.kernel import pidfd as kfd
from pyruntime.lifecycle.container import Container
from pyruntime.state.status import require


def release_init(c: Container) -> None:
    """Open exec.fifo for reading: the init, blocked opening it for writing, goes on.

    The open is non-blocking and the wait also watches a pidfd of the init,
    so an init that died after create is reported instead of waited on forever.
    The pidfd is taken first: once the fifo is open the program may run, exit
    and be reaped by the caller before a pidfd_open could find it.
    """
    record = c.record
    try:
        pidfd = kfd.pidfd_open(record.pid)
    except PyruntimeError:
        raise StateError("cannot start a container whose init has exited") from None
    try:
        try:
            fifo = os.open(c.dir.fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StateError("cannot start an already running container") from None
        try:
            poller = select.poll()
            poller.register(fifo, select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            while True:
                ready = dict(poller.poll())
                if ready.get(fifo, 0) & select.POLLIN:
                    try:
                        data = os.read(fifo, 1)
                    except BlockingIOError:
                        continue
                    if data:
                        break
                if pidfd in ready:
                    raise StateError("container init exited before it could start")
        finally:
            os.close(fifo)
    finally:
        os.close(pidfd)
    try:
        os.unlink(c.dir.fifo_path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def start(c: Container) -> None:
    require(c.status(), "start", c.id)
    release_init(c)
    log.info(f"started container {c.id}")
    hooks = c.hooks("poststart")
    if hooks:
        from pyruntime.process.hooks import run_all
        try:
            run_all(hooks, c.hook_state("running"), "poststart")
        except HookError as exc:
            # runtime-spec: a failed poststart hook stops the container and fails start
            log.error(str(exc))
            try:
                os.kill(c.record.pid, 9)
            except ProcessLookupError:
                pass
            raise


