"""conmon, the per-container monitor (as CRI-O uses it): it runs `<runtime> create`, holds the
container's stdio, writes the CRI log file and, when the container exits, an exit file.

conmon daemonises and outlives the adapter, so a restarted adapter finds its containers
running and their exit codes on disk:

    <state>/exits/<id>           the exit code, written by conmon (its mtime: when it exited)
    <bundle>/conmon.pid          conmon's pid (exits after writing the exit file)
    <bundle>/pidfile             the container's init pid (written by the runtime)
"""
from __future__ import annotations

import asyncio
import json
import os

from .errors import Internal

CREATE_TIMEOUT = 120  # seconds conmon and the runtime may take to create a container


async def create(conmon: str, runtime, container_id: str, name: str, bundle: str, log_path: str,
                 exits: str, sockets: str, tty: bool, stdin: bool, stdin_once: bool) -> int:
    """Start conmon, which creates the container; returns the container's init pid."""
    argv = [conmon, "--api-version", "1", "-c", container_id, "-u", container_id, "-n", name,
            "-r", runtime.path, "--runtime-arg", f"--root={runtime.root}",
            "--runtime-arg", f"--log={os.path.join(bundle, 'runtime.log')}", "-b", bundle,
            "-p", os.path.join(bundle, "pidfile"), "-P", os.path.join(bundle, "conmon.pid"),
            "-l", f"k8s-file:{log_path}", "--exit-dir", exits, "--socket-dir-path", sockets,
            "--log-level", "error", "--full-attach"]
    if tty:
        argv.append("-t")
    if stdin:
        argv.append("-i")
        if not stdin_once:
            argv.append("--leave-stdin-open")
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, pass_fds=(write_end,), cwd=bundle,
            env={"_OCI_SYNCPIPE": str(write_end), "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")})
    finally:
        os.close(write_end)
    try:
        message = await asyncio.wait_for(_first_message(read_end), CREATE_TIMEOUT)
    except asyncio.TimeoutError:
        message = b""
    finally:
        os.close(read_end)
    err = (await proc.stderr.read()).decode(errors="replace").strip()
    await proc.wait()  # conmon's first process exits once its daemon runs
    pid, text = _parse(message)
    if pid <= 0:
        raise Internal(f"create {container_id}: {text or err or 'conmon gave no pid'}")
    return pid


async def _first_message(fd: int) -> bytes:
    """conmon's first message: one JSON object (conmon keeps the pipe open after it), or b"" at EOF."""
    os.set_blocking(fd, False)
    loop = asyncio.get_running_loop()
    data = b""
    while True:
        ready = loop.create_future()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            return data
        data += chunk
        try:
            json.loads(data)
            return data
        except ValueError:
            continue


def _parse(message: bytes) -> tuple[int, str]:
    """conmon's sync pipe: one JSON object per line; {"data": pid} or {"data": -1, "message": why}."""
    pid, text = -1, ""
    for line in message.decode(errors="replace").splitlines() or [""]:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        pid = int(doc.get("data", -1))
        text = (doc.get("message") or "").strip()
    # the runtime's error as conmon relays it: keep the runtime's last line
    return pid, text.splitlines()[-1] if text else text


def exit_status(exits: str, container_id: str) -> tuple[int, int] | None:
    """(exit code, finished at in ns) when conmon has recorded the container's exit."""
    path = os.path.join(exits, container_id)
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text or "-1"), os.stat(path).st_mtime_ns
    except (FileNotFoundError, ValueError):
        return None


def conmon_pid(bundle: str) -> int | None:
    try:
        with open(os.path.join(bundle, "conmon.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


async def wait_exit(exits: str, container_id: str, bundle: str, timeout: float | None) -> bool:
    """Wait until conmon records the exit (or timeout); True when it has.

    conmon exits right after writing the exit file, so a pidfd on conmon wakes us.
    """
    if exit_status(exits, container_id) is not None:
        return True
    pid = conmon_pid(bundle)
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(pid) if pid else None
    except ProcessLookupError:
        pidfd = None
    try:
        if pidfd is not None:
            done = loop.create_future()
            loop.add_reader(pidfd, lambda: done.done() or done.set_result(True))
            try:
                await asyncio.wait_for(done, timeout)
            except asyncio.TimeoutError:
                return exit_status(exits, container_id) is not None
            finally:
                loop.remove_reader(pidfd)
        return exit_status(exits, container_id) is not None
    finally:
        if pidfd is not None:
            os.close(pidfd)
