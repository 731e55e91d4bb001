"""exec: a new process inside a running container.

Same shape as create, smaller: the parent plans (process, capabilities,
seccomp compiled once), a stage-1 child becomes non-dumpable, joins the
container's v1 cgroups and every namespace of the container's init (user
first, mount last), then forks the process so it is inside the pid (and
time) namespace, born in the cgroup v2 directory; that child takes its
identity and execs. Messages are the ones in
``sync`` (INIT_PID for the process, CGROUP_DONE with a user namespace, READY).

The runtime process joining the container must never be reachable from it:
it turns non-dumpable before the first setns, so /proc/<pid>/exe and
/proc/<pid>/fd of it are closed to the container (CVE-2019-5736).
"""
from __future__ import annotations

import os

from pyruntime import log
from pyruntime.startup.dataclass import dataclass, field, replace
from pyruntime.errors import PyruntimeError, UsageError
from pyruntime.cgroups import fs
from pyruntime.kernel import proc
from pyruntime.lifecycle import boundary, sync
from pyruntime.lifecycle.stage1 import fork_after_report
from pyruntime.lifecycle.container import Container
from pyruntime.model.config import Process
from pyruntime.namespaces import enter
from pyruntime.process import caps as capsmod, launch
from pyruntime.process.plan import ProcessPlan


@dataclass(frozen=True)
class ExecPlan:
    """One exec, fully decided in the parent."""
    process: ProcessPlan
    container_id: str
    init_pid: int
    cgroup_dirs: tuple[str, ...]   # v1 directories the process moves itself into
    unified_dir: str               # the cgroup v2 directory it is born in ("" if none)
    self_join: bool                # False with a user namespace: the parent moves it
    console_socket: str = ""
    preserve_fds: int = 0
    detach: bool = False
    pid_file: str = ""
    resctrl: dict = field(default_factory=dict)  # the container's resctrl state (linux.intelRdt)


def check_status(c: Container, ignore_paused: bool = False) -> None:
    """A process is executed in a running container (or a paused one, with --ignore-paused)."""
    from pyruntime.state.status import PAUSED, require
    status = c.status()
    if not (status == PAUSED and ignore_paused):
        require(status, "exec", c.id)


def recorded(pp: ProcessPlan, user_namespace: bool, process_doc: dict) -> dict:
    """What exec needs of the container, from create's plan (ContainerRecord.decided["exec"]):
    the process it starts from (the config's, as validated), and what every process of the
    container takes: the user namespace, personality, memory policy and the compiled filter."""
    seccomp = pp.seccomp
    return {"process": process_doc, "user_namespace": user_namespace, "persona": pp.persona,
            "memory_policy": list(pp.memory_policy) if pp.memory_policy is not None else None,
            "seccomp": None if seccomp is None else {
                "bpf": seccomp.program.bpf.hex(), "flags": seccomp.program.flags,
                "notify": seccomp.program.notify, "listener_path": seccomp.listener_path,
                "listener_metadata": seccomp.listener_metadata}}


def base_process(c: Container) -> dict:
    """The container's process document, which exec starts from (without --process)."""
    return _recorded(c)["process"]


def _recorded(c: Container) -> dict:
    decided = c.record.decided.get("exec")
    if decided is None:  # a record from before create kept it: worked out from its config, once, here
        from pyruntime.model import parse
        from pyruntime.process import plan as procplan
        from pyruntime.seccomp.compile import compile_profile
        spec = parse.spec(c.record.config)
        profile = spec.linux.seccomp
        seccomp = procplan.SeccompPlan(compile_profile(profile), profile.listener_path,
                                       profile.listener_metadata) if profile is not None else None
        pp = procplan.plan(spec.process, None, spec.linux.personality, spec.linux.memory_policy, seccomp)
        decided = recorded(pp, spec.linux.namespace("user") is not None, c.record.config.get("process") or {})
    return decided


