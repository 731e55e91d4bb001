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


def write_bytes(path: str, data: bytes, mode: int = 0o644) -> None:
    """Create or truncate ``path`` and write all of ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
