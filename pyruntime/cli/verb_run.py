"""pyruntime run [create options] [-d] [--keep] ID

create + start. In the foreground (the default) pyruntime becomes a child
subreaper so the init is its child, forwards the signals it receives to the
init, waits, deletes the container and exits with the container's status
(128+N when it was killed by signal N), as runc does.
"""
from __future__ import annotations

import os

from pyruntime.cli.common import CREATE_FLAGS, create_options
from pyruntime.cli.flags import Flag, need_args, parse

FLAGS = CREATE_FLAGS + (
    Flag(("detach", "d"), "bool", False, "return once the container started"),
    Flag(("keep",), "bool", False, "do not delete the container when it exits"),
)

# Signals forwarded to the init in the foreground; SIGCHLD is ours, SIGKILL/SIGSTOP
# cannot be caught. SIGWINCH goes to the pty (see process.terminal).
FORWARDED = (1, 2, 3, 6, 10, 12, 14, 15, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)


def exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


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
    if plan.spec.process.terminal and not options.console_socket:
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


def wait_for(pid: int, terminal_proxy=None) -> int:
    """Reap children until ``pid`` exits, forwarding signals to it meanwhile."""
    import _signal

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        if signum == 28 and terminal_proxy is not None:
            continue
        _signal.signal(signum, forward)
    if terminal_proxy is not None:
        return terminal_proxy.copy_until_exit(pid)
    while True:
        reaped, status = os.waitpid(-1, 0)
        if reaped == pid:
            return status