def build_process(c: Container, opts: dict, args: list[str]) -> Process:
    """The Process to run: from --process, or the container's process with the flags (runc's
    exec flags, by name: tty, cwd, env, user, additional_gids, cap, no_new_privs, apparmor,
    process_label) applied on top, as runc does."""
    from pyruntime.model import parse, read_json, validate
    from pyruntime.errors import ConfigError
    if opts["process"]:
        process = parse.process_document(read_json(opts["process"], "process.json"), "process.json")
        problems = validate.process_problems(process, "process")
        if problems:
            raise ConfigError(problems, "process.json")
        return process
    if not args:
        raise UsageError('"exec" needs a command to run, or --process FILE')
    base = dict(base_process(c))
    base["args"] = args
    base["terminal"] = opts["tty"]
    base.pop("consoleSize", None)
    if opts["cwd"]:
        base["cwd"] = opts["cwd"]
    base["env"] = list(base.get("env") or []) + opts["env"]
    user = dict(base.get("user") or {})
    if opts["user"]:
        uid, _, gid = opts["user"].partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise UsageError(f"--user {opts['user']!r}: expected uid[:gid] as numbers")
        user["uid"] = int(uid)
        user["gid"] = int(gid) if gid else user.get("gid", 0)
    if opts["additional_gids"]:
        if not all(g.isdigit() for g in opts["additional_gids"]):
            raise UsageError("--additional-gids takes numeric gids")
        user["additionalGids"] = [int(g) for g in opts["additional_gids"]]
    base["user"] = user
    if opts["cap"]:
        caps = {k: list(v) for k, v in (base.get("capabilities") or {}).items()}
        # never inheritable (CVE-2022-29162); ambient, as runc does, only where the
        # process already has an inheritable set (without it the kernel refuses ambient)
        targets = ("bounding", "effective", "permitted") + (("ambient",) if "inheritable" in caps else ())
        for name in opts["cap"]:
            for which in targets:
                caps.setdefault(which, []).append(name)
        base["capabilities"] = caps
    if opts["no_new_privs"]:
        base["noNewPrivileges"] = True
    if opts["apparmor"]:
        base["apparmorProfile"] = opts["apparmor"]
    if opts["process_label"]:
        base["selinuxLabel"] = opts["process_label"]
    process = parse.process_document(base, "exec", "process")
    problems = validate.process_problems(process, "process")
    if problems:
        raise ConfigError(problems, "exec")
    return process


def plan_for(c: Container, process: Process, sub_cgroup: str = "", **options) -> tuple[ExecPlan, list[str]]:
    """(exec's plan, warnings) from the container's record: what create decided for every
    process, its cgroup as its manager gives it, its resctrl group. ``sub_cgroup``: --cgroup
    (v2: a path below the container's)."""
    from pyruntime.lifecycle.host import lsms
    from pyruntime.process import plan as procplan
    decided = _recorded(c)
    # here, on the host: the process could not even look once inside
    problems = procplan.lsm_problems(process, *lsms())
    if problems:
        from pyruntime.errors import ConfigError
        raise ConfigError(problems, "exec")
    held = -1 if decided["user_namespace"] else capsmod.held_by_runtime()
    caps, warnings = procplan.plan_caps(process.capabilities, capsmod.last_cap(), held)
    pp = procplan.plan(process, caps)
    mpol, sc = decided["memory_policy"], decided["seccomp"]
    seccomp = None
    if sc is not None:
        from pyruntime.seccomp.compile import Program
        seccomp = procplan.SeccompPlan(Program(bytes.fromhex(sc["bpf"]), sc["flags"], sc["notify"]),
                                       sc["listener_path"], sc["listener_metadata"])
    pp = replace(pp, persona=decided["persona"], memory_policy=(mpol[0], tuple(mpol[1])) if mpol else None,
                 seccomp=seccomp)
    manager = c.manager()
    cgroup_dirs, unified = (), ""
    if manager is not None:
        unified = manager.unified_dir()
        cgroup_dirs = tuple(d for d in manager.dirs() if d != unified)
        if sub_cgroup:
            if not unified:
                raise UsageError("--cgroup needs a cgroup v2 hierarchy")
            unified = f"{unified}/{sub_cgroup.split(':')[-1].strip('/')}"
    plan = ExecPlan(process=pp, container_id=c.id, init_pid=c.record.pid, cgroup_dirs=cgroup_dirs,
                    unified_dir=unified, self_join=not decided["user_namespace"], resctrl=c.record.resctrl,
                    **options)
    return plan, warnings


