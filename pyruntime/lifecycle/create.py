"""create: the parent's half (the children's halves are stage1 and init).

Everything made here is registered on an ExitStack as it is made, so a
failure at any point undoes it all: init and stage-1 processes killed and
reaped, cgroups removed, the state directory deleted. Only when the init
reports READY is the stack released and the state written.
"""
from __future__ import annotations

import errno
import os

from pyruntime import __version__, cgroups, log
from pyruntime.startup.dataclass import dataclass
from pyruntime.errors import CgroupError, PyruntimeError
from pyruntime.fileio import write_pid_file
from pyruntime.lifecycle import boundary, init, stage1, sync
from pyruntime.lifecycle.plan import ContainerPlan, CreateOptions, make_plan
from pyruntime.lifecycle.undo import Undo
from pyruntime.namespaces import enter
from pyruntime.process import rlimits
from pyruntime.state import procinfo
from pyruntime.state.store import ContainerRecord, Store, rfc3339_now


@dataclass
class Created:
    """What a successful create leaves for run/start."""
    record: ContainerRecord
    plan: ContainerPlan


def load_plan(options: CreateOptions, amend=None) -> tuple[ContainerPlan, dict]:
    """config.json -> validated spec -> plan (and the raw document for the state).

    Nothing on the host changes here; every config error surfaces before create starts.
    ``amend``: a function that changes the document first (`trace` marks where seccomp goes).
    """
    from pyruntime.lifecycle.host import probe
    from pyruntime.model import load_spec, read_json, spec_from_dict
    bundle = options.bundle
    if not os.path.isdir(bundle):
        what = "does not exist" if not os.path.exists(bundle) else "is not a directory"
        raise PyruntimeError(f"bundle {bundle} {what}")
    if amend is None:
        spec, doc = load_spec(os.path.join(bundle, "config.json"))
    else:
        doc = amend(read_json(os.path.join(bundle, "config.json"), "config.json"))
        spec = spec_from_dict(doc)
    if not os.path.isdir(_rootfs_of(spec, bundle)):
        raise PyruntimeError(f"root.path: rootfs {_rootfs_of(spec, bundle)} does not exist or is not a directory")
    seccomp = None
    if spec.linux.seccomp is not None:
        from pyruntime.seccomp.compile import compile_profile
        seccomp = compile_profile(spec.linux.seccomp)
    return make_plan(spec, options, probe(spec, options), seccomp), doc


def _rootfs_of(spec, bundle: str) -> str:
    p = spec.root.path
    return os.path.normpath(p if os.path.isabs(p) else os.path.join(bundle, p))


