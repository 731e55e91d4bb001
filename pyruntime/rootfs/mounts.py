"""Carrying out the rootfs plan inside the container's mount namespace.

Runs in the container init before pivot_root, while the host's /proc is
still reachable: every target is an fd from ``safepath`` and every mount
call names it as /proc/self/fd/N, so the kernel acts on that exact inode.
"""
from __future__ import annotations

import errno
import os
import stat

from pyruntime.errors import PyruntimeError, SyscallError
from pyruntime.kernel import fd as kfd, mount as m
from pyruntime.rootfs import plan as p
from pyruntime.safefs import safepath
from pyruntime.safefs.safepath import fd_path

# statvfs f_flag bits (ST_*) -> the MS_* flag that keeps them on a remount
_ST_TO_MS = ((1, m.MS_RDONLY), (2, m.MS_NOSUID), (4, m.MS_NODEV), (8, m.MS_NOEXEC),
             (1024, m.MS_NOATIME), (2048, m.MS_NODIRATIME), (4096, m.MS_RELATIME))
LOCKABLE = m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
REMOUNT_MASK = (m.MS_RDONLY | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC | m.MS_NOATIME
                | m.MS_NODIRATIME | m.MS_RELATIME | m.MS_STRICTATIME | m.MS_NOSYMFOLLOW)


def mount_flags_of(fd: int) -> int:
    """The per-mount MS_* flags of the mount an fd is on."""
    f_flag = os.fstatvfs(fd).f_flag
    out = 0
    for st, ms in _ST_TO_MS:
        if f_flag & st:
            out |= ms
    return out


