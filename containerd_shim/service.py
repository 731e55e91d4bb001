"""containerd.task.v2.Task: containerd's calls on the containers this shim keeps (a pod's).

create and exec fork container processes, so they run pyruntime's CLI (`create`, `exec
--detach`); everything else calls pyruntime's lifecycle in this process, under the same
container lock the CLI takes. The container's state stays pyruntime's, in its --root.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

from pyruntime.errors import NotFound, PyruntimeError, StateError
from pyruntime.startup import fastjson  # json without re and enum: the shim's start-up is a pod's

from . import rootfs, wire
from .wire import timestamp
from .stdio import ProcessIO
from .ttrpc import ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED, UNKNOWN, \
    RpcError

SERVICE = "containerd.task.v2.Task"
SIGKILL = 9


def _systemd_cgroups_path(path: str) -> bool:
    """slice:prefix:name, the systemd driver's form (a cgroupfs path starts with /)."""
    return path.count(":") == 2 and not path.startswith("/")


class Process:
    """The init (exec_id "") or an exec'd process of a task."""

    def __init__(self, task: "Task", exec_id: str, terminal: bool, stdin: str, stdout: str, stderr: str):
        self.task, self.exec_id = task, exec_id
        self.terminal, self.stdin, self.stdout, self.stderr = terminal, stdin, stdout, stderr
        self.io: ProcessIO | None = None
        self.pid = 0
        self.status = wire.CREATED
        self.exit_code, self.exited_at = 0, 0.0
        self.exited = threading.Event()
        self.spec = b""  # an exec's process.json

    @property
    def id(self) -> str:
        return self.exec_id or self.task.id


class Task:
    def __init__(self, request: wire.CreateTaskRequest, config: dict):
        self.id, self.bundle = request.id, request.bundle
        self.init = Process(self, "", request.terminal, request.stdin, request.stdout, request.stderr)
        self.execs: dict[str, Process] = {}
        namespaces = (config.get("linux") or {}).get("namespaces") or ()
        # without a pid namespace of its own, what the init leaves behind is killed at its exit
        self.own_pid_namespace = any(n.get("type") == "pid" and not n.get("path") for n in namespaces)
        self.systemd_cgroup = _systemd_cgroups_path((config.get("linux") or {}).get("cgroupsPath") or "")
        self.mounted = False
        self.paused = False


def _error(exc: PyruntimeError) -> RpcError:
    if isinstance(exc, NotFound):
        return RpcError(NOT_FOUND, str(exc))
    if isinstance(exc, StateError):
        return RpcError(FAILED_PRECONDITION, str(exc))
    return RpcError(UNKNOWN, str(exc))


def _has_hooks(c, step: str) -> bool:
    """Whether start or delete would run hooks: then the CLI does it. A hook is a child process
    pyruntime waits for itself, and in the shim the reaper, which waits for any child, would take
    its exit status first."""
    return c.record is not None and bool(c.hooks(step))


def _last_error(log_path: str) -> str:
    """The message of the last error entry pyruntime wrote to --log (as the runc shim reads runc's)."""
    message = ""
    try:
        with open(log_path) as f:
            for line in f:
                try:
                    entry = fastjson.loads(line)
                except ValueError:
                    continue
                if entry.get("level") == "error":
                    message = entry.get("msg", "")
    except OSError:
        pass
    return message


