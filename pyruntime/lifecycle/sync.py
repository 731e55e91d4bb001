"""The parent/child protocol of create, run and exec, in one place.

Three processes take part (runc's nsexec stages, youki's message.rs):

    parent   the pyruntime command; stays in the host's namespaces
    stage1   forked by parent; joins/creates namespaces, forks the init, exits
             (only when needed: otherwise the parent clones the init into its
             new namespaces itself, and InitPid/Userns do not occur)
    init     the container process; sets up the rootfs and identity, then
             (create) waits on exec.fifo, or (exec) execs directly

They talk over one SOCK_SEQPACKET socketpair, one message a packet: a typed
message below, sent as a JSON object whose "t" names its type. The flows, as
handshakes (-> parent to child, <- child to parent; [..] only when needed):

    create, init cloned directly           create, through stage 1
      [-> CgroupDone]  not self-joining      [<- Userns -> UsernsDone]  a user namespace
      [<- Hooks -> HooksDone]                 <- InitPid{pid}
      <- Ready{warnings}                     then as on the left
      -> Created

    exec (stage 1 forks the process)
      <- InitPid{pid}
      [-> CgroupDone{pid}]  not self-joining, resctrl, or a seccomp agent (its host pid)
      <- Ready{warnings}

    message      from     to       meaning
    ---------    ------   ------   ------------------------------------------------
    Userns       stage1   parent   stage1 made its user namespace: write its id maps
    UsernsDone   parent   stage1   the maps are written
    InitPid      stage1   parent   the init (or exec's process) is forked: its host pid
    CgroupDone   parent   init     the parent has put the init in its cgroup (a user
                                   namespace's root cannot; with the systemd driver,
                                   systemd does); the init waits for it before it makes
                                   its cgroup namespace. exec's process: also for
                                   resctrl, and with a seccomp agent (its host pid)
    Hooks        init     parent   mounts are done, before pivot_root: run the
                                   prestart and createRuntime hooks
    HooksDone    parent   init     those hooks succeeded
    Ready        init     parent   setup is complete; warnings (what runc only warns
                                   about, for the parent to log)
    Created      parent   init     the state is recorded; the init now waits on
                                   exec.fifo. End of file instead (the create was
                                   killed) makes the init exit, never block forever
    Error        child    parent   one line; the sender exits non-zero

A child never returns into CLI code: it ends in execve, or in os._exit()
after sending Error. ``expect(Type)`` takes the next message: anything else
is an error that says "expected X, got Y", Error is the child's own line, and
end-of-file (every child gone without a word) is reported as such. Under
--debug the parent logs every message it sends and receives, as runc does.
"""
from __future__ import annotations

import os

from pyruntime import log
from pyruntime.startup import fastjson
from pyruntime.startup.dataclass import dataclass, fields
from pyruntime.errors import PyruntimeError


@dataclass(frozen=True)
class Userns:
    """stage1 -> parent: write my id maps."""


@dataclass(frozen=True)
class UsernsDone:
    """parent -> stage1: the id maps are written."""


@dataclass(frozen=True)
class InitPid:
    """stage1 -> parent: the process it forked."""
    pid: int


@dataclass(frozen=True)
class CgroupDone:
    """parent -> init: it is in its cgroup (exec: ``pid`` is its host pid)."""
    pid: int = 0


@dataclass(frozen=True)
class Hooks:
    """init -> parent: run the prestart and createRuntime hooks."""


@dataclass(frozen=True)
class HooksDone:
    """parent -> init: the hooks succeeded."""


@dataclass(frozen=True)
class Ready:
    """init -> parent: set up; what to warn about."""
    warnings: tuple = ()


@dataclass(frozen=True)
class Created:
    """parent -> init: the state is recorded: wait on exec.fifo."""


@dataclass(frozen=True)
class Error:
    """child -> parent: why it stops (one line)."""
    error: str


MESSAGES = {cls.__name__: cls for cls in (Userns, UsernsDone, InitPid, CgroupDone, Hooks, HooksDone, Ready,
                                           Created, Error)}


class ChildFailed(PyruntimeError):
    """A child reported an error (its message is the user's line)."""


class Channel:
    """One end of the socketpair; ``peer`` names the other end in errors, and in the debug
    log when this is the parent's end (children write no log: their descriptors are the
    container's to be)."""

    def __init__(self, fd: int, peer: str = "", logs: bool = False):
        self.fd, self.peer, self.logs = fd, peer, logs

    @staticmethod
    def pair() -> tuple["Channel", "Channel"]:
        """(the parent's end, the child's end)."""
        from pyruntime.kernel.fd import unix_pair
        a, b = unix_pair(seqpacket=True)
        return Channel(a, "container init", logs=True), Channel(b, "parent")

    def send(self, message) -> None:
        doc = {f.name: getattr(message, f.name) for f in fields(message)}
        doc["t"] = type(message).__name__
        if self.logs and log.debugging():
            log.debug(f"sync: sent {message!r}")
        try:
            os.write(self.fd, fastjson.dumps(doc).encode())
        except (BrokenPipeError, ConnectionResetError):
            # the other side is gone; if it said why before going, that is the error
            pending = self._pending()
            if isinstance(pending, Error):
                raise ChildFailed(pending.error) from None
            raise ChildFailed(f"the other process exited before receiving {type(message).__name__}") from None

    def _pending(self):
        """A message already waiting in the socket, without blocking."""
        os.set_blocking(self.fd, False)
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        finally:
            os.set_blocking(self.fd, True)
        return _decode(data) if data else None

    def expect(self, *types, who: str = ""):
        """The next message, which must be one of ``types``."""
        who = who or self.peer
        data = os.read(self.fd, 65536)
        names = " or ".join(t.__name__ for t in types)
        if not data:
            raise ChildFailed(f"{who} exited before sending {names}")
        message = _decode(data)
        if self.logs and log.debugging():
            log.debug(f"sync: received {message!r}")
        if isinstance(message, Error):
            raise ChildFailed(message.error)
        if not isinstance(message, types):
            raise ChildFailed(f"protocol error: expected {names} from {who}, got {type(message).__name__}")
        return message

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _decode(data: bytes):
    doc = fastjson.loads(data)
    cls = MESSAGES.get(doc.pop("t", None)) if isinstance(doc, dict) else None
    if cls is None:
        raise ChildFailed(f"protocol error: not a message: {data[:80]!r}")
    if cls is Ready:
        doc["warnings"] = tuple(doc.get("warnings", ()))
    return cls(**doc)


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
        channel.send(Error(text))
    except (OSError, PyruntimeError):
        # after READY nobody listens (create has returned): the container's own
        # stderr is the one place left where the caller can see what went wrong
        try:
            os.write(2, f"pyruntime: {text}\n".encode())
        except OSError:
            pass
    os._exit(1)
