"""The container init: from a fork of the runtime to the container program.

Order (runc's standard_init, with the reasons that fix it):
 1. rootfs: propagation, self-bind, config mounts, /dev, masks — before
    pivot_root, while the host's /proc still resolves /proc/self/fd/N;
 2. prestart/createRuntime hooks in the parent, then createContainer hooks
    here (container namespaces, host paths still visible);
 3. sysctl and oom_score_adj, through procfs files checked to be procfs;
 4. pivot_root, read-only root, hostname, lo, terminal;
 5. cwd (resolved inside the root), rlimits, scheduling, then the identity:
    bounding set, uid/gid with keep-caps, capabilities, no_new_privs;
 6. READY to the parent; CREATED back once the state is recorded (a create
    killed before that leaves no init behind); block on exec.fifo until ``start``;
 7. startContainer hooks, seccomp as the very last step, execve.

Everything this process needs is imported before it is forked (module
level, or ``boundary.preload_for_init`` for what only some configs use): the
process imports nothing once forked (``boundary.cross``), because every path
it could import from may be the image's.
"""
from __future__ import annotations

import os
from pyruntime.startup.dataclass import dataclass, field

from pyruntime.cgroups import fs
from pyruntime.errors import PyruntimeError, describe_errno
from pyruntime.fileio import read_text
from pyruntime.kernel import ns as k, proc
from pyruntime.lifecycle import sync
from pyruntime.lifecycle.plan import ContainerPlan
from pyruntime.process import attributes, launch
from pyruntime.rootfs import pivot
from pyruntime.rootfs.cgroupfs import CgroupView, own_cgroups
from pyruntime.rootfs.devices import open_host_null
from pyruntime.rootfs.mounts import Executor
from pyruntime.safefs import safepath


@dataclass
class InitFds:
    """Descriptors the init inherits from the parent (all close-on-exec)."""
    exec_fifo: int = -1        # O_PATH of exec.fifo itself: never a directory of the host
    console: int = -1          # connected --console-socket
    notify: int = -1           # connected seccomp listener socket
    preserve: int = 0          # fds 3..3+N-1 pass into the container
    cgroup_dirs: tuple = ()    # v1 cgroup directories the init joins itself (cloned directly)
    idmap_trees: dict = field(default_factory=dict)   # mount step index -> idmapped tree fd
    cgroupns: int = -1         # a cgroup namespace to join (config path), once in our cgroup
    hook_state: dict = field(default_factory=dict)
    wait_fifo: bool = True     # False for exec: run at once
    no_cgroup: bool = False    # rootless and the host gave no cgroup: views show the init's own


def container_state_json(plan: ContainerPlan, status: str, pid: int) -> bytes:
    from pyruntime import SPEC_VERSION
    from pyruntime.startup import fastjson
    return fastjson.dumps({"ociVersion": SPEC_VERSION, "id": plan.id, "status": status, "pid": pid,
                       "bundle": plan.options.bundle, "annotations": plan.annotations}).encode()


def main(plan: ContainerPlan, chan: sync.Channel, fds: InitFds) -> None:
    """Never returns."""
    try:
        safepath.use_openat2(plan.openat2)
        if fds.notify >= 0:
            fds.hook_state["host_pid"] = host_pid()
        if not plan.options.no_new_keyring:
            _join_keyring(plan.id)
        root_fd = _build_rootfs(plan, chan, fds)
        _enter_root(plan, root_fd, fds)
        warnings: list[str] = []
        seccomp = None
        if plan.process.seccomp is not None:
            seccomp = launch.Seccomp(plan.process.seccomp.program, fds.notify, fds.hook_state)
        target, env = launch.prepare(plan.process, seccomp, fds.preserve, warnings, create_cwd=True)
        chan.send(sync.Ready(tuple(warnings)))
        if fds.wait_fifo:
            chan.expect(sync.Created)  # end of file: the create was killed, and so are we
        chan.close()
        if fds.wait_fifo:
            _wait_for_start(fds.exec_fifo)
        _exec(plan, target, env, seccomp)
    except BaseException as exc:  # noqa: BLE001 - report, then exit
        sync.fail_child(chan, exc)


def host_pid() -> int:
    """Our pid as the runtime sees it: the first NSpid of the host's /proc (before pivot_root)."""
    for line in read_text("/proc/self/status").splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[1])
    return os.getpid()