def run(c: Container, plan: ExecPlan) -> int:
    """Start the process; wait for it unless detached. Returns its exit status (or 0)."""
    from pyruntime.fileio import write_pid_file
    from pyruntime.process.rlimits import raise_nofile_soft_limit
    raise_nofile_soft_limit()
    joined, cgroupns = enter.split_cgroup(enter.open_of_process(
        plan.init_pid, ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")))
    seccomp = _seccomp_for(c, plan)
    console, proxy = -1, None
    if plan.process.process.terminal:
        if plan.console_socket:
            from pyruntime.process import console as consolemod
            console = consolemod.connect(plan.console_socket)
        elif plan.detach:
            raise PyruntimeError("exec --tty --detach needs --console-socket")
        else:  # foreground: we hold the pty and copy our stdio to it
            from pyruntime.process.ptyproxy import PtyProxy
            proxy = PtyProxy()
            console = os.dup(proxy.theirs)
    cgroup_fd = -1
    if plan.self_join and plan.unified_dir:
        cgroup_fd = os.open(plan.unified_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    boundary.preload_for_exec(plan.process)
    if not plan.detach:
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)  # the process becomes our child to wait for
    parent, child = sync.Channel.pair()
    stage1_pid = os.fork()
    if stage1_pid == 0:
        boundary.cross()
        parent.close()
        c.dir.close()
        _stage1(plan, child, joined, cgroup_fd, cgroupns, console, seccomp)
    child.close()
    for _, fd in joined + [("cgroup", cgroupns)]:
        if fd >= 0:
            os.close(fd)
    for fd in (cgroup_fd, console, seccomp.notify_sock if seccomp is not None else -1):
        if fd >= 0:
            os.close(fd)
    pid = 0
    try:
        pid = parent.expect(sync.InitPid, who="exec child").pid
        os.waitpid(stage1_pid, 0)
        if not plan.self_join:
            manager = c.manager()
            if manager is not None:
                manager.add(pid)
        if plan.resctrl:
            from pyruntime import resctrl
            resctrl.join(plan.resctrl, pid)
        if _waits_for_parent(plan, seccomp):
            parent.send(sync.CgroupDone(pid))
        for warning in parent.expect(sync.Ready, who="exec process").warnings:
            log.warning(warning)
    except BaseException:
        for p in (pid, stage1_pid):
            if p:
                try:
                    os.kill(p, 9)
                except ProcessLookupError:
                    pass
        raise
    finally:
        parent.close()
    if plan.pid_file:
        write_pid_file(plan.pid_file, pid)
    log.info(f"exec in container {c.id}: pid {pid}")
    c.dir.close()  # the lock is for setting up, not for the life of the process
    if plan.detach:
        return 0
    from pyruntime.lifecycle.wait import exit_status, wait_for
    if proxy is not None:
        proxy.receive()
    return exit_status(wait_for(pid, proxy))


def _waits_for_parent(plan: ExecPlan, seccomp) -> bool:
    """Whether the process waits (CGROUP_DONE) until the parent has placed it: in its
    cgroup when it cannot join by itself, in the container's resctrl group always; and
    for its host pid, which a seccomp agent is told and which it cannot see from inside."""
    return not plan.self_join or bool(plan.resctrl) or (seccomp is not None and seccomp.notify_sock >= 0)


def _seccomp_for(c: Container, plan: ExecPlan):
    """The container's filter, as create compiled it; with SCMP_ACT_NOTIFY, connected to its agent."""
    sc = plan.process.seccomp
    if sc is None:
        return None
    if not sc.program.notify:
        return launch.Seccomp(sc.program)
    from pyruntime.seccomp.notify import agent_state, connect_listener
    state = agent_state(c.id, c.record.bundle, c.record.annotations, sc.listener_metadata)
    return launch.Seccomp(sc.program, connect_listener(sc.listener_path), state)


def _stage1(plan: ExecPlan, chan: sync.Channel, joined, cgroup_fd: int, cgroupns: int,
            console: int, seccomp) -> None:
    try:
        proc.prctl(proc.PR_SET_DUMPABLE, 0)
        initial = plan.process.affinity[0]
        if initial is not None:
            os.sched_setaffinity(0, initial)
        if plan.self_join:
            # here, where no container can see us: the tasks files are host files, and the
            # process forked below is born in these cgroups without ever holding them
            fs.join_v1(plan.cgroup_dirs)
        enter.join(joined)
        if fork_after_report(chan, cgroup_fd) == 0:
            _process(plan, chan, cgroupns, console, seccomp)
            os._exit(1)
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001
        sync.fail_child(chan, exc)


def _process(plan: ExecPlan, chan: sync.Channel, cgroupns: int, console: int, seccomp) -> None:
    try:
        if _waits_for_parent(plan, seccomp):
            done = chan.expect(sync.CgroupDone)
            if seccomp is not None:
                seccomp.state["host_pid"] = done.pid
        if cgroupns >= 0:
            enter.join([("cgroup", cgroupns)])
        if plan.process.process.terminal:
            from pyruntime.process.console import setup
            root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                setup(console, plan.process.process.console_size, root, bind_console=False)
            finally:
                os.close(root)
        final = plan.process.affinity[1]
        if final is not None:
            os.sched_setaffinity(0, final)
        warnings: list[str] = []
        target, env = launch.prepare(plan.process, seccomp, plan.preserve_fds, warnings)
        chan.send(sync.Ready(tuple(warnings)))
        chan.close()
        launch.execute(plan.process.process, target, env, seccomp)
    except BaseException as exc:  # noqa: BLE001
        sync.fail_child(chan, exc)
