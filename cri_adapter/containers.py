"""Containers of a pod: create (through conmon), start, stop, remove, status, exec, stats.

A container's record is written before anything is made; a create that fails undoes
what it made, in reverse order, and removes the record.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import stat

from . import convert, monitor, rootfs
from ._proto import cri_pb2
from .core import Adapter, now_ns
from .errors import CRIError, DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound
from .images.store import find_or_raise
from .records import decode, encode

CREATED, RUNNING, EXITED, UNKNOWN = 0, 1, 2, 3  # ContainerState
MAX_EXEC_OUTPUT = 16 << 20
REOPEN_TIMEOUT = 10.0


def signal_name(value: int, image_config: dict) -> str:
    """The runtime's kill argument for a CRI Signal (RUNTIME_DEFAULT: the image's StopSignal, else TERM)."""
    if value == 0:
        return (image_config.get("StopSignal") or "SIGTERM").upper().removeprefix("SIG")
    name = cri_pb2.Signal.Name(value).removeprefix("SIG")
    if name.startswith("RTMINPLUS"):
        return str(34 + int(name[9:]))
    if name.startswith("RTMAXMINUS"):
        return str(64 - int(name[10:]))
    return {"RTMIN": "34", "RTMAX": "64", "CLD": "CHLD", "POLL": "IO", "IOT": "ABRT"}.get(name, name)


def status(adapter: Adapter, record: dict) -> tuple[int, int | None, int]:
    """(state, exit code, finished at): from conmon's exit file and what the record says."""
    done = monitor.exit_status(adapter.exits, record["id"])
    if done is not None:
        return EXITED, done[0], done[1]
    if record.get("unknown"):
        return UNKNOWN, None, 0
    return (RUNNING if record.get("started_at") else CREATED), None, 0


def _host_device(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
        return kind, os.major(st.st_rdev), os.minor(st.st_rdev), st.st_mode & 0o777
    return None


def _host_devices() -> dict:
    out = {}
    for base, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in ("pts", "shm", "mqueue")]
        for name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path) and (dev := _host_device(path)):
                out[path] = dev
    return out


def _pod_context(adapter: Adapter, pod: dict) -> convert.PodContext:
    return convert.PodContext(
        pod_id=pod["id"], pod_name=pod["name"], pod_namespace=pod["namespace"], pod_uid=pod["uid"],
        hostname=pod["hostname"], netns=pod["pins"].get("net"), ipcns=pod["pins"].get("ipc"),
        utsns=pod["pins"].get("uts"), pidns=pod.get("pidns"), etc_files=pod["etc_files"],
        cgroup_parent=pod["cgroup_parent"], sysctls=pod.get("sysctls") or {}, shm=pod.get("shm"))


def _image_volumes(adapter: Adapter, config, record: dict) -> dict[int, str]:
    """Mount each image volume the request names (read-only ones: the conversion refuses the rest);
    their layers count as in use, and their image ids are recorded for ContainerStatus."""
    volumes = {}
    for i, m in enumerate(config.mounts):
        if not (m.HasField("image") and m.image.image and m.readonly):
            continue
        image = adapter.images.find(m.image.image)
        if image is None:
            raise NotFound(f"mounts[{i}].image: image {m.image.image!r} not found (pull it first)")
        record["layers"] += [d for d in image["layers"] if d not in record["layers"]]
        record.setdefault("image_volumes", {})[str(i)] = image["id"]
        adapter.containers.save(record)  # before the mount: a crash leaves what cleanup needs to know
        volumes[i] = rootfs.image_volume(record["bundle"], i, adapter.images.layer_dirs(image), m.image_sub_path)
    return volumes


