"""Reading and writing cgroup files, with errors that name the file and the field."""
from __future__ import annotations

import errno
import os

from pyruntime.errors import CgroupError, describe_errno
from pyruntime.fileio import read_bytes, read_text

# What a refused write usually means, by errno (shown after the kernel's words).
HINTS = {
    errno.EBUSY: "the new limit is below current usage",
    errno.EINVAL: "the kernel refused the value",
    errno.ENOSPC: "no cpus/mems set for this cpuset",
    errno.EOPNOTSUPP: "this kernel no longer supports it",
    errno.EACCES: "permission denied by the cgroup hierarchy",
}


def write(path: str, value: str, field: str = "") -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        where = f"{field}: " if field else ""
        raise CgroupError(f"{where}cgroup file {path} does not exist "
                          "(controller not enabled or not supported on this host)") from None
    except OSError as exc:
        raise CgroupError(f"cgroup {path}: open: {describe_errno(exc.errno)}") from None
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        hint = HINTS.get(exc.errno, "")
        where = f"{field}: " if field else ""
        text = f"{where}cgroup {path}: write {value}: {describe_errno(exc.errno)}"
        raise CgroupError(f"{text} ({hint})" if hint else text) from None
    finally:
        os.close(fd)


def join_v1(dirs) -> None:
    """Move the calling process into each v1 cgroup directory (``tasks``), one file at a time.

    Writing "0" to a v1 ``tasks`` file moves the calling thread without the
    cgroup-wide rwsem that a cgroup.procs write of another pid takes, whose RCU
    grace period costs 10-25 ms per container (the runtime is single-threaded, so
    the thread is the process). Called by the process that moves, while it is
    still in the host's mount namespace (a directly cloned init before its mounts,
    or stage 1 before it enters any namespace): no descriptor is held across the
    fork, and no container can see one (the v2 hierarchy is joined at birth with
    clone3 CLONE_INTO_CGROUP).
    """
    for d in dirs:
        write(os.path.join(d, "tasks"), "0", "joining the container's cgroup")


def read(path: str) -> str:
    try:
        return read_text(path).strip()
    except OSError as exc:
        raise CgroupError(f"cgroup {path}: read: {describe_errno(exc.errno)}") from None


def read_int(path: str, default: int = 0) -> int:
    try:
        text = read_text(path).strip()
    except OSError:
        return default
    if text == "max":
        return -1
    try:
        return int(text)
    except ValueError:
        return default


def read_keyed(path: str) -> dict[str, int]:
    """'key value' lines (memory.stat, cpu.stat, ...) as a dict; missing file -> {}."""
    out: dict[str, int] = {}
    try:
        for line in read_text(path).splitlines():
            key, _, value = line.partition(" ")
            try:
                out[key] = int(value)
            except ValueError:
                pass
    except OSError:
        pass
    return out


def pids(path: str) -> list[int]:
    try:
        return [int(x) for x in read_bytes(os.path.join(path, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []


def make_dirs(path: str, stop_at: str) -> list[str]:
    """mkdir -p below ``stop_at``; return the directories that were created, outermost first."""
    created = []
    missing = []
    p = path
    while p != stop_at and not os.path.isdir(p):
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        try:
            os.mkdir(d)
            created.append(d)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CgroupError(f"cgroup {d}: mkdir: {describe_errno(exc.errno)}", exc.errno) from None
    return created


def remove_dir(path: str) -> None:
    """rmdir a cgroup; a missing one is already gone."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CgroupError(f"cgroup {path}: rmdir: {describe_errno(exc.errno)}") from None
