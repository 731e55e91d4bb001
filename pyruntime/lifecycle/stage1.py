"""Stage 1: the child that enters the container's namespaces and forks its init.

It exists because pid and time namespaces only apply to children, the user
namespace must be mapped by the parent between ``unshare`` and the creation
of the other namespaces, and joined namespaces must be entered before the
new ones are made. See ``sync`` for the messages. When there is none of
that to do (the common case: every namespace new, no user namespace, no
clock offsets), ``clone_init`` makes the init in one clone3 instead: a fork
of the runtime less on every container start.
"""
from __future__ import annotations

import os

from pyruntime.cgroups import fs
from pyruntime.kernel import ns as k, proc
from pyruntime.lifecycle import sync
from pyruntime.namespaces import enter
from pyruntime.namespaces.plan import NamespacePlan


def maps_root(id_map: str) -> bool:
    """True when container id 0 has a mapping (so setresuid(0) can succeed)."""
    for line in id_map.splitlines():
        inside, _, size = (int(x) for x in line.split())
        if inside <= 0 < inside + size:
            return True
    return False


def can_skip(ns: NamespacePlan, joined: list) -> bool:
    """True when the init can be cloned straight into its new namespaces."""
    return not joined and not ns.new_user and not ns.time_offsets


def clone_init(ns: NamespacePlan, cgroup_fd: int = -1) -> int:
    """The init, cloned into new namespaces (and the cgroup v2 directory, if any); 0 in it."""
    return k.clone3_fork(ns.create_flags & ~k.CLONE_NEWCGROUP, cgroup_fd)


def run_init(chan: sync.Channel, init_main) -> None:
    """In an init made by ``clone_init``: what stage 1 would have done first, then the init."""
    try:
        proc.prctl(proc.PR_SET_DUMPABLE, 0)  # keep /proc/<pid> closed to the container
    except BaseException as exc:  # noqa: BLE001 - a child reports everything, then exits
        sync.fail_child(chan, exc)
    init_main()  # never returns
    os._exit(1)


def fork_after_report(chan: sync.Channel, cgroup_fd: int = -1) -> int:
    """Fork the init (or an exec'd process) and report its pid as INIT_PID.

    The child waits on a pipe until the report is sent, so its own first
    message can never overtake INIT_PID on the shared socket.
    """
    gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    pid = k.clone3_fork(0, cgroup_fd) if cgroup_fd >= 0 else os.fork()
    if pid == 0:  # the cgroup directory fd is closed already (kernel.ns.clone3_fork)
        os.close(gate_w)
        os.read(gate_r, 1)
        os.close(gate_r)
        return 0
    os.close(gate_r)
    chan.send(sync.InitPid(pid))
    os.close(gate_w)
    return pid


def run(ns: NamespacePlan, chan: sync.Channel, joined: list[tuple[str, int]], init_main,
        cgroup_fd: int = -1, v1_dirs: tuple = ()) -> None:
    """Never returns: exits once the init is forked (or after reporting an error).

    With ``cgroup_fd`` (a cgroup v2 directory) the init is born in that cgroup
    (clone3 CLONE_INTO_CGROUP): no migration, no cgroup-wide lock. ``v1_dirs``:
    stage 1 joins them first, in the host's namespaces, and the init inherits them.
    """
    try:
        fs.join_v1(v1_dirs)
        # An unprivileged parent may write our id maps only while we are dumpable
        # (runc's rule too); stage 1 stays in the host's pid namespace meanwhile.
        maps_by_unprivileged = ns.new_user and os.geteuid() != 0
        if not maps_by_unprivileged:
            # from here the process is in or near the container: keep /proc/<pid> closed to it
            proc.prctl(proc.PR_SET_DUMPABLE, 0)
        enter.join(joined)
        if ns.new_user:
            k.unshare(k.CLONE_NEWUSER)
            chan.send(sync.Userns())
            chan.expect(sync.UsernsDone)
            if maps_by_unprivileged:
                proc.prctl(proc.PR_SET_DUMPABLE, 0)
            if maps_root(ns.gid_map):
                os.setresgid(0, 0, 0)
            if maps_root(ns.uid_map):
                os.setresuid(0, 0, 0)
        # the cgroup namespace is made by the init itself, once it is in its cgroup
        flags = ns.create_flags & ~k.CLONE_NEWCGROUP
        if flags:
            k.unshare(flags)
        if ns.time_offsets:
            enter.write_time_offsets(ns.time_offsets)
        pid = fork_after_report(chan, cgroup_fd)
        if pid == 0:
            init_main()  # never returns
            os._exit(1)
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - a child reports everything, then exits
        sync.fail_child(chan, exc)