def create(store: Store, plan: ContainerPlan, raw_config: dict, console_fd: int = -1) -> Created:
    """``console_fd``: a socket to send the pty master to, instead of --console-socket (run -t)."""
    rlimits.raise_nofile_soft_limit()
    for warning in plan.warnings:
        log.warning(warning)
    with Undo() as undo:
        # a path that is not the namespace it says is a config error: found before anything exists
        opened = enter.open_joined(plan.ns) if plan.ns.join else []
        undo.callback(_close_all, opened)
        cdir = store.create(plan.id)
        undo.callback(cdir.remove)
        undo.callback(cdir.close)
        os.mkfifo(cdir.fifo_path, 0o622)
        os.chmod(cdir.fifo_path, 0o622)  # the container user (maybe unprivileged) opens it to write

        if not plan.ns.has("mount"):  # the init mounts in the host's namespace: undo them too
            from pyruntime.rootfs.pivot import unmount_below
            undo.callback(unmount_below, plan.rootfs)
        manager = cgroups.for_container(plan.cgroup_layout, plan.cgroup_path, plan.options.systemd_cgroup,
                                        plan.systemd_unit)
        # before any cgroup or process exists: what this create will make, for a delete after
        # it is killed (its processes are all in that cgroup from their first step)
        record = _record(plan, raw_config, manager.describe(), creating=True)
        cdir.write(record, sync=False)
        manager = _make_cgroup(plan, manager, undo)

        boundary.preload_for_init(plan)
        fds = _init_fds(plan, cdir.fifo_path, undo, console_fd)
        fds.no_cgroup = manager is None
        if any(getattr(s, "o", None) is not None and s.o.idmap for s in plan.mounts):
            from pyruntime.rootfs.idmap import prepare_trees
            fds.idmap_trees = prepare_trees(plan.mounts)
            undo.callback(lambda: [_close_quietly(fd) for fd in fds.idmap_trees.values()])
        v1_dirs = tuple(m + plan.cgroup_path for m in plan.cgroup_layout.v1_mounts) \
            if plan.cgroup_self_join and manager is not None else ()
        joined, fds.cgroupns = enter.split_cgroup(opened)
        parent, child = sync.Channel.pair()
        undo.callback(parent.close)

        cgroup_fd = _unified_dir_fd(plan) if manager is not None else -1
        direct = stage1.can_skip(plan.ns, joined)
        if direct:
            fds.cgroup_dirs = v1_dirs  # the init joins; otherwise stage 1, before it enters anything
        first_pid = stage1.clone_init(plan.ns, cgroup_fd) if direct else os.fork()
        if first_pid == 0:
            boundary.cross()
            parent.close()
            cdir.close()  # its flock is shared by fork: holding it would lock out every later command
            if direct:  # the cgroup directory fd is closed already (kernel.ns.clone3_fork)
                stage1.run_init(child, lambda: init.main(plan, child, fds))
            stage1.run(plan.ns, child, joined, lambda: init.main(plan, child, fds), cgroup_fd, v1_dirs)
        child.close()
        if cgroup_fd >= 0:
            os.close(cgroup_fd)
        _close_all(opened)
        kill_list = [first_pid]
        undo.callback(_kill_and_reap, kill_list)

        init_pid = _run_protocol(plan, manager, parent, -1 if direct else first_pid, kill_list)
        resctrl_state = None
        if plan.resctrl is not None:  # the init waits on exec.fifo: nothing of the container runs yet
            from pyruntime import resctrl
            resctrl_state = resctrl.apply(plan.resctrl, init_pid, plan.resctrl_root)
            undo.callback(resctrl.remove, resctrl_state)

        record = _record(plan, raw_config, manager.describe() if manager is not None else {},
                         pid=init_pid, resctrl=resctrl_state, created=record.created)
        cdir.write(record)
        if plan.options.pid_file:
            write_pid_file(plan.options.pid_file, init_pid)
        undo.pop_all()
        # the init goes on to wait for start only now: killed before this, the create leaves
        # an init that exits by itself (end of file) instead of one blocked on exec.fifo
        try:
            parent.send(sync.Created())
        except sync.ChildFailed:
            pass  # the init has already exited: the container is created, and stopped
        parent.close()
    for fd in (fds.console, fds.notify, fds.exec_fifo, *fds.idmap_trees.values()):
        if fd >= 0:
            os.close(fd)
    cdir.close()
    log.info(f"pyruntime {__version__}: created container {plan.id} (init pid {record.pid})")
    return Created(record, plan)


def _record(plan: ContainerPlan, raw_config: dict, cgroup: dict, pid: int = 0, resctrl=None,
            created: str = "", creating: bool = False) -> ContainerRecord:
    return ContainerRecord(
        id=plan.id, bundle=plan.options.bundle, rootfs=plan.rootfs, created=created or rfc3339_now(),
        pid=pid, pid_start=procinfo.start_time(pid) if pid else None, config=raw_config, cgroup=cgroup,
        systemd_cgroup=plan.options.systemd_cgroup, owner=os.getuid(), resctrl=resctrl, creating=creating,
        decided=decisions(plan, raw_config.get("process") or {}))


def decisions(plan: ContainerPlan, process_doc: dict) -> dict:
    """What start, delete, exec and update act on (see ContainerRecord.decided), from the plan."""
    from pyruntime.lifecycle.exec import recorded

    def hooks(which) -> list[dict]:
        return [{"path": h.path, "args": list(h.args), "env": list(h.env), "timeout": h.timeout} for h in which]
    return {"mount_namespace": plan.ns.has("mount"), "poststart": hooks(plan.hooks.poststart),
            "poststop": hooks(plan.hooks.poststop),
            "exec": recorded(plan.process, plan.ns.has("user"), process_doc),
            # [allow, type, major, minor, access]: what update adds to the rules it is given
            "device_rules": [[r.allow, r.type, r.major, r.minor, r.access] for r in plan.cgroup_base_devices]}


