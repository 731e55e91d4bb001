"""The parent/child protocol of create, run and exec, in one place.

Three processes take part (runc's nsexec stages, youki's message.rs):

    parent   the pyruntime command; stays in the host's namespaces
    stage1   forked by parent; joins/creates namespaces, forks the init, exits
             (only when needed: otherwise the parent clones the init into its
             new namespaces itself, and INIT_PID/USERNS do not occur)
    init     the container process; sets up the rootfs and identity, then
             (create) waits on exec.fifo, or (exec) execs directly

They talk over one SOCK_SEQPACKET socketpair, one JSON object per message:

    message      from     to       when
    ---------    ------   ------   ------------------------------------------------
    USERNS       stage1   parent   stage1 made its user namespace: write its id maps
    USERNS_DONE  parent   stage1   the maps are written
    INIT_PID     stage1   parent   the init is forked; {"pid": host pid}
    CGROUP_DONE  parent   init     with a user namespace only: the parent has put
                                   the init in its cgroup (otherwise the init
                                   joins by itself, see cgroups.fs.join_v1); to
                                   exec's process also for resctrl, and with a
                                   seccomp agent: {"pid": its host pid}
    HOOKS        init     parent   mounts are done, before pivot_root: run the
                                   prestart and createRuntime hooks
    HOOKS_DONE   parent   init     those hooks succeeded
    READY        init     parent   setup is complete; {"warnings": [...]} (what runc
                                   only warns about, for the parent to log)
    CREATED      parent   init     create: the state is recorded; the init now waits on
                                   exec.fifo. End of file instead (the create was
                                   killed) makes the init exit, never block forever
    ERROR        child    parent   {"error": one line}; the sender exits non-zero

A child never returns into CLI code: it ends in execve, or in os._exit()
after sending ERROR. Waits are named ``wait_for_<message>``; anything else
arriving is an error that says "expected X, got Y". End-of-file (every child
gone without a word) is reported as such.
"""
from __future__ import annotations

import os

from pyruntime import fastjson

from pyruntime.errors import PyruntimeError

USERNS, USERNS_DONE, INIT_PID, CGROUP_DONE = "USERNS", "USERNS_DONE", "INIT_PID", "CGROUP_DONE"
HOOKS, HOOKS_DONE, READY, CREATED, ERROR = "HOOKS", "HOOKS_DONE", "READY", "CREATED", "ERROR"


class ChildFailed(PyruntimeError):
    """A child reported an error (its message is the user's line)."""


class Channel:
    """One end of the socketpair."""

    def __init__(self, fd: int):
        self.fd = fd

    @staticmethod
    def pair() -> tuple["Channel", "Channel"]:
        from pyruntime.kernel.fd import unix_pair
        a, b = unix_pair(seqpacket=True)
        return Channel(a), Channel(b)

    def send(self, kind: str, **fields) -> None:
        fields["t"] = kind
        try:
            os.write(self.fd, fastjson.dumps(fields).encode())
        except (BrokenPipeError, ConnectionResetError):
            # the other side is gone; if it said why before going, that is the error
            msg = self._pending()
            if msg is not None and msg.get("t") == ERROR:
                raise ChildFailed(msg["error"]) from None
            raise ChildFailed(f"the other process exited before receiving {kind}") from None

    def _pending(self) -> dict | None:
        """A message already waiting in the socket, without blocking."""
        os.set_blocking(self.fd, False)
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        finally:
            os.set_blocking(self.fd, True)
        return fastjson.loads(data) if data else None

    def recv(self) -> dict | None:
        data = os.read(self.fd, 65536)
        return fastjson.loads(data) if data else None

    def wait_for(self, kind: str, who: str = "container init") -> dict:
        msg = self.recv()
        if msg is None:
            raise ChildFailed(f"{who} exited before sending {kind}")
        if msg["t"] == ERROR:
            raise ChildFailed(msg["error"])
        if msg["t"] != kind:
            raise ChildFailed(f"protocol error: expected {kind} from {who}, got {msg['t']}")
        return msg

    def wait_for_userns_done(self) -> dict:
        return self.wait_for(USERNS_DONE, "parent")

    def wait_for_cgroup_done(self) -> dict:
        return self.wait_for(CGROUP_DONE, "parent")

    def wait_for_hooks_done(self) -> dict:
        return self.wait_for(HOOKS_DONE, "parent")

    def wait_for_created(self) -> dict:
        return self.wait_for(CREATED, "parent")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def fail_child(channel: Channel, exc: BaseException, debug: bool = False) -> None:
    """Report an error to the parent and exit; used at the top of every child."""
    if isinstance(exc, PyruntimeError):
        text = str(exc)
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
        if debug:
            import traceback
            text += "\n" + "".join(traceback.format_exception(exc))
    try:
        if channel.fd < 0:
            raise OSError("closed")
        channel.send(ERROR, error=text)
    except (OSError, PyruntimeError):
        # after READY nobody listens (create has returned): the container's own
        # stderr is the one place left where the caller can see what went wrong
        try:
            os.write(2, f"pyruntime: {text}\n".encode())
        except OSError:
            pass
    os._exit(1)