class Executor:
    """Applies plan steps below ``root_fd`` (an O_PATH fd of the rootfs mount)."""

    def __init__(self, root_fd: int, cgroup_view=None, null_fd: int = -1, enter_cgroup=None,
                 idmap_trees: dict | None = None):
        self.root_fd = root_fd
        self.cgroup_view = cgroup_view   # rootfs.cgroupfs.CgroupView, for cgroup mounts
        self.null_fd = null_fd           # verified host /dev/null, the source of file masks
        self.enter_cgroup = enter_cgroup or (lambda: None)  # the init's EnterCgroup step
        self.idmap_trees = idmap_trees or {}  # step index -> detached idmapped tree (rootfs.idmap)
        self._index = -1

    def run(self, steps: list) -> None:
        for self._index, step in enumerate(steps):
            try:
                getattr(self, "do_" + type(step).__name__)(step)
            except PyruntimeError as exc:
                field = getattr(step, "field", "")
                what = field or getattr(step, "path", "") or getattr(step, "target", "")
                raise exc.within(what) if what else exc

    # -- targets ---------------------------------------------------------
    def target(self, path: str, as_file: bool = False, proc_mount: bool = False) -> int:
        """An fd of the mount target, checked by what it resolved to (not the configured
        string): never inside /proc but where the plan allows it (rootfs.plan.proc_refusal)."""
        fd = self._open_or_make(path, as_file)
        where = safepath.path_in_root(self.root_fd, fd)
        why = p.proc_refusal(where or "/", proc_mount, kfd.fstatfs_type(fd) == kfd.PROC_SUPER_MAGIC)
        if why:
            os.close(fd)
            raise PyruntimeError(f"{path} resolves to {where or 'a procfs file'}: {why}")
        return fd

    def _open_or_make(self, path: str, as_file: bool) -> int:
        try:
            return safepath.open_in_root(self.root_fd, path)
        except SyscallError as exc:
            if exc.errno != errno.ENOENT:
                raise
        if as_file:
            return safepath.create_file(self.root_fd, path)
        return safepath.mkdir_all(self.root_fd, path)

    def _reopen(self, path: str) -> int:
        """An fd of what is now mounted at path (the old fd is the covered inode)."""
        return safepath.open_in_root(self.root_fd, path)

    # -- steps -----------------------------------------------------------
    def do_FsMount(self, s: p.FsMount) -> None:
        target = self.target(s.target, proc_mount=s.fstype == "proc")
        try:
            if s.o.tmpcopyup:
                self._tmpfs_copyup(s, target)
            else:
                flags = s.o.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
                m.mount(s.source, fd_path(target), s.fstype, flags, s.o.data or None, shown_as=s.target)
        finally:
            os.close(target)
        self._after_mount(s.target, s.o)

    def do_BindMount(self, s: p.BindMount) -> None:
        tree = self.idmap_trees.pop(self._index, None)
        if tree is not None:
            self._attach_tree(s, tree)
            return
        try:
            src = os.open(s.source, safepath.O_PATH | os.O_CLOEXEC)
        except OSError as exc:
            raise SyscallError("open", exc.errno, s.source, hint="bind mount source") from None
        try:
            as_file = not stat.S_ISDIR(os.fstat(src).st_mode)
            target = self.target(s.target, as_file=as_file)
            try:
                m.mount(fd_path(src), fd_path(target), None, m.MS_BIND | (s.o.flags & m.MS_REC),
                        shown_as=s.target)
            finally:
                os.close(target)
        finally:
            os.close(src)
        self._finish_bind(s)

    def _finish_bind(self, s: p.BindMount) -> None:
        """A bind takes its flags only from a remount; then propagation and the rest."""
        remount = s.o.flags & REMOUNT_MASK & ~(m.MS_BIND | m.MS_REC)
        if remount or s.o.clear & REMOUNT_MASK:
            self.remount(s.target, remount, s.o.clear)
        self._after_mount(s.target, s.o)

    def _attach_tree(self, s: p.BindMount, tree: int) -> None:
        """An idmapped bind prepared by the parent: move it onto the target."""
        from pyruntime.rootfs.idmap import attach
        try:
            as_file = not stat.S_ISDIR(os.fstat(tree).st_mode)
            target = self.target(s.target, as_file=as_file)
            try:
                attach(tree, target, s.target)
            finally:
                os.close(target)
        finally:
            os.close(tree)
        self._finish_bind(s)

    def do_EnterCgroup(self, s: p.EnterCgroup) -> None:
        self.enter_cgroup()

    def do_CgroupMount(self, s: p.CgroupMount) -> None:
        from pyruntime.rootfs.cgroupfs import mount_cgroup_view
        mount_cgroup_view(self, s)

    def do_MakeDevice(self, s: p.MakeDevice) -> None:
        from pyruntime.rootfs.devices import make_device
        make_device(self.root_fd, s.device, s.bind, must_match=bool(s.field))

    def do_Symlink(self, s: p.Symlink) -> None:
        parent = safepath.mkdir_all(self.root_fd, os.path.dirname(s.path))
        name = os.path.basename(s.path)
        try:
            if s.replace:
                try:
                    os.unlink(name, dir_fd=parent)
                except FileNotFoundError:
                    pass
                except IsADirectoryError:
                    raise SyscallError("unlink", errno.EISDIR, s.path) from None
            try:
                os.symlink(s.target, name, dir_fd=parent)
            except FileExistsError:
                pass
        finally:
            os.close(parent)

    def _open_existing(self, path: str) -> int | None:
        """The fd of path in the rootfs; None when it does not exist (nothing to mask or protect)."""
        try:
            return safepath.open_in_root(self.root_fd, path)
        except SyscallError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def do_MaskPath(self, s: p.MaskPath) -> None:
        fd = self._open_existing(s.path)
        if fd is None:
            return
        try:
            if safepath.kind_of(fd) == "dir":
                m.mount("tmpfs", fd_path(fd), "tmpfs", m.MS_RDONLY, None, shown_as=s.path)
            else:
                # the mask's source is the host's /dev/null, checked to be 1:3 when opened:
                # a container cannot redirect it (CVE-2025-31133 class)
                m.mount(fd_path(self.null_fd), fd_path(fd), None, m.MS_BIND, shown_as=s.path)
                self.remount(s.path, m.MS_RDONLY, 0)
        finally:
            os.close(fd)

    def do_ReadonlyPath(self, s: p.ReadonlyPath) -> None:
        fd = self._open_existing(s.path)
        if fd is None:
            return
        try:
            m.mount(fd_path(fd), fd_path(fd), None, m.MS_BIND | m.MS_REC, shown_as=s.path)
        finally:
            os.close(fd)
        self.remount(s.path, m.MS_RDONLY, 0)

    # -- helpers ---------------------------------------------------------
    def remount(self, path: str, flags: int, clear: int) -> None:
        """Bind-remount with ``flags``, keeping the lockable flags the mount already has.

        Dropping nosuid/nodev/noexec that the source had would weaken it (and in a
        user namespace the kernel refuses with EPERM), unless the config asks for it.
        """
        fd = self._reopen(path)
        try:
            keep = mount_flags_of(fd) & LOCKABLE & ~clear
            want = (flags | keep) & REMOUNT_MASK
            try:
                m.mount(None, fd_path(fd), None, m.MS_REMOUNT | m.MS_BIND | want, shown_as=path)
            except SyscallError as exc:
                if exc.errno != errno.EPERM:
                    raise
                want |= mount_flags_of(fd) & LOCKABLE
                m.mount(None, fd_path(fd), None, m.MS_REMOUNT | m.MS_BIND | want, shown_as=path)
        finally:
            os.close(fd)

    def _after_mount(self, path: str, o) -> None:
        if not o.propagation and not (o.attr_set or o.attr_clr):
            return
        fd = self._reopen(path)
        try:
            for prop in o.propagation:
                m.mount(None, fd_path(fd), None, prop, shown_as=path)
            if o.attr_set or o.attr_clr:
                m.mount_setattr(fd, "", m.AT_EMPTY_PATH | m.AT_RECURSIVE, o.attr_set, o.attr_clr,
                                shown_as=path)
        finally:
            os.close(fd)

    def _tmpfs_copyup(self, s: p.FsMount, target: int) -> None:
        """tmpcopyup: a new tmpfs that starts with the directory's current contents."""
        from pyruntime.rootfs.copyup import copy_tree
        fs_fd = m.fsopen(s.fstype)
        try:
            m.fsconfig(fs_fd, m.FSCONFIG_SET_STRING, "source", s.source)
            for opt in filter(None, s.o.data.split(",")):
                key, eq, value = opt.partition("=")
                if eq:
                    m.fsconfig(fs_fd, m.FSCONFIG_SET_STRING, key, value)
                else:
                    m.fsconfig(fs_fd, m.FSCONFIG_SET_FLAG, key)
            m.fsconfig(fs_fd, m.FSCONFIG_CMD_CREATE)
            mnt = m.fsmount(fs_fd)
        finally:
            os.close(fs_fd)
        try:
            src = os.open(fd_path(target), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                copy_tree(src, mnt)
            finally:
                os.close(src)
            m.move_mount(mnt, "", target, "", m.MOVE_MOUNT_F_EMPTY_PATH | m.MOVE_MOUNT_T_EMPTY_PATH,
                         shown_as=s.target)
        finally:
            os.close(mnt)
        flags = s.o.flags & REMOUNT_MASK
        if flags:
            fd = self._reopen(s.target)
            try:
                m.mount(None, fd_path(fd), None, m.MS_REMOUNT | flags, s.o.data or None, shown_as=s.target)
            finally:
                os.close(fd)
