"""What each streaming URL does, for the adapter: exec through the container's runtime, attach
through its conmon, port-forward into its pod's network namespace."""
from __future__ import annotations

import os
import secrets

from . import portforward, remotecommand
from .processes import Attached, Piped, Terminal


def make(adapter) -> dict:
    async def exec_(session, params: dict, version: str) -> None:
        record = adapter.containers.get(params["container_id"])
        runtime = adapter.runtime(record["handler"])
        bundle = record["bundle"]
        pid_file = os.path.join(bundle, f"exec-{secrets.token_hex(4)}.pid")

        async def start():
            if params["tty"]:
                proc = await Terminal.start(lambda sock: runtime.argv(
                    "exec", "--tty", "--console-socket", sock, "--pid-file", pid_file, record["id"],
                    *params["cmd"], log=bundle))
            else:
                proc = await Piped.start(runtime.argv("exec", "--pid-file", pid_file, record["id"], *params["cmd"],
                                                      log=bundle), params["stdin"])
            return _KillsExecd(proc, pid_file)
        try:
            await remotecommand.serve(session, params, version, start)
        finally:
            if os.path.exists(pid_file):
                os.unlink(pid_file)

    async def attach(session, params: dict, version: str) -> None:
        record = adapter.containers.get(params["container_id"])
        await remotecommand.serve(session, params, version, lambda: Attached.start(record["bundle"]))

    async def forward(session, params: dict, version: str) -> None:
        pod = adapter.pods.get(params["pod_id"])
        await portforward.serve(session, pod["pins"].get("net"))

    return {"exec": exec_, "attach": attach, "portforward": forward}


class _KillsExecd:
    """An exec'd process whose kill() also ends the program inside the container (killing the
    runtime's `exec` alone would leave it running there)."""

    def __init__(self, proc, pid_file: str):
        self.proc, self.pid_file = proc, pid_file

    def __getattr__(self, name):
        return getattr(self.proc, name)

    def kill(self) -> None:
        try:
            with open(self.pid_file) as f:
                os.kill(int(f.read().strip()), 9)
        except (OSError, ValueError):
            pass
        self.proc.kill()
