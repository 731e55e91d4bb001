"""The one exception family of pyruntime.

Every failure a user can meet is a ``PyruntimeError``. Its text is the single
line they read on stderr (after ``pyruntime: ``) and in the ``--log`` entry,
so it names the place (config field, path, syscall, cgroup file) and the cause.
Errors gain context as they rise (``err.within("rootfs")``), the way crun
chains ``libcrun_error_t``. Operating-system errors are translated into these
at the kernel-call seam; nothing above it inspects errno numbers.
"""
from __future__ import annotations

import errno as _errno
import os


class PyruntimeError(Exception):
    """Base class; ``str(err)`` is the user-facing line, ``exit_code`` the status (runc's)."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def within(self, context: str) -> "PyruntimeError":
        """Prefix the message with where it happened and return self, for re-raising."""
        self.message = f"{context}: {self.message}"
        self.args = (self.message,)
        return self


class UsageError(PyruntimeError):
    """The command line itself is wrong (unknown flag, missing argument)."""


class ConfigError(PyruntimeError):
    """config.json (or a process.json / resources file) is invalid.

    ``problems`` holds one line per problem, each starting with the JSON path.
    """

    def __init__(self, problems: list[str], source: str = "config.json"):
        self.lines = list(problems)  # without the source, for a caller that gathers problems
        self.problems = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(self.problems))


class StateError(PyruntimeError):
    """The container is not in a state that allows the operation."""


class NotFound(PyruntimeError):
    """The container does not exist."""

    def __init__(self, container_id: str = ""):
        super().__init__("container does not exist" if not container_id
                         else f"container {container_id} does not exist")


class CgroupError(PyruntimeError):
    """A cgroup file could not be created, written or read (``errno`` when the kernel said why)."""

    def __init__(self, message: str, err: int = 0):
        super().__init__(message)
        self.errno = err


class HookError(PyruntimeError):
    """A lifecycle hook failed or timed out."""


class SyscallError(PyruntimeError):
    """A kernel call failed: carries the call name, the errno and the path."""

    def __init__(self, call: str, err: int, path: str | None = None, hint: str = ""):
        self.call = call
        self.errno = err
        self.path = path
        where = f"{call} {path}" if path else call
        text = f"{where}: {describe_errno(err)}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


def describe_errno(err: int) -> str:
    """'permission denied' rather than 'Permission denied' (matches runc's Go errors)."""
    text = os.strerror(err)
    return text[:1].lower() + text[1:]


def from_oserror(exc: OSError, call: str | None = None, path: str | None = None) -> SyscallError:
    """Translate a Python OSError from an os.* call into our family."""
    name = call or (exc.__class__.__name__ if exc.errno is None else "")
    return SyscallError(name or "os", exc.errno or _errno.EIO, path or exc.filename)
