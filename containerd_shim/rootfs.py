"""The rootfs containerd's snapshotter describes (CreateTaskRequest.rootfs), mounted at
<bundle>/rootfs for the task's life, as the runc shim does."""
from __future__ import annotations

from pyruntime import linux
from pyruntime.errors import PyruntimeError
from pyruntime.kernel import mount as kmount

FLAGS = {"ro": linux.MS_RDONLY, "nosuid": linux.MS_NOSUID, "nodev": linux.MS_NODEV, "noexec": linux.MS_NOEXEC,
         "bind": linux.MS_BIND, "rbind": linux.MS_BIND | linux.MS_REC}
IGNORED = {"rw", "suid", "dev", "exec"}
MNT_DETACH = 2


def mount_all(mounts, target: str) -> bool:
    """Mount each of containerd's mounts on ``target``; whether anything was mounted."""
    for m in mounts:
        flags, data = 0, []
        for option in m.options:
            if option in FLAGS:
                flags |= FLAGS[option]
            elif option not in IGNORED:
                data.append(option)
        kmount.mount(m.source, target, m.type if not flags & linux.MS_BIND else None,
                     flags & ~linux.MS_RDONLY if flags & linux.MS_BIND else flags, ",".join(data) or None)
        if flags & linux.MS_BIND and flags & linux.MS_RDONLY:  # a bind mount is made read-only by a remount
            kmount.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY, None)
    return bool(mounts)


def unmount_all(target: str) -> None:
    """Every mount stacked on ``target``, lazily (the runc shim's UnmountAll with MNT_DETACH)."""
    while True:
        try:
            kmount.umount2(target, MNT_DETACH)
        except PyruntimeError:
            return  # EINVAL: nothing (more) mounted there; ENOENT: the bundle is gone
