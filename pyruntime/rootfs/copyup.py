"""Copy a directory tree between two directory fds (tmpcopyup), keeping owners and modes."""
from __future__ import annotations

import os
import stat


def copy_tree(src_dir: int, dst_dir: int) -> None:
    for entry in os.scandir(src_dir):
        st = entry.stat(follow_symlinks=False)
        name = entry.name
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, stat.S_IMODE(st.st_mode), dir_fd=dst_dir)
            s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_dir)
            try:
                copy_tree(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src_dir), name, dir_fd=dst_dir)
        elif stat.S_ISREG(st.st_mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
            d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                        stat.S_IMODE(st.st_mode), dir_fd=dst_dir)
            try:
                while True:
                    n = os.sendfile(d, s, None, 1 << 20)
                    if n == 0:
                        break
            finally:
                os.close(s)
                os.close(d)
        else:
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst_dir)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst_dir)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_dir, follow_symlinks=False)