def _make_cgroup(plan: ContainerPlan, manager, undo):
    """The container's cgroup, with its limits; None for a rootless container the host
    gives no cgroup (runc's rule: only without an explicit cgroupsPath or limits)."""
    undo.callback(manager.destroy)
    try:
        manager.create()
    except CgroupError as err:
        if not (plan.options.rootless and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS)):
            raise
        if plan.cgroup_required:
            raise CgroupError(f"linux.resources: cannot apply {plan.cgroup_required}: the container could not "
                              f"create its cgroup ({err})") from None
        manager.destroy()  # what it made before it was refused
        log.warning(f"{err}: the container runs without a cgroup (rootless)")
        return None
    manager.apply(plan.cgroup_resources)
    return manager


def _init_fds(plan: ContainerPlan, fifo_path: str, undo, console_fd: int = -1) -> init.InitFds:
    fds = init.InitFds(preserve=plan.options.preserve_fds)
    fds.exec_fifo = os.open(fifo_path, os.O_PATH | os.O_CLOEXEC)
    undo.callback(_close_quietly, fds.exec_fifo)
    terminal = plan.process.process.terminal
    if terminal and console_fd >= 0:
        fds.console = os.dup(console_fd)
        undo.callback(_close_quietly, fds.console)
    elif terminal:  # the plan's check_console made sure there is a socket
        from pyruntime.process import console
        fds.console = console.connect(plan.options.console_socket)
        undo.callback(_close_quietly, fds.console)
    seccomp = plan.process.seccomp
    if seccomp is not None and seccomp.program.notify:
        from pyruntime.seccomp.notify import agent_state, connect_listener
        fds.notify = connect_listener(seccomp.listener_path)
        undo.callback(_close_quietly, fds.notify)
        fds.hook_state = agent_state(plan.id, plan.options.bundle, plan.annotations, seccomp.listener_metadata)
    return fds


def _unified_dir_fd(plan: ContainerPlan) -> int:
    """The container's cgroup v2 directory, for clone3 CLONE_INTO_CGROUP (or -1)."""
    unified = plan.cgroup_layout.unified
    if not plan.cgroup_self_join or not unified:
        return -1
    return os.open(unified + plan.cgroup_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _run_protocol(plan: ContainerPlan, manager, chan: sync.Channel, stage1_pid: int,
                  kill_list: list[int]) -> int:
    """Drive stage1 (if any: ``stage1_pid`` -1 when the init was cloned directly) and
    the init through setup; returns the init's pid."""
    if stage1_pid < 0:
        init_pid = kill_list[0]
    else:
        msg = chan.expect(sync.Userns if plan.ns.new_user else sync.InitPid, who="stage-1 child")
        if isinstance(msg, sync.Userns):
            from pyruntime.namespaces.enter import write_id_maps
            write_id_maps(stage1_pid, plan.ns.uid_map, plan.ns.gid_map)
            chan.send(sync.UsernsDone())
            msg = chan.expect(sync.InitPid, who="stage-1 child")
        init_pid = msg.pid
        kill_list.insert(0, init_pid)
    if not plan.cgroup_self_join:
        # meanwhile the init sets up its rootfs; it waits for CGROUP_DONE before it
        # makes its cgroup namespace or mounts a cgroup view, long before user code
        if manager is not None:
            manager.add(init_pid)
        chan.send(sync.CgroupDone())
    if stage1_pid >= 0:
        _reap(stage1_pid)
        kill_list.remove(stage1_pid)
    hooks = plan.hooks
    if hooks.prestart or hooks.create_runtime:
        chan.expect(sync.Hooks)
        from pyruntime.process.hooks import run_all
        # the statuses runtime-tools checks (prestart: "created") and runc passes
        run_all(hooks.prestart, init.container_state_json(plan, "created", init_pid), "prestart")
        run_all(hooks.create_runtime, init.container_state_json(plan, "creating", init_pid), "create_runtime")
        chan.send(sync.HooksDone())
    for warning in chan.expect(sync.Ready).warnings:
        log.warning(warning)
    return init_pid


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _kill_and_reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            continue
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # the init is stage-1's child, not ours: it is reaped by our subreaper


def _close_all(opened: list[tuple[str, int]]) -> None:
    """Close the joined namespaces' fds once (the list is emptied: undo may call this again)."""
    while opened:
        os.close(opened.pop()[1])


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