class Service:
    def __init__(self, runtime: str, root: str, reaper, publisher, on_empty):
        self.runtime, self.root = runtime, root
        self.reaper, self.publisher = reaper, publisher
        self.on_empty = on_empty  # called by Shutdown once no task is left: the shim exits
        self.tasks: dict[str, Task] = {}
        self.lock = threading.Lock()

    def handlers(self) -> dict:
        calls = {"State": (wire.StateRequest, self.state), "Create": (wire.CreateTaskRequest, self.create),
                 "Start": (wire.StartRequest, self.start), "Delete": (wire.DeleteRequest, self.delete),
                 "Pids": (wire.PidsRequest, self.pids), "Pause": (wire.PauseRequest, self.pause),
                 "Resume": (wire.ResumeRequest, self.resume),
                 "Checkpoint": (wire.CheckpointTaskRequest, self.checkpoint),
                 "Kill": (wire.KillRequest, self.kill), "Exec": (wire.ExecProcessRequest, self.exec),
                 "ResizePty": (wire.ResizePtyRequest, self.resize_pty),
                 "CloseIO": (wire.CloseIORequest, self.close_io),
                 "Update": (wire.UpdateTaskRequest, self.update), "Wait": (wire.WaitRequest, self.wait),
                 "Stats": (wire.StatsRequest, self.stats), "Connect": (wire.ConnectRequest, self.connect),
                 "Shutdown": (wire.ShutdownRequest, self.shutdown)}
        return {(SERVICE, name): entry for name, entry in calls.items()}

    # --- lookups and the runtime ---

    def _task(self, task_id: str) -> Task:
        with self.lock:
            task = self.tasks.get(task_id)
        if task is None:
            raise RpcError(NOT_FOUND, f"container {task_id} not found")
        return task

    def _process(self, task_id: str, exec_id: str) -> Process:
        task = self._task(task_id)
        if not exec_id:
            return task.init
        process = task.execs.get(exec_id)
        if process is None:
            raise RpcError(NOT_FOUND, f"process {exec_id} of container {task_id} not found")
        return process

    @contextlib.contextmanager
    def _container(self, task: Task):
        """The task's pyruntime container, locked for the `with` block."""
        from pyruntime.lifecycle.container import Container
        from pyruntime.state.store import Store
        try:
            c = Container(Store(self.root).open(task.id))
        except PyruntimeError as exc:
            raise _error(exc) from None
        try:
            yield c
        finally:
            c.dir.close()

    def _cli(self, task: Task, args: list[str], stdio=None) -> None:
        """Run ``pyruntime <args>``; its error, from --log, as the call's status."""
        log_path = os.path.join(task.bundle, "log.json")
        argv = [self.runtime, "--root", self.root, "--log", log_path, "--log-format", "json"]
        if task.systemd_cgroup:
            argv.append("--systemd-cgroup")
        if stdio is None:
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            try:
                code = self.reaper.spawn(argv + args, (null, null, null))
            finally:
                os.close(null)
        else:
            code = self.reaper.spawn(argv + args, stdio)
        if code:
            raise RpcError(UNKNOWN, _last_error(log_path) or f"pyruntime {args[0]} exited with status {code}")

    def _run_process(self, task: Task, process: Process, args: list[str], pid_file: str) -> None:
        """Start ``process`` with `pyruntime <args>` and watch for its exit."""
        io = process.io = ProcessIO(process.stdin, process.stdout, process.stderr, process.terminal)
        if process.terminal:
            args = args[:1] + ["--console-socket", io.console_path] + args[1:]
        self.reaper.begin()  # the process may exit before its pid is read
        try:
            try:
                self._cli(task, args, tuple(io.child))
            finally:
                io.spawned()
            with open(pid_file) as f:
                process.pid = int(f.read().strip())
            self.reaper.watch(process.pid, lambda code, when: self._exited(process, code, when))
        except BaseException:
            io.close()
            raise
        finally:
            self.reaper.end()

    def _exited(self, process: Process, code: int, when: float) -> None:
        """The reaper saw ``process`` exit: record it and tell containerd (an OOM kill first)."""
        task = process.task
        if not process.exec_id:
            self._init_exited(task)
        process.exit_code, process.exited_at, process.status = code, when, wire.STOPPED
        process.exited.set()
        self.publisher.publish(wire.TaskExit(container_id=task.id, id=process.id, pid=process.pid,
                                             exit_status=code, exited_at=timestamp(when)))

    def _init_exited(self, task: Task) -> None:
        from pyruntime.cgroups.stats import oom_kills
        try:
            with self._container(task) as c:
                manager = c.manager()
                if manager is not None and not task.own_pid_namespace:
                    manager.kill_all(SIGKILL)  # what a shared pid namespace's init left behind
                if manager is not None and oom_kills(manager):
                    self.publisher.publish(wire.TaskOOM(container_id=task.id))
        except (RpcError, PyruntimeError, OSError):
            pass  # deleted meanwhile: nothing left to kill or count

    # --- the calls ---

    def create(self, request: wire.CreateTaskRequest) -> wire.CreateTaskResponse:
        if request.checkpoint:
            raise RpcError(UNIMPLEMENTED, "restoring from a checkpoint is not supported")
        with self.lock:
            if request.id in self.tasks:
                raise RpcError(ALREADY_EXISTS, f"container {request.id} already exists")
        try:
            with open(os.path.join(request.bundle, "config.json")) as f:
                config = fastjson.loads(f.read())
        except (OSError, ValueError) as exc:
            raise RpcError(INVALID_ARGUMENT, f"{request.bundle}/config.json: {exc}") from None
        task = Task(request, config)
        target = os.path.join(request.bundle, "rootfs")
        try:
            try:
                task.mounted = rootfs.mount_all(request.rootfs, target)
            except PyruntimeError as exc:
                raise RpcError(UNKNOWN, f"mounting the rootfs: {exc}") from None
            pid_file = os.path.join(request.bundle, "init.pid")
            self._run_process(task, task.init, ["create", "--bundle", request.bundle, "--pid-file", pid_file,
                                                task.id], pid_file)
        except BaseException:
            rootfs.unmount_all(target)
            raise
        with self.lock:
            self.tasks[task.id] = task
        self.publisher.publish(wire.TaskCreate(
            container_id=task.id, bundle=task.bundle, pid=task.init.pid,
            io=wire.TaskIO(stdin=request.stdin, stdout=request.stdout, stderr=request.stderr,
                         terminal=request.terminal)))
        return wire.CreateTaskResponse(pid=task.init.pid)

    def start(self, request: wire.StartRequest) -> wire.StartResponse:
        process = self._process(request.id, request.exec_id)
        task = process.task
        if process.exec_id:
            if process.pid:
                raise RpcError(FAILED_PRECONDITION, f"process {process.exec_id} already started")
            spec = os.path.join(task.bundle, f"exec-{process.exec_id}.json")
            pid_file = os.path.join(task.bundle, f"exec-{process.exec_id}.pid")
            with open(spec, "wb") as f:
                f.write(process.spec)
            try:
                self._run_process(task, process, ["exec", "--process", spec, "--detach", "--pid-file", pid_file,
                                                  task.id], pid_file)
            finally:
                for path in (spec, pid_file):
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
            if not process.exited.is_set():
                process.status = wire.RUNNING
            self.publisher.publish(wire.TaskExecStarted(container_id=task.id, exec_id=process.exec_id,
                                                        pid=process.pid))
            return wire.StartResponse(pid=process.pid)
        from pyruntime.lifecycle.start import start
        with self._container(task) as c:
            hooks = _has_hooks(c, "poststart")
            if not hooks:
                try:
                    start(c)
                except PyruntimeError as exc:
                    raise _error(exc) from None
        if hooks:
            self._cli(task, ["start", task.id])  # see _has_hooks
        if not process.exited.is_set():
            process.status = wire.RUNNING
        self.publisher.publish(wire.TaskStart(container_id=task.id, pid=process.pid))
        return wire.StartResponse(pid=process.pid)

    def kill(self, request: wire.KillRequest) -> wire.Empty:
        process = self._process(request.id, request.exec_id)
        if process.exec_id:
            if process.exited.is_set() or not process.pid:
                raise RpcError(NOT_FOUND, "process already finished")
            os.kill(process.pid, request.signal)  # our child, not reaped until exited is set
            return wire.Empty()
        if process.exited.is_set() and not request.all:
            raise RpcError(NOT_FOUND, "process already finished")
        from pyruntime.lifecycle.destroy import kill
        with self._container(process.task) as c:
            try:
                kill(c, request.signal, request.all)
            except StateError as exc:
                raise RpcError(NOT_FOUND, str(exc)) from None
            except PyruntimeError as exc:
                raise _error(exc) from None
        return wire.Empty()

    def delete(self, request: wire.DeleteRequest) -> wire.DeleteResponse:
        process = self._process(request.id, request.exec_id)
        task = process.task
        if process.exec_id:
            if process.pid and not process.exited.is_set():
                raise RpcError(FAILED_PRECONDITION, f"process {process.exec_id} is still running")
            del task.execs[process.exec_id]
            if process.io is not None:
                process.io.close()
            return wire.DeleteResponse(pid=process.pid, exit_status=process.exit_code,
                                       exited_at=timestamp(process.exited_at))
        from pyruntime.lifecycle.destroy import delete
        hooks = False
        try:
            with self._container(task) as c:
                hooks = _has_hooks(c, "poststop")
                if not hooks:
                    delete(c)  # refuses a running init; kills a created one
        except RpcError as exc:
            if exc.code != NOT_FOUND:
                raise
        except PyruntimeError as exc:
            raise _error(exc) from None
        if hooks:
            self._cli(task, ["delete", task.id])  # see _has_hooks
        if process.pid and not process.exited.wait(10):
            raise RpcError(UNKNOWN, f"container {task.id}: its init did not exit after delete")
        if task.mounted:
            rootfs.unmount_all(os.path.join(task.bundle, "rootfs"))
        if process.io is not None:
            process.io.close()
        with self.lock:
            self.tasks.pop(task.id, None)
        exited_at = timestamp(process.exited_at or time.time())
        self.publisher.publish(wire.TaskDelete(container_id=task.id, pid=process.pid,
                                               exit_status=process.exit_code, exited_at=exited_at))
        return wire.DeleteResponse(pid=process.pid, exit_status=process.exit_code, exited_at=exited_at)

    def exec(self, request: wire.ExecProcessRequest) -> wire.Empty:
        task = self._task(request.id)
        if request.exec_id in task.execs:
            raise RpcError(ALREADY_EXISTS, f"process {request.exec_id} already exists")
        process = Process(task, request.exec_id, request.terminal, request.stdin, request.stdout, request.stderr)
        process.spec = request.spec.value  # the runtime-spec Process, as JSON
        task.execs[request.exec_id] = process
        self.publisher.publish(wire.TaskExecAdded(container_id=task.id, exec_id=request.exec_id))
        return wire.Empty()

    def state(self, request: wire.StateRequest) -> wire.StateResponse:
        process = self._process(request.id, request.exec_id)
        task = process.task
        status = wire.PAUSED if task.paused and process.status == wire.RUNNING else process.status
        return wire.StateResponse(id=process.id, bundle=task.bundle, pid=process.pid, status=status,
                                  stdin=process.stdin, stdout=process.stdout, stderr=process.stderr,
                                  terminal=process.terminal, exit_status=process.exit_code,
                                  exited_at=timestamp(process.exited_at) if process.exited_at else None,
                                  exec_id=process.exec_id)

    def wait(self, request: wire.WaitRequest) -> wire.WaitResponse:
        process = self._process(request.id, request.exec_id)
        process.exited.wait()
        return wire.WaitResponse(exit_status=process.exit_code, exited_at=timestamp(process.exited_at))

    def pids(self, request: wire.PidsRequest) -> wire.PidsResponse:
        with self._container(self._task(request.id)) as c:
            try:
                pids = c.pids()
            except PyruntimeError as exc:
                raise _error(exc) from None
        return wire.PidsResponse(processes=[wire.ProcessInfo(pid=pid) for pid in pids])

    def pause(self, request: wire.PauseRequest) -> wire.Empty:
        task = self._task(request.id)
        self._cli(task, ["pause", task.id])
        task.paused = True
        self.publisher.publish(wire.TaskPaused(container_id=task.id))
        return wire.Empty()

    def resume(self, request: wire.ResumeRequest) -> wire.Empty:
        task = self._task(request.id)
        self._cli(task, ["resume", task.id])
        task.paused = False
        self.publisher.publish(wire.TaskResumed(container_id=task.id))
        return wire.Empty()

    def update(self, request: wire.UpdateTaskRequest) -> wire.Empty:
        task = self._task(request.id)
        path = os.path.join(task.bundle, "update-resources.json")
        with open(path, "wb") as f:
            f.write(request.resources.value)  # the runtime-spec LinuxResources, as JSON
        try:
            self._cli(task, ["update", "--resources", path, task.id])
        finally:
            os.unlink(path)
        return wire.Empty()

    def stats(self, request: wire.StatsRequest) -> wire.StatsResponse:
        from pyruntime.lifecycle import events

        from .metrics import pack
        with self._container(self._task(request.id)) as c:
            try:
                manager = events.manager_of_running(c)
                data = events.stats(c, manager)
            except PyruntimeError as exc:
                raise _error(exc) from None
        return wire.StatsResponse(stats=pack(data, unified=manager.kind == "v2"))

    def resize_pty(self, request: wire.ResizePtyRequest) -> wire.Empty:
        process = self._process(request.id, request.exec_id)
        if process.io is not None:
            process.io.resize(request.width, request.height)
        return wire.Empty()

    def close_io(self, request: wire.CloseIORequest) -> wire.Empty:
        process = self._process(request.id, request.exec_id)
        if request.stdin and process.io is not None:
            process.io.close_stdin()
        return wire.Empty()

    def checkpoint(self, request) -> wire.Empty:
        raise RpcError(UNIMPLEMENTED, "checkpoint is not supported by containerd-shim-pyruntime-v2")

    def connect(self, request: wire.ConnectRequest) -> wire.ConnectResponse:
        task = self._task(request.id)
        return wire.ConnectResponse(shim_pid=os.getpid(), task_pid=task.init.pid)

    def shutdown(self, request: wire.ShutdownRequest):
        with self.lock:
            empty = not self.tasks
        return wire.Empty(), (self.on_empty if empty else None)
