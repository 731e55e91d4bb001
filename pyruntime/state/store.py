"""The state directory: one directory per container under ``--root``.

Layout of ``<root>/<id>/``:
    state.json   the ContainerRecord (0600: it holds the config's environment),
                 replaced atomically (new file, fsync, rename)
    exec.fifo    exists from create until start (runc's model): the init
                 blocks opening it for writing; ``start`` opens it to read

The root and each container directory are 0700, as runc's: another local
user can neither read a container's state nor reach its exec.fifo.
Commands on one container are serialised with flock(2) on its directory.
Before a create makes any cgroup or process it writes a record marked
``creating`` (pid 0, the cgroup it will make); a create killed half-way
leaves that, and ``delete`` removes what it names. A directory without
state.json is a create that died before that; ``delete`` removes it too.
"""
from __future__ import annotations

import fcntl
import os
import time

from pyruntime.startup import fastjson
from pyruntime.errors import NotFound, StateError, UsageError, from_oserror
from pyruntime.fileio import read_bytes, replace_file

STATE_FILE = "state.json"
FIFO = "exec.fifo"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(container_id: str) -> str:
    """runc's rule: letters, digits, _ + - . only; never '.' or '..' (no path escapes)."""
    if not container_id:
        raise UsageError("container id cannot be empty")
    if not set(container_id) <= _ID_CHARS or container_id in (".", ".."):
        raise UsageError(f"invalid container id {container_id!r}: only letters, digits and _+-. are allowed")
    return container_id


def rfc3339_now() -> str:
    """Go's RFC3339Nano in UTC: fractional seconds without trailing zeros."""
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


class ContainerRecord:
    """What pyruntime remembers about a container between commands (state.json).

    A plain class rather than a dataclass: start, kill and delete read it, and
    they are the commands a shim calls most; they should not import dataclasses.
    """

    FIELDS = ("id", "bundle", "rootfs", "created", "pid", "pid_start", "config", "cgroup",
              "systemd_cgroup", "owner", "resctrl", "creating", "decided")
    __slots__ = FIELDS

    def __init__(self, id: str, bundle: str, rootfs: str, created: str, pid: int = 0,
                 pid_start: int | None = None, config: dict | None = None,
                 cgroup: dict | None = None, systemd_cgroup: bool = False,
                 rootless: bool = False, owner: int = 0, resctrl: dict | None = None,
                 creating: bool = False, decided: dict | None = None):
        self.id, self.bundle, self.rootfs, self.created = id, bundle, rootfs, created
        self.pid = pid
        self.pid_start = pid_start          # /proc/<pid>/stat starttime: detects pid reuse
        self.config = config or {}          # the config.json document as created
        self.cgroup = cgroup or {}          # the cgroup manager's description
        self.systemd_cgroup, self.owner = systemd_cgroup, owner  # rootless: read from old records, unused
        self.resctrl = resctrl or {}        # resctrl.apply's result (linux.intelRdt)
        # written before any cgroup or process exists: what a create will make, so that
        # delete can remove it all if the create is killed (then pid is 0)
        self.creating = creating
        # what create decided that later commands act on, so that they never parse the config
        # again: "mount_namespace" (bool), "poststart" and "poststop" (hooks, as Hook fields),
        # "exec" (lifecycle.exec.recorded: the base process, the compiled seccomp filter...),
        # "device_rules" (what update adds to the rules it is given)
        self.decided = decided or {}

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    @property
    def annotations(self) -> dict:
        return self.config.get("annotations") or {}


class ContainerDir:
    """An open, locked container directory."""

    def __init__(self, root: str, container_id: str, fd: int):
        self.id = container_id
        self.path = os.path.join(root, container_id)
        self.fd = fd

    @property
    def fifo_path(self) -> str:
        return os.path.join(self.path, FIFO)

    def has_fifo(self) -> bool:
        return os.path.exists(self.fifo_path)

    def read(self) -> ContainerRecord | None:
        try:
            return ContainerRecord(**fastjson.loads(read_bytes(os.path.join(self.path, STATE_FILE))))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise StateError(f"{self.path}/{STATE_FILE}: unreadable state ({exc})") from None

    def write(self, record: ContainerRecord, sync: bool = True) -> None:
        """``sync`` False for the creating record: cgroups and processes do not outlive a
        crash of the machine, so only the final record needs to be on disk."""
        replace_file(os.path.join(self.path, STATE_FILE), fastjson.dumps(record.to_dict()).encode(),
                     0o600, sync=sync)

    def remove(self) -> None:
        for name in os.listdir(self.path):
            os.unlink(os.path.join(self.path, name))
        os.rmdir(self.path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the flock
            self.fd = -1

    def __enter__(self) -> "ContainerDir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Store:
    """All containers under one --root."""

    def __init__(self, root: str):
        self.root = root

    def _lock(self, container_id: str, blocking: bool = True) -> ContainerDir:
        path = os.path.join(self.root, container_id)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound() from None
        except OSError as exc:
            raise from_oserror(exc, "open") from None
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not os.path.isdir(path):  # deleted while we waited for the lock
            os.close(fd)
            raise NotFound()
        return ContainerDir(self.root, container_id, fd)

    def create(self, container_id: str) -> ContainerDir:
        """Make and lock a new container directory; refuses an id that exists."""
        check_id(container_id)
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.mkdir(os.path.join(self.root, container_id), 0o700)
        except FileExistsError:
            raise StateError(f"container with given ID already exists: {container_id}") from None
        except OSError as exc:
            raise from_oserror(exc, "mkdir") from None
        return self._lock(container_id)

    def open(self, container_id: str) -> ContainerDir:
        check_id(container_id)
        return self._lock(container_id)

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root)
                          if os.path.isdir(os.path.join(self.root, n)))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise from_oserror(exc, "open") from None
