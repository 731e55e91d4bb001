"""run (create + start, and in the foreground: wait, delete) and trace's traced run.

In the foreground pyruntime is a child subreaper, so the init is its child: it forwards the
signals it receives to the init, waits, deletes the container and returns the container's
status (128+N when it was killed by signal N), as runc does.
"""
from __future__ import annotations

import os
import sys

from pyruntime.errors import PyruntimeError
from pyruntime.kernel import proc
from pyruntime.lifecycle.container import Container
from pyruntime.lifecycle.create import create, load_plan
from pyruntime.lifecycle.plan import CreateOptions
from pyruntime.lifecycle.start import start
from pyruntime.lifecycle.wait import exit_status, wait_for
from pyruntime.startup.dataclass import replace
from pyruntime.state.store import Store


def run(store: Store, options: CreateOptions, detach: bool = False, keep: bool = False) -> int:
    """The container's exit status (0 when detached)."""
    # in the foreground, without --console-socket, run holds a terminal's pty itself
    plan, doc = load_plan(replace(options, console_provided=not detach))
    terminal_proxy = None
    if plan.process.process.terminal and not options.console_socket:
        from pyruntime.process.ptyproxy import PtyProxy
        terminal_proxy = PtyProxy()
    if not detach:
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    created = create(store, plan, doc, terminal_proxy.theirs if terminal_proxy else -1)
    c = Container(store.open(options.id))
    try:
        if terminal_proxy is not None:
            terminal_proxy.receive()
        start(c)
    except BaseException:
        _force_delete(c, quiet=True)
        raise
    finally:
        c.dir.close()
    if detach:
        return 0
    status = wait_for(created.record.pid, terminal_proxy)
    if not keep:
        _delete(store, options.id)
    return exit_status(status)


def traced_run(store: Store, options: CreateOptions, amend):
    """Run in the foreground under the tracer (trace.tracer) from the init's first step, and delete
    the container at its end; ``amend`` marks where the config's seccomp filter traces.
    Returns (wait status, what the tracer observed)."""
    from pyruntime.trace.tracer import Tracer
    plan, doc = load_plan(options, amend=amend)
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)  # the init is our child: we trace it and reap it
    created = create(store, plan, doc)
    c = Container(store.open(options.id))
    try:
        tracer = Tracer(created.record.pid, progress=sys.stderr.isatty())
        tracer.seize()
    except BaseException:
        try:
            _force_delete(c)
        finally:
            c.dir.close()
        raise
    # start waits for the init, and a traced init moves only while its tracer (this process) runs
    # the loop: start is done by a child process of its own
    starter = os.fork()
    if starter == 0:
        code = 0
        try:
            start(c)
        except BaseException as exc:
            sys.stderr.write(f"pyruntime: {exc}\n")
            code = 1
        finally:
            os._exit(code)
    try:
        status = tracer.run(starter)
    finally:
        c.dir.close()
        _delete(store, options.id)
    if tracer.starter_status:
        raise PyruntimeError("trace: the container did not start")
    return status, tracer.obs


def _delete(store: Store, container_id: str) -> None:
    c = Container(store.open(container_id))
    try:
        _force_delete(c)
    finally:
        c.dir.close()


def _force_delete(c: Container, quiet: bool = False) -> None:
    from pyruntime.lifecycle.destroy import delete  # a detached run never needs it
    try:
        delete(c, force=True)
    except Exception:
        if not quiet:
            raise