def _join_keyring(container_id: str) -> None:
    try:
        proc.keyctl_join_session(f"_ses.{container_id}")
    except Exception:
        pass  # keyrings disabled or not permitted (e.g. in a user namespace): runc ignores it too


def _build_rootfs(plan: ContainerPlan, chan: sync.Channel, fds: InitFds) -> int:
    os.umask(0)
    if plan.ns.has("mount"):
        root_fd = pivot.prepare_root(plan.rootfs, plan.root_propagation)
    else:  # the host's mount namespace: mounts stay below the rootfs, and delete removes them
        root_fd = os.open(plan.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    # the parent's view of the hierarchies: in a new cgroup namespace mountinfo
    # shows the host's cgroup mounts rooted outside it
    view = CgroupView(plan.cgroup_layout, plan.cgroup_path, plan.ns.has("cgroup"),
                      own=own_cgroups(plan.cgroup_layout) if fds.no_cgroup else None)
    null_fd = open_host_null()
    if fds.cgroup_dirs:  # still in a copy of the host's mount namespace: the paths are the host's
        fs.join_v1(fds.cgroup_dirs)

    def enter_cgroup() -> None:  # the plan's EnterCgroup step
        if not plan.cgroup_self_join:
            chan.expect(sync.CgroupDone)
        if fds.cgroupns >= 0:
            from pyruntime.namespaces.enter import join as join_ns
            join_ns([("cgroup", fds.cgroupns)])
            fds.cgroupns = -1
        elif plan.ns.creates("cgroup"):
            k.unshare(k.CLONE_NEWCGROUP)  # rooted at the cgroup we are now in

    try:
        Executor(root_fd, view, null_fd, enter_cgroup, fds.idmap_trees).run(list(plan.mounts))
    finally:
        os.close(null_fd)
    hooks = plan.hooks
    if hooks.prestart or hooks.create_runtime:
        chan.send(sync.Hooks())
        chan.expect(sync.HooksDone)
    if hooks.create_container:
        from pyruntime.process.hooks import run_all
        run_all(hooks.create_container, container_state_json(plan, "creating", os.getpid()),
                "create_container")
    if plan.sysctl:
        from pyruntime.namespaces.sysctl import write_all
        write_all(root_fd, plan.sysctl)
    if plan.process.process.oom_score_adj is not None:
        attributes.set_oom_score_adj(plan.process.process.oom_score_adj)
    return root_fd


def _enter_root(plan: ContainerPlan, root_fd: int, fds: InitFds) -> None:
    if not plan.ns.has("mount"):
        pivot.chroot(root_fd)
    elif plan.options.no_pivot:
        pivot.move_root(root_fd)
    else:
        pivot.pivot(root_fd, plan.root_propagation)
    os.close(root_fd)
    pivot.finish_root(plan.root_readonly, plan.root_propagation)
    os.umask(0o022)
    if plan.hostname:
        proc.sethostname(plan.hostname)
    if plan.domainname:
        proc.setdomainname(plan.domainname)
    if plan.ns.creates("network"):
        from pyruntime.namespaces.loopback import bring_up_lo
        bring_up_lo()
    if plan.process.process.terminal:
        from pyruntime.process.console import setup
        new_root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            setup(fds.console, plan.process.process.console_size, new_root)
        finally:
            os.close(new_root)
        fds.console = -1


def _wait_for_start(fifo: int) -> None:
    """Block until ``start`` opens exec.fifo for reading, then tell it we are going.

    The init holds only the fifo (O_PATH), reopened for writing through
    /proc/self/fd as runc does: a directory fd would let a container that can
    look at /proc/1/fd walk up into the host. That /proc is the container's,
    and the init is already the container's user: it can redirect nothing the
    user could not reach anyway.
    """
    try:
        fd = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise PyruntimeError(f"exec.fifo: reopening through /proc/self/fd: {describe_errno(exc.errno)} "
                             "(the container needs /proc mounted)") from None
    os.close(fifo)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)


def _exec(plan: ContainerPlan, target: str, env: dict[str, str], seccomp) -> None:
    if plan.hooks.start_container:
        from pyruntime.process.hooks import run_all
        run_all(plan.hooks.start_container, container_state_json(plan, "running", os.getpid()),
                "start_container")
    launch.execute(plan.process.process, target, env, seccomp)
