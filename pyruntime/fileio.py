"""Whole small files in one go: /proc, cgroup, state and pid files.

``open()`` builds a buffered (and, for text, a decoding) file object and asks
whether the file is a terminal and where it is positioned: three system calls
and a few objects more than a file of a few hundred bytes needs, on every
command's path. Errors are the OSError that ``open()`` would raise.
"""
from __future__ import annotations

import os


def read_bytes(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            data = os.read(fd, 65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)
    finally:
        os.close(fd)


def read_text(path: str) -> str:
    return read_bytes(path).decode()


def write_once(path: str, data: bytes) -> None:
    """One write(2) to an existing file: kernel files (/proc, resctrl) take each write as one command."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def replace_file(path: str, data: bytes, mode: int = 0o644, sync: bool = False) -> None:
    """Put ``data`` at ``path`` atomically: readers see the old file or the new one, whole.

    The new file is made beside it with O_EXCL | O_NOFOLLOW, so a symlink planted
    under that name (a --pid-file directory others can write) is never followed, and
    renamed over ``path`` (rename replaces a symlink there; it does not follow it).
    ``sync``: on disk before the rename, so a crash cannot leave half a file.
    """
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_pid_file(path: str, pid: int) -> None:
    """Atomically, as runc does: the shim may read it the moment it appears (and never
    through a symlink someone planted in the directory: see fileio.replace_file)."""
    try:
        replace_file(os.path.abspath(path), str(pid).encode())
    except OSError as exc:
        from pyruntime.errors import PyruntimeError, describe_errno
        raise PyruntimeError(f"--pid-file {path}: {describe_errno(exc.errno)}") from None
