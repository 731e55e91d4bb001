"""Unpack an image layer (a tar: plain, gzip or zstd) into a directory of its own, safely, from a
file or from the download as it streams (a pipe).

A layer is hostile. Every entry is created relative to a directory fd that was
opened inside the layer's root with openat2 RESOLVE_IN_ROOT (pyruntime's
`safepath`), so neither a `..` in a name, an absolute path, nor a symlink that an
earlier entry planted can place anything outside the layer; hard links must point
inside the layer too. Whiteouts become overlayfs's (a 0/0 character device, the
opaque xattr). Only user.* and security.capability xattrs are kept (a
trusted.overlay.* xattr from an image would steer overlayfs). A budget of bytes and
entries stops a layer that would fill the disk.
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import os
import shutil
import stat
import tarfile

from pyruntime.errors import PyruntimeError
from pyruntime.safefs import safepath

from ..errors import FailedPrecondition

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
XATTRS = ("user.", "security.capability")
CHUNK = 1 << 20


@dataclasses.dataclass
class Budget:
    bytes: int = 64 << 30
    entries: int = 2_000_000


class LayerError(FailedPrecondition):
    pass


def _parts(name: str, layer: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"layer {layer}: entry {name!r} leaves the layer (..)")
    return parts


class _Rejoined(io.RawIOBase):
    """A stream whose first bytes were read off to look at (the magic number), put back in front."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        return self.rest.readinto(buffer)


def _read_exactly(f, n: int) -> bytes:
    data = b""
    while len(data) < n and (chunk := f.read(n - len(data))):
        data += chunk
    return data


def decompressed(f):
    """The layer's tar stream from the raw stream ``f``, by magic number: gzip, zstd (the
    zstandard binding) or plain tar."""
    magic = _read_exactly(f, 4)
    raw = io.BufferedReader(_Rejoined(magic, f), CHUNK)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic == b"\x28\xb5\x2f\xfd":
        import zstandard  # only for the images that have zstd layers
        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def unpack(path: str, dest: str, budget: Budget) -> None:
    """Unpack the layer blob at ``path`` into the new, empty directory ``dest``."""
    with open(path, "rb") as f:
        unpack_stream(f, dest, budget, os.path.basename(path))


def unpack_stream(f, dest: str, budget: Budget, layer: str) -> None:
    """Unpack the layer read from ``f`` (read to its end, so a pipe's writer never blocks) into
    the new, empty directory ``dest``."""
    os.mkdir(dest, 0o755)
    root = os.open(dest, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    used = Budget(0, 0)
    try:
        with tarfile.open(fileobj=decompressed(f), mode="r|") as tar:
            for member in tar:
                used.entries += 1
                used.bytes += max(member.size, 0)
                if used.entries > budget.entries or used.bytes > budget.bytes:
                    raise LayerError(f"layer {layer}: more than {budget.entries} entries or {budget.bytes} bytes")
                _entry(root, tar, member, layer)
        while f.read(CHUNK):
            pass  # what follows the tar's end (padding, the compressor's trailer)
    except (tarfile.TarError, EOFError, OSError, PyruntimeError, ValueError, _zstd_error()) as exc:
        raise LayerError(f"layer {layer}: {exc}") from None
    finally:
        os.close(root)


def _zstd_error():
    try:
        import zstandard
        return zstandard.ZstdError
    except ImportError:
        return ValueError


def _entry(root: int, tar, member, layer: str) -> None:
    parts = _parts(member.name, layer)
    if not parts:
        return  # the layer's own root
    parent = safepath.mkdir_all(root, "/" + "/".join(parts[:-1]))
    try:
        base = parts[-1]
        if base == OPAQUE:
            fd = _reopen(parent, ".", os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.setxattr(f"/proc/self/fd/{fd}", "trusted.overlay.opaque", b"y")
            finally:
                os.close(fd)
            return
        if base.startswith(WHITEOUT):
            name = base[len(WHITEOUT):]
            if not name or name in (".", ".."):
                raise LayerError(f"layer {layer}: bad whiteout {member.name!r}")
            _clear(parent, name, False)
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
            return
        _clear(parent, base, member.isdir())
        _create(root, parent, base, tar, member, layer)
    finally:
        os.close(parent)


def _reopen(parent: int, name: str, flags: int) -> int:
    return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)


def _clear(parent: int, name: str, keep_dir: bool) -> None:
    """A later entry replaces an earlier one of the same name (a directory stays a directory)."""
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            shutil.rmtree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)


def _create(root: int, parent: int, base: str, tar, member, layer: str) -> None:
    mode = member.mode & 0o7777
    fd = None
    if member.isdir():
        try:
            os.mkdir(base, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        fd = _reopen(parent, base, os.O_RDONLY | os.O_DIRECTORY)
    elif member.isreg():
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        source = tar.extractfile(member)
        while chunk := source.read(CHUNK):
            os.write(fd, chunk)
    elif member.issym():
        os.symlink(member.linkname, base, dir_fd=parent)  # kept as written; resolved in the root at run time
    elif member.islnk():
        target = _parts(member.linkname, layer)
        if not target:
            raise LayerError(f"layer {layer}: hard link {member.name!r} to the layer's root")
        src_dir = safepath.open_in_root(root, "/" + "/".join(target[:-1]), os.O_PATH | os.O_DIRECTORY)
        try:
            os.link(target[-1], base, src_dir_fd=src_dir, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(src_dir)
        return  # a hard link shares its target's owner, mode and times
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent)
    else:
        raise LayerError(f"layer {layer}: entry {member.name!r} has an unsupported type {member.type!r}")
    try:
        os.chown(base, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        if fd is not None:
            os.fchmod(fd, mode)  # after chown, which clears setuid and setgid
            for key, value in member.pax_headers.items():
                if key.startswith("SCHILY.xattr."):
                    name = key[len("SCHILY.xattr."):]
                    if name.startswith(XATTRS):
                        os.setxattr(f"/proc/self/fd/{fd}", name, value.encode("utf-8", "surrogateescape"))
        elif not member.issym():
            os.chmod(base, mode, dir_fd=parent)  # a device or fifo we just made: not a symlink
        mtime = int(member.mtime * 1_000_000_000)
        os.utime(base, ns=(mtime, mtime), dir_fd=parent, follow_symlinks=False)
    finally:
        if fd is not None:
            os.close(fd)
