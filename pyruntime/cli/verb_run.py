"""pyruntime run [create options] [-d] [--keep] ID

create + start. In the foreground (the default) pyruntime becomes a child
subreaper so the init is its child, forwards the signals it receives to the
init, waits, deletes the container and exits with the container's status
(128+N when it was killed by signal N), as runc does.
"""
from __future__ import annotations

from pyruntime.cli.common import CREATE_FLAGS, create_options
from pyruntime.cli.flags import Flag, need_args, parse

FLAGS = CREATE_FLAGS + (
    Flag(("detach", "d"), "bool", False, "return once the container started"),
    Flag(("keep",), "bool", False, "do not delete the container when it exits"),
)

from pyruntime.lifecycle.wait import exit_status, wait_for


def run(ctx, verb: str, argv: list[str]) -> int:
    from pyruntime.kernel import proc
    from pyruntime.lifecycle.container import Container
    from pyruntime.lifecycle.create import create, load_plan
    from pyruntime.lifecycle.start import start
    opts, args = parse(FLAGS, argv, verb)
    need_args(args, 1, "run <container-id>")
    options = create_options(ctx, opts, args[0])
    plan, doc = load_plan(options)
    terminal_proxy = None
    if plan.process.process.terminal and not options.console_socket:
        if opts["detach"]:
            from pyruntime.errors import UsageError
            raise UsageError("run -d with process.terminal needs --console-socket")
        from pyruntime.process.ptyproxy import PtyProxy
        terminal_proxy = PtyProxy()
    if not opts["detach"]:
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    store = ctx.store()
    created = create(store, plan, doc, terminal_proxy.theirs if terminal_proxy else -1)
    c = Container(store.open(options.id))
    try:
        if terminal_proxy is not None:
            terminal_proxy.receive()
        start(c)
    except BaseException:
        _cleanup(c)
        raise
    finally:
        c.dir.close()
    if opts["detach"]:
        return 0
    status = wait_for(created.record.pid, terminal_proxy)
    if not opts["keep"]:
        c = Container(store.open(options.id))
        try:
            from pyruntime.lifecycle.destroy import delete
            delete(c, force=True)
        finally:
            c.dir.close()
    return exit_status(status)


def _cleanup(c) -> None:
    from pyruntime.lifecycle.destroy import delete
    try:
        delete(c, force=True)
    except Exception:
        pass
