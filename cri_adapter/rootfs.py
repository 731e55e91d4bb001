"""A container's root: an overlayfs of its image's layers with its own upper and work directories;
image volumes: an image's layers as a read-only overlayfs of their own."""
from __future__ import annotations

import errno
import os
import shutil
import stat

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import mount
from pyruntime.safefs import safepath

from .errors import Internal, InvalidArgument

MAX_USERDB = 1 << 20  # an image's /etc/passwd larger than this is not read


def make(bundle: str, layer_dirs: list[str]) -> str:
    """Mount <bundle>/rootfs: layers (the last the uppermost) under <bundle>/upper."""
    rootfs, upper, work = (os.path.join(bundle, d) for d in ("rootfs", "upper", "work"))
    for d in (rootfs, upper, work):
        os.makedirs(d, 0o755, exist_ok=True)
    if not layer_dirs:  # an image of no layers: an empty lower directory
        empty = os.path.join(bundle, "empty")
        os.makedirs(empty, exist_ok=True)
        layer_dirs = [empty]
    lower = ":".join(reversed(layer_dirs))
    try:
        mount.mount("overlay", rootfs, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work},index=off")
    except PyruntimeError as exc:
        raise Internal(f"overlay rootfs for {bundle}: {exc}") from None
    return rootfs


def image_volume(bundle: str, index: int, layer_dirs: list[str], sub_path: str) -> str:
    """Mount the image of mounts[index] read-only at <bundle>/image-volumes/<index>; the directory to
    bind: its root, or ``sub_path`` found inside it (symlinks resolved in the image)."""
    target = os.path.join(bundle, "image-volumes", str(index))
    os.makedirs(target, 0o755, exist_ok=True)
    empty = os.path.join(bundle, "image-volumes", "empty")  # overlayfs without an upper wants 2 lowers
    os.makedirs(empty, 0o755, exist_ok=True)
    lower = ":".join(list(reversed(layer_dirs)) + [empty])
    try:
        mount.mount("overlay", target, "overlay", mount.MS_RDONLY | mount.MS_NOSUID | mount.MS_NODEV,
                    f"lowerdir={lower}")
    except PyruntimeError as exc:
        raise Internal(f"image volume {target}: {exc}") from None
    if not sub_path:
        return target
    root = os.open(target, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = safepath.open_in_root(root, sub_path, os.O_PATH)
        except PyruntimeError:
            raise InvalidArgument(f"mounts[{index}].image_sub_path: {sub_path!r} does not exist in the image") \
                from None
        try:  # the layers never change, so the path found stays what it names
            return os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    finally:
        os.close(root)


def pod_shm(pod_dir: str) -> str:
    """The pod's /dev/shm: one tmpfs its containers share (POSIX shared memory between them), as
    containerd's and CRI-O's sandboxes have."""
    path = os.path.join(pod_dir, "shm")
    os.makedirs(path, 0o700, exist_ok=True)
    try:
        mount.mount("shm", path, "tmpfs", mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC,
                    "mode=1777,size=65536k")
    except PyruntimeError as exc:
        raise Internal(f"the pod's /dev/shm at {path}: {exc}") from None
    return path


def remove_pod_shm(path: str) -> None:
    try:
        mount.umount2(path, mount.MNT_DETACH)
    except SyscallError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise Internal(f"unmounting {path}: {exc}") from None
    if os.path.isdir(path):
        os.rmdir(path)


def remove(bundle: str) -> None:
    volumes = os.path.join(bundle, "image-volumes")
    mounted = [os.path.join(volumes, n) for n in (os.listdir(volumes) if os.path.isdir(volumes) else ())
               if n != "empty"]
    for path in mounted + [os.path.join(bundle, "rootfs")]:
        try:
            mount.umount2(path, mount.MNT_DETACH)
        except SyscallError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise Internal(f"unmounting {path}: {exc}") from None
    shutil.rmtree(bundle, ignore_errors=True)


def read_file(rootfs: str, path: str) -> str:
    """A small text file of the image (/etc/passwd), its symlinks resolved inside the rootfs; "" if absent."""
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            handle = safepath.open_in_root(root, path, os.O_PATH)
        except PyruntimeError:
            return ""
        try:
            # look before opening: a device node or fifo planted as /etc/passwd is never opened
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                return ""
            fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(handle)
        try:
            return os.read(fd, MAX_USERDB).decode("utf-8", "replace")
        finally:
            os.close(fd)
    finally:
        os.close(root)


def has_executable(rootfs: str, name: str, path_env: str) -> bool:
    """Whether the image has ``name`` (a path, or a name looked up in PATH), resolved inside the rootfs."""
    candidates = [name] if "/" in name else [f"{d or '/'}/{name}" for d in path_env.split(":")]
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for candidate in candidates:
            try:
                fd = safepath.open_in_root(root, candidate, os.O_PATH)
            except PyruntimeError:
                continue
            try:
                st = os.fstat(fd)
            finally:
                os.close(fd)
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
                return True
        return False
    finally:
        os.close(root)


def usage(directory: str) -> tuple[int, int]:
    used, inodes = 0, 0
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            try:
                used += os.lstat(os.path.join(base, name)).st_blocks * 512
                inodes += 1
            except FileNotFoundError:
                pass
    return used, inodes