def _inputs(adapter: Adapter, config, cid: str, rootfs_path: str, image: dict,
            image_volumes: dict[int, str]) -> convert.ContainerInputs:
    devices = {}
    for d in config.devices:
        dev = _host_device(d.host_path)
        if dev:
            devices[d.host_path] = dev
    ctx = config.linux.security_context
    privileged = config.linux.HasField("security_context") and ctx.privileged
    localhost = None
    if ctx.HasField("seccomp") and ctx.seccomp.profile_type == 2:
        ref = ctx.seccomp.localhost_ref
        if not os.path.isabs(ref):
            raise InvalidArgument(f"seccomp.localhost_ref: {ref!r} is not an absolute path")
        try:
            with open(ref) as f:
                localhost = f.read(1 << 20)
        except OSError as exc:
            raise InvalidArgument(f"seccomp.localhost_ref: {ref}: {exc.strerror}") from None
    target = None
    if ctx.namespace_options.pid == 3:
        other = adapter.containers.get(ctx.namespace_options.target_id)
        if other.get("pid"):
            target = f"/proc/{other['pid']}/ns/pid"
    return convert.ContainerInputs(
        container_id=cid, rootfs=rootfs_path,
        image_name=(image["repo_tags"] or image["repo_digests"] or [image["id"]])[0],
        image_config=image["config"], passwd=rootfs.read_file(rootfs_path, "/etc/passwd"),
        group=rootfs.read_file(rootfs_path, "/etc/group"), devices=devices,
        host_devices=_host_devices() if privileged else {}, target_pidns=target, seccomp_localhost=localhost,
        selinux=os.path.exists("/sys/fs/selinux/enforce"), apparmor=os.path.exists("/sys/kernel/security/apparmor"),
        image_volumes=image_volumes)


