"""Container paths to file descriptors, never leaving the rootfs.

The only module that turns a path inside a container rootfs into something
the runtime acts on. Everything else receives fds. Resolution uses openat2
with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so ``..`` and absolute symlinks
stay inside the root and /proc magic links are refused (the CVE-2021-30465 and
CVE-2024-21626 classes). Where openat2 is missing (kernel < 5.6) a checked
fallback walks one component at a time with O_NOFOLLOW, resolving symlinks
lexically inside the root, and verifies the result through /proc/self/fd.

Mounts then target ``/proc/self/fd/N`` (or move_mount onto the fd), so a path
swapped for a symlink after it was resolved changes nothing.
"""
from __future__ import annotations

import errno
import os
import stat

from pyruntime.errors import SyscallError
from pyruntime.kernel import fd as kfd

RESOLVE = kfd.RESOLVE_IN_ROOT | kfd.RESOLVE_NO_MAGICLINKS
O_PATH = kfd.O_PATH
_has_openat2 = True


def fd_path(fd: int) -> str:
    """The magic-link path through which mount(2) reaches an fd's file."""
    return f"/proc/self/fd/{fd}"


def path_in_root(root_fd: int, fd: int) -> str | None:
    """Where ``fd`` is, as a path inside the root ``root_fd``; None when that cannot be told."""
    try:
        root, there = os.readlink(fd_path(root_fd)), os.readlink(fd_path(fd))
    except OSError:
        return None
    if there == root:
        return "/"
    prefix = root.rstrip("/") + "/"
    return "/" + there[len(prefix):] if there.startswith(prefix) else None


def probe_openat2() -> bool:
    """Whether this kernel has openat2 (Linux 5.6): asked once, by the parent on the host
    (lifecycle.host.probe), and handed to the init with the plan (``use_openat2``)."""
    try:
        os.close(kfd.openat2(-100, "/", O_PATH))  # AT_FDCWD
    except SyscallError as exc:
        return exc.errno != errno.ENOSYS
    return True


def use_openat2(available: bool) -> None:
    """Resolve with openat2, or with the checked component walk where the kernel lacks it."""
    global _has_openat2
    _has_openat2 = available


def _openat2(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    global _has_openat2
    if _has_openat2:
        try:
            return kfd.openat2(root_fd, path.lstrip("/") or ".", flags, mode, RESOLVE, shown_as=path)
        except SyscallError as exc:
            if exc.errno != errno.ENOSYS:
                raise
            _has_openat2 = False
    return _fallback_open(root_fd, path, flags, mode)


def open_in_root(root_fd: int, path: str, flags: int = O_PATH, mode: int = 0) -> int:
    """Open ``path`` (container view) below ``root_fd``; symlinks resolve inside the root."""
    return _openat2(root_fd, path, flags | os.O_CLOEXEC, mode)


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def mkdir_all(root_fd: int, path: str, mode: int = 0o755, _links: int = 0) -> int:
    """mkdir -p inside the root; returns an O_PATH fd of the final directory.

    The deepest existing ancestor is found by opening in the root (one call
    when the directory exists, as most mount targets do), then each missing
    component is created relative to its parent's fd and opened in the root,
    so a component that is a symlink is followed only within it; a symlink to
    something missing gets its target created, inside the root.
    """
    try:
        return _openat2(root_fd, path, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except SyscallError as exc:
        if exc.errno != errno.ENOENT:
            raise
    parts = _split(path)
    if not parts:
        return os.dup(root_fd)
    base = "/" + "/".join(parts[:-1])
    parent = mkdir_all(root_fd, base, mode, _links)
    try:
        try:
            os.mkdir(parts[-1], mode, dir_fd=parent)
        except FileExistsError:
            pass
        except OSError as exc:
            raise SyscallError("mkdir", exc.errno, path) from None
        try:
            return _openat2(root_fd, path, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except SyscallError as exc:
            if exc.errno != errno.ENOENT:
                raise
        try:
            target = os.readlink(parts[-1], dir_fd=parent)  # a dangling symlink
        except OSError:  # not a symlink: it vanished under us
            raise SyscallError("mkdir", errno.ENOENT, path) from None
        if _links >= 40:
            raise SyscallError("mkdir", errno.ELOOP, path) from None
        return mkdir_all(root_fd, target if target.startswith("/") else f"{base}/{target}", mode, _links + 1)
    finally:
        os.close(parent)


def create_file(root_fd: int, path: str, mode: int = 0o644) -> int:
    """Make sure a regular file (a bind-mount target) exists; returns an O_PATH fd."""
    parent = mkdir_all(root_fd, os.path.dirname(path) or "/")
    try:
        name = os.path.basename(path)
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW,
                         mode, dir_fd=parent)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise SyscallError("create", exc.errno, path) from None
        return open_in_root(root_fd, path)
    finally:
        os.close(parent)


def kind_of(fd: int) -> str:
    """'dir', 'file', 'symlink' or 'other' for an open fd."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _fallback_open(root_fd: int, path: str, flags: int, mode: int) -> int:
    """Component walk for kernels without openat2 (checked afterwards).

    Symlinks are read and spliced into the remaining path, absolute ones
    restarting at the root, with ``..`` clamped at the root: the same rules as
    RESOLVE_IN_ROOT. At most 40 links, like the kernel.
    """
    parts = _split(path)
    stack: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if stack:
                stack.pop()
            continue
        candidate = "/".join(stack + [part])
        try:
            target = os.readlink(candidate, dir_fd=root_fd)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                stack.append(part)
                continue
            raise SyscallError("readlink", exc.errno, "/" + candidate) from None
        links += 1
        if links > 40:
            raise SyscallError("open", errno.ELOOP, path)
        if target.startswith("/"):
            stack = []
        parts = _split(target) + parts
    rel = "/".join(stack) or "."
    try:
        fd = os.open(rel, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=root_fd)
    except OSError as exc:
        raise SyscallError("open", exc.errno, path) from None
    root_real = os.readlink(fd_path(root_fd))
    got = os.readlink(fd_path(fd))
    if got != root_real and not got.startswith(root_real.rstrip("/") + "/"):
        os.close(fd)
        raise SyscallError("open", errno.EXDEV, path, hint="resolved outside the container root")
    return fd
