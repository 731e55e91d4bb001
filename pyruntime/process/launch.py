"""The last steps before a container program runs, shared by the init and exec.

    target, env = prepare(plan, seccomp, preserve_fds)  # may fail: still reportable
    execute(plan.process, target, env, seccomp)        # never returns

Seccomp goes in as late as the kernel allows: right before execve when
no_new_privs is set or the process keeps CAP_SYS_ADMIN; otherwise (the kernel
requires one of the two) before the identity change, while privileged, as
runc does. Either way the filter was compiled in the parent.
"""
from __future__ import annotations

import errno
import os

from pyruntime.errors import PyruntimeError
from pyruntime.kernel import fd as kfd, proc
from pyruntime.model.config import Process
from pyruntime.process import attributes, caps as capsmod, execpath, identity, rlimits
from pyruntime.process.plan import ProcessPlan
from pyruntime.safefs import procfs, safepath

CAP_SYS_ADMIN = 21


class Seccomp:
    """A compiled filter (process.plan.SeccompPlan.program), the connected socket its notify
    fd goes to, and whether it is loaded yet."""

    def __init__(self, program, notify_sock: int = -1, state: dict | None = None):
        self.program, self.notify_sock, self.state = program, notify_sock, state or {}
        self.loaded = False

    def load(self) -> None:
        from pyruntime.seccomp.load import load
        load(self.program, self.notify_sock, self.state)
        self.loaded = True


def chdir_in_root(cwd: str, create: bool = False) -> None:
    """chdir to cwd resolved inside the current root, never through a magic link.

    A cwd like /proc/self/fd/N would otherwise reach a directory fd of the
    runtime on the host (CVE-2024-21626). ``create``: the container's first
    process gets a missing cwd made (runc does; exec does not).
    """
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = safepath.open_in_root(root, cwd, os.O_PATH | os.O_DIRECTORY)
        except PyruntimeError as exc:
            if not (create and getattr(exc, "errno", 0) == errno.ENOENT):
                raise
            fd = safepath.mkdir_all(root, cwd)
        try:
            os.fchdir(fd)
        finally:
            os.close(fd)
    except PyruntimeError as exc:
        raise exc.within("process.cwd") from None
    finally:
        os.close(root)
    try:
        here = os.getcwd()
    except OSError:
        here = ""
    if not here.startswith("/"):
        raise PyruntimeError(f"process.cwd: {cwd} resolves outside the container")


def close_on_exec_from(first: int) -> None:
    """Mark every fd from ``first`` up close-on-exec (the runtime's and any the caller leaked).

    Done before any seccomp filter is loaded: a profile may not allow
    close_range, and /proc may not be mounted for the fcntl fallback later.
    """
    try:
        kfd.close_range(first, 0xFFFFFFFF, kfd.CLOSE_RANGE_CLOEXEC)
        return
    except PyruntimeError:
        pass  # ENOSYS on kernels before 5.11
    import fcntl
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            except OSError:
                pass


def prepare(plan: ProcessPlan, seccomp: Seccomp | None = None, preserve_fds: int = 0,
            warnings: list[str] | None = None, create_cwd: bool = False) -> tuple[str, dict[str, str]]:
    """cwd, limits, attributes, identity and capabilities; returns (program path, env).

    Problems that runc only warns about are appended to ``warnings``.
    """
    # no fd of the runtime reaches the container (CVE-2024-21626): all but 0-2
    # and the preserved ones close on exec
    process, caps = plan.process, plan.caps
    close_on_exec_from(3 + preserve_fds)
    chdir_in_root(process.cwd, create_cwd)
    rlimits.apply(process.rlimits)
    attributes.apply_before_identity(plan)
    env = execpath.env_dict(process.env)
    if seccomp is not None and not (process.no_new_privileges or caps.effective >> CAP_SYS_ADMIN & 1):
        seccomp.load()  # must be while privileged: no no_new_privs, no CAP_SYS_ADMIN after
    capsmod.drop_bounding(caps, caps.last)
    identity.become(process.user, lambda: capsmod.apply_sets(caps, caps.last, warnings))
    if process.no_new_privileges:
        proc.prctl(proc.PR_SET_NO_NEW_PRIVS, 1)
    if "HOME" not in env:
        env["HOME"] = execpath.home_of(process.user.uid)
    # the private procfs is unmasked (sysrq-trigger, writable sys/): closed before the
    # container can run anything that might look at this process's fds
    procfs.close_private()
    return execpath.lookup(process.args[0], env), env


def execute(process: Process, target: str, env: dict[str, str], seccomp: Seccomp | None = None) -> None:
    """Load seccomp if it is not loaded yet, execve. Never returns.

    Every fd but 0-2 and the preserved ones is close-on-exec since prepare().
    """
    if seccomp is not None and not seccomp.loaded:
        seccomp.load()
    rlimits.restore_caller_nofile(process.rlimits)
    os.execve(target, list(process.args), env)
