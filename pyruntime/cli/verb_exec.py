"""pyruntime exec [options] ID [COMMAND ARGS...]  |  pyruntime exec --process FILE ID

Without --process the new process starts from the container's own process
settings (env, cwd, user, capabilities, rlimits), with the flags applied on
top, as runc does.
"""
from __future__ import annotations

from pyruntime import log
from pyruntime.cli.common import open_container
from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import PyruntimeError, UsageError

FLAGS = (
    Flag(("process", "p"), "str", "", "process.json with the process to run"),
    Flag(("tty", "t"), "bool", False, "allocate a pty (needs --console-socket)"),
    Flag(("console-socket",), "str", "", "unix socket that receives the pty master"),
    Flag(("cwd",), "str", "", "working directory in the container"),
    Flag(("env", "e"), "list", [], "NAME=value (repeatable)"),
    Flag(("user", "u"), "str", "", "uid[:gid]"),
    Flag(("additional-gids", "g"), "list", [], "supplementary gid (repeatable)"),
    Flag(("cap", "c"), "list", [], "add a capability (repeatable)"),
    Flag(("no-new-privs",), "bool", False, "set no_new_privs"),
    Flag(("apparmor",), "str", "", "AppArmor profile"),
    Flag(("process-label",), "str", "", "SELinux label"),
    Flag(("detach", "d"), "bool", False, "return once the process started"),
    Flag(("pid-file",), "str", "", "write the process's pid here"),
    Flag(("preserve-fds",), "int", 0, "pass fds 3..3+N-1 to the process"),
    Flag(("ignore-paused",), "bool", False, "allow exec in a paused container"),
    Flag(("cgroup",), "str", "", "run in this sub-cgroup of the container (v2: PATH)"),
    Flag(("pidfd-socket",), "str", "", "accepted for compatibility"),
)


def run(ctx, verb: str, argv: list[str]) -> int:
    opts, args = parse(FLAGS, argv, verb)
    if not args:
        raise UsageError('"exec" requires a container id')
    try:
        return _exec(ctx, opts, args)
    except PyruntimeError as exc:
        # as runc: a process that could not be started is status 255, "exec failed: ..."
        exc.exit_code = 255
        raise exc.within("exec failed")


def _exec(ctx, opts: dict, args: list[str]) -> int:
    from pyruntime.lifecycle import exec as execmod
    c = open_container(ctx, args[0])
    try:
        execmod.check_status(c, opts["ignore_paused"])
        process = execmod.build_process(c, opts, args[1:])
        plan, warnings = execmod.plan_for(c, process, opts["cgroup"], console_socket=opts["console_socket"],
                                          preserve_fds=opts["preserve_fds"], detach=opts["detach"],
                                          pid_file=opts["pid_file"])
        for warning in warnings:
            log.warning(warning)
        return execmod.run(c, plan)
    finally:
        c.dir.close()