async def create(adapter: Adapter, pod_id: str, config, sandbox_config) -> str:
    pod = adapter.pods.get(pod_id)
    if pod["state"] != "ready":
        raise FailedPrecondition(f"pod {pod['id'][:13]} is not ready")
    if not config.HasField("metadata") or not config.metadata.name:
        raise InvalidArgument("metadata.name: a container needs a name")
    image = find_or_raise(adapter.images, config.image.image)
    for i, m in enumerate(config.mounts):
        if m.host_path and not os.path.lexists(m.host_path):
            # a missing source becomes a directory, as containerd and CRI-O make it (kubelet's
            # hostPath "DirectoryOrCreate" and "" types rely on the runtime for this)
            try:
                os.makedirs(m.host_path, 0o755, exist_ok=True)
            except OSError as exc:
                raise InvalidArgument(f"mounts[{i}].host_path: {m.host_path} does not exist and cannot be made: "
                                      f"{exc.strerror}") from None
    cid = secrets.token_hex(32)
    record = {"id": cid, "pod_id": pod["id"], "name": config.metadata.name, "attempt": config.metadata.attempt,
              "key": f"{config.metadata.name}_{pod['id']}_{config.metadata.attempt}",
              "created_at": now_ns(), "image": config.image.image, "image_ref": image["id"],
              "layers": list(image["layers"]), "image_config": {"StopSignal": image["config"].get("StopSignal", "")},
              "handler": pod["handler"], "config": encode(config),
              "labels": dict(config.labels), "annotations": dict(config.annotations), "creating": True}
    log_dir = pod.get("log_directory") or ""
    record["log_path"] = os.path.join(log_dir, config.log_path) if config.log_path and log_dir else config.log_path
    adapter.containers.add(record)
    bundle = adapter.containers.path(cid)
    record["bundle"] = bundle
    try:
        root = rootfs.make(bundle, adapter.images.layer_dirs(image))
        volumes = _image_volumes(adapter, config, record)
        spec = convert.container_spec(config, sandbox_config, _pod_context(adapter, pod),
                                      _inputs(adapter, config, cid, root, image, volumes))
        program = spec["process"]["args"][0]
        path_env = next((e[5:] for e in spec["process"]["env"] if e.startswith("PATH=")), "")
        if not rootfs.has_executable(root, program, path_env):
            raise InvalidArgument(f"command: {program!r} is not an executable file in the image"
                                  + ("" if "/" in program else f" (PATH={path_env})"))
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        record["cgroups_path"] = spec["linux"]["cgroupsPath"]  # where OOM kills are counted
        log_path = record["log_file"] = record["log_path"] or os.path.join(bundle, "container.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        runtime = adapter.runtime(pod["handler"])
        record["pid"] = await monitor.create(adapter.config.conmon, runtime, cid, config.metadata.name, bundle,
                                             log_path, adapter.exits, adapter.sockets, config.tty, config.stdin,
                                             config.stdin_once)
        del record["creating"]
        adapter.containers.save(record)
    except BaseException:
        await destroy(adapter, record)
        raise
    adapter.publish(("created", cid))
    return cid


async def start(adapter: Adapter, cid: str) -> None:
    record = adapter.containers.get(cid)
    state, _, _ = status(adapter, record)
    if state != CREATED:
        raise FailedPrecondition(f"container {record['id'][:13]} is not created (state {state})")
    released = now_ns()  # the program runs from the moment start releases it: never after its own exit
    await adapter.runtime(record["handler"]).start(record["id"])
    record["started_at"] = released
    adapter.containers.save(record)
    adapter.publish(("started", record["id"]))
    watch(adapter, record)


def watch(adapter: Adapter, record: dict) -> None:
    """Publish the container's STOPPED event when it exits, by itself or by a stop."""
    async def wait() -> None:
        if await monitor.wait_exit(adapter.exits, record["id"], record["bundle"], None):
            adapter.publish(("stopped", record["id"]))
    adapter.watchers.add(asyncio.ensure_future(wait()))


async def stop(adapter: Adapter, cid: str, timeout: int) -> None:
    """TERM (or the container's stop signal), KILL after ``timeout`` seconds; done when it has exited."""
    record = adapter.containers.find(cid)
    if record is None:
        return  # StopContainer is idempotent: a container that is gone is stopped
    state, _, _ = status(adapter, record)
    if state == EXITED:
        return
    runtime = adapter.runtime(record["handler"])
    if state == RUNNING and timeout > 0:
        signal = _stop_signal(record)
        await _kill(runtime, record["id"], signal)
        if await monitor.wait_exit(adapter.exits, record["id"], record["bundle"], timeout):
            return
    await _kill(runtime, record["id"], "KILL")  # a created container's init too: it has not run yet
    if not await monitor.wait_exit(adapter.exits, record["id"], record["bundle"], 30):
        raise DeadlineExceeded(f"container {record['id'][:13]} did not exit 30 s after SIGKILL")


def _stop_signal(record: dict) -> str:
    config = decode(cri_pb2.ContainerConfig, record["config"])
    return signal_name(config.stop_signal, record.get("image_config") or {})


async def _kill(runtime, cid: str, signal: str) -> None:
    try:
        await runtime.kill(cid, signal)
    except CRIError:
        pass  # it exited meanwhile: the exit file says so


async def remove(adapter: Adapter, cid: str) -> None:
    record = adapter.containers.find(cid)
    if record is None:
        return  # RemoveContainer is idempotent
    state, _, _ = status(adapter, record)
    if state == RUNNING:
        await stop(adapter, record["id"], 0)
    await destroy(adapter, record)
    adapter.publish(("deleted", record["id"]))


async def destroy(adapter: Adapter, record: dict) -> None:
    try:
        await adapter.runtime(record["handler"]).delete(record["id"])
    finally:
        rootfs.remove(adapter.containers.path(record["id"]))
        for path in (os.path.join(adapter.exits, record["id"]),):
            if os.path.exists(path):
                os.unlink(path)
        adapter.containers.remove(record["id"])


async def exec_sync(adapter: Adapter, cid: str, cmd: list[str], timeout: int) -> tuple[bytes, bytes, int]:
    record = adapter.containers.get(cid)
    if status(adapter, record)[0] != RUNNING:
        raise FailedPrecondition(f"container {record['id'][:13]} is not running")
    if not cmd:
        raise InvalidArgument("cmd: empty")
    runtime = adapter.runtime(record["handler"])
    pid_file = os.path.join(record["bundle"], f"exec-{secrets.token_hex(4)}.pid")
    proc = await asyncio.create_subprocess_exec(
        *runtime.argv("exec", "--pid-file", pid_file, record["id"], *cmd, log=record["bundle"]), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(_capped(proc), timeout or None)
    except asyncio.TimeoutError:
        _kill_exec(pid_file)
        proc.kill()
        await proc.wait()
        raise DeadlineExceeded(f"command {cmd[0]!r} in {record['id'][:13]} timed out after {timeout} s") from None
    finally:
        if os.path.exists(pid_file):
            os.unlink(pid_file)
    return out, err, proc.returncode


async def _capped(proc) -> tuple[bytes, bytes]:
    async def read(stream) -> bytes:
        data = bytearray()
        while chunk := await stream.read(65536):
            if len(data) < MAX_EXEC_OUTPUT:
                data += chunk[:MAX_EXEC_OUTPUT - len(data)]
        return bytes(data)
    out, err = await asyncio.gather(read(proc.stdout), read(proc.stderr))
    await proc.wait()
    return out, err


def _kill_exec(pid_file: str) -> None:
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip()), 9)
    except (OSError, ValueError):
        pass


