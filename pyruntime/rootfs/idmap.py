"""Idmapped bind mounts (``idmap``/``ridmap`` options, per-mount uid/gid mappings).

The kernel lets only a caller privileged over the source filesystem (root in
the host's user namespace) mark a mount idmapped, so the parent prepares each
one before it forks: open_tree(OPEN_TREE_CLONE) of the source, a throw-away
user namespace carrying the mapping, mount_setattr(MOUNT_ATTR_IDMAP). The init
inherits the detached tree and move_mount()s it onto the target it resolved
inside the rootfs. Mappings are the mount's own, else the container's.
"""
from __future__ import annotations

import os

from pyruntime.errors import PyruntimeError
from pyruntime.kernel import mount as m, ns as k
from pyruntime.namespaces.plan import id_map_text
from pyruntime.rootfs.plan import BindMount

AT_FDCWD = -100


def userns_with(uid_map: str, gid_map: str) -> int:
    """An fd of a new user namespace with these maps (its only process exits at once)."""
    from pyruntime.namespaces.enter import write_id_maps
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = k.clone3_fork(k.CLONE_NEWUSER)
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # hold the namespace open until the parent has its fd
        os._exit(0)
    os.close(r)
    try:
        write_id_maps(pid, uid_map, gid_map)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def prepare_trees(steps) -> dict[int, int]:
    """{step index: detached idmapped tree fd} for every idmap bind mount in the plan."""
    trees: dict[int, int] = {}
    try:
        for index, step in enumerate(steps):
            if isinstance(step, BindMount) and step.o.idmap:
                trees[index] = _tree(step)
        return trees
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        raise


def _tree(step: BindMount) -> int:
    """The plan gave the step its mappings (its own, or the user namespace's)."""
    uid_maps, gid_maps = step.uid_mappings, step.gid_mappings
    flags = m.OPEN_TREE_CLONE | m.OPEN_TREE_CLOEXEC | (m.AT_RECURSIVE if step.o.recursive_bind else 0)
    tree = m.open_tree(AT_FDCWD, step.source, flags)
    try:
        userns = userns_with(id_map_text(uid_maps), id_map_text(gid_maps))
        try:
            m.mount_setattr(tree, "", m.AT_EMPTY_PATH | (m.AT_RECURSIVE if step.o.idmap_recursive else 0),
                            attr_set=m.MOUNT_ATTR_IDMAP, userns_fd=userns, shown_as=step.source)
        finally:
            os.close(userns)
    except PyruntimeError as exc:
        os.close(tree)
        raise exc.within(f"{step.field} (idmapped mount of {step.source})") from None
    return tree


def attach(tree: int, target_fd: int, shown_as: str) -> None:
    m.move_mount(tree, "", target_fd, "", m.MOVE_MOUNT_F_EMPTY_PATH | m.MOVE_MOUNT_T_EMPTY_PATH,
                 shown_as=shown_as)
