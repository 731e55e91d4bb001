"""Mount option strings of config.json into flags, attributes and data (pure).

runtime-spec config.md "Linux mount options": the mount(8) flags, bind/rbind,
propagation, the recursive ``r*`` forms (applied with mount_setattr and
AT_RECURSIVE), ``tmpcopyup``, ``idmap``/``ridmap``; anything else is
filesystem data passed to mount(2) as a comma-separated string.
"""
from __future__ import annotations

from pyruntime.startup.dataclass import dataclass

from pyruntime import linux as m

# option -> (flags to set, flags to clear)
FLAGS = {
    "defaults": (0, 0), "async": (0, m.MS_SYNCHRONOUS), "sync": (m.MS_SYNCHRONOUS, 0),
    "atime": (0, m.MS_NOATIME), "noatime": (m.MS_NOATIME, 0),
    "diratime": (0, m.MS_NODIRATIME), "nodiratime": (m.MS_NODIRATIME, 0),
    "dev": (0, m.MS_NODEV), "nodev": (m.MS_NODEV, 0),
    "exec": (0, m.MS_NOEXEC), "noexec": (m.MS_NOEXEC, 0),
    "suid": (0, m.MS_NOSUID), "nosuid": (m.MS_NOSUID, 0),
    "rw": (0, m.MS_RDONLY), "ro": (m.MS_RDONLY, 0),
    "dirsync": (m.MS_DIRSYNC, 0),
    "iversion": (m.MS_I_VERSION, 0), "noiversion": (0, m.MS_I_VERSION),
    "lazytime": (m.MS_LAZYTIME, 0), "nolazytime": (0, m.MS_LAZYTIME),
    "loud": (0, m.MS_SILENT), "silent": (m.MS_SILENT, 0),
    "mand": (m.MS_MANDLOCK, 0), "nomand": (0, m.MS_MANDLOCK),
    "relatime": (m.MS_RELATIME, 0), "norelatime": (0, m.MS_RELATIME),
    "strictatime": (m.MS_STRICTATIME, 0), "nostrictatime": (0, m.MS_STRICTATIME),
    "nosymfollow": (m.MS_NOSYMFOLLOW, 0), "symfollow": (0, m.MS_NOSYMFOLLOW),
    "remount": (m.MS_REMOUNT, 0),
    "bind": (m.MS_BIND, 0), "rbind": (m.MS_BIND | m.MS_REC, 0),
}

PROPAGATION = {
    "private": m.MS_PRIVATE, "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED, "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE, "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE, "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}

# recursive option -> (MOUNT_ATTR to set, MOUNT_ATTR to clear); the atime
# group is exclusive, so setting one clears the whole MOUNT_ATTR__ATIME field
RECURSIVE = {
    "rro": (m.MOUNT_ATTR_RDONLY, 0), "rrw": (0, m.MOUNT_ATTR_RDONLY),
    "rnosuid": (m.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, m.MOUNT_ATTR_NOSUID),
    "rnodev": (m.MOUNT_ATTR_NODEV, 0), "rdev": (0, m.MOUNT_ATTR_NODEV),
    "rnoexec": (m.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, m.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (m.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, m.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (m.MOUNT_ATTR_RELATIME, m.MOUNT_ATTR__ATIME),
    "rnorelatime": (0, m.MOUNT_ATTR__ATIME),
    "rnoatime": (m.MOUNT_ATTR_NOATIME, m.MOUNT_ATTR__ATIME),
    "ratime": (0, m.MOUNT_ATTR__ATIME),
    "rstrictatime": (m.MOUNT_ATTR_STRICTATIME, m.MOUNT_ATTR__ATIME),
    "rnostrictatime": (0, m.MOUNT_ATTR__ATIME),
    "rnosymfollow": (m.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, m.MOUNT_ATTR_NOSYMFOLLOW),
}

# flags a read-only remount of a bind must keep, or the kernel refuses it
# (EPERM) when the source mount has them locked (e.g. in a user namespace)

ALL_OPTIONS = sorted(set(FLAGS) | set(PROPAGATION) | set(RECURSIVE) | {"tmpcopyup", "idmap", "ridmap"})


@dataclass(frozen=True)
class Options:
    """One mount entry's options, sorted into what each kernel call needs."""
    flags: int = 0
    clear: int = 0
    propagation: tuple[int, ...] = ()
    attr_set: int = 0
    attr_clr: int = 0
    data: str = ""
    tmpcopyup: bool = False
    idmap: bool = False
    idmap_recursive: bool = False

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)

    @property
    def recursive_bind(self) -> bool:
        return bool(self.flags & m.MS_REC)


def parse(options: tuple[str, ...]) -> Options:
    flags = clear = attr_set = attr_clr = 0
    propagation: list[int] = []
    data: list[str] = []
    tmpcopyup = idmap = ridmap = False
    for opt in options:
        if opt in FLAGS:
            on, off = FLAGS[opt]
            flags = (flags | on) & ~off
            clear = (clear | off) & ~on
        elif opt in PROPAGATION:
            propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE:
            on, off = RECURSIVE[opt]
            attr_set = (attr_set & ~off) | on
            attr_clr |= off
            if not on:
                attr_set &= ~off
        elif opt == "tmpcopyup":
            tmpcopyup = True
        elif opt in ("idmap", "ridmap"):
            idmap = True
            ridmap = ridmap or opt == "ridmap"
        else:
            data.append(opt)
    return Options(flags, clear, tuple(propagation), attr_set, attr_clr, ",".join(data),
                   tmpcopyup, idmap, ridmap)