async def update_resources(adapter: Adapter, cid: str, resources) -> None:
    record = adapter.containers.get(cid)
    doc = convert.linux.resources(resources, [])
    doc.pop("devices", None)
    await adapter.runtime(record["handler"]).update(record["id"], doc)
    record["resources"] = encode(resources)  # what ContainerStatus reports from now on
    adapter.containers.save(record)


def resources(record: dict, config) -> "cri_pb2.LinuxContainerResources":
    """The container's resources: the last update's, else the create request's."""
    if record.get("resources"):
        return decode(cri_pb2.LinuxContainerResources, record["resources"])
    return config.linux.resources


async def reopen_log(adapter: Adapter, cid: str) -> None:
    """Ask conmon to reopen the log file (after kubelet rotated it), through its control fifo;
    done when the new file exists (kubelet goes on to read it), as CRI-O's is."""
    record = adapter.containers.get(cid)
    if status(adapter, record)[0] != RUNNING:
        raise FailedPrecondition(f"container {record['id'][:13]} is not running")
    ctl = os.path.join(record["bundle"], "ctl")
    try:
        fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFound(f"container {record['id'][:13]}: conmon's control fifo: {exc.strerror}") from None
    try:
        os.write(fd, b"2 0 0\n")  # conmon's "reopen the log" message
    finally:
        os.close(fd)
    deadline = asyncio.get_running_loop().time() + REOPEN_TIMEOUT
    while not os.path.exists(record["log_file"]):
        if asyncio.get_running_loop().time() > deadline:
            raise DeadlineExceeded(f"container {record['id'][:13]}: conmon did not reopen {record['log_file']}")
        await asyncio.sleep(0.005)  # conmon's own fifo: no event to wait on but the file itself


def exit_reason(adapter: Adapter, record: dict, code: int | None) -> str:
    """Completed, Error, or OOMKilled when the kernel's OOM killer ended it (its memory cgroup says so)."""
    if "reason" not in record:
        record["reason"] = "OOMKilled" if _oom_killed(record) else ("Completed" if code == 0 else "Error")
        adapter.containers.save(record)
    return record["reason"]


def _oom_killed(record: dict) -> bool:
    path = record.get("cgroups_path", "")
    if not path:
        return False  # never the host's own root cgroup's counters
    for events, key in ((f"/sys/fs/cgroup{path}/memory.events", "oom_kill"),
                        (f"/sys/fs/cgroup/memory{path}/memory.oom_control", "oom_kill")):
        try:
            with open(events) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key and int(value) > 0:
                        return True
        except (OSError, ValueError):
            continue
    return False
