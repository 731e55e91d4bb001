"""The OCI runtime's CLI (pyruntime, runc or crun: runc's verbs), called asynchronously.

An error is the runtime's own last line on stderr, which names the cause.
"""
from __future__ import annotations

import asyncio
import json
import os

from .errors import Internal, NotFound


class Runtime:
    def __init__(self, name: str, path: str, root: str):
        self.name, self.path, self.root = name, path, root

    def argv(self, *args: str, log: str | None = None) -> list[str]:
        """The command line; ``log``: a bundle whose runtime.log gets the runtime's warnings (not stderr,
        which ExecSync returns to the caller as the command's own)."""
        flags = ["--log", os.path.join(log, "runtime.log")] if log else []
        return [self.path, "--root", self.root, *flags, *args]

    async def run(self, *args: str, stdin: bytes | None = None, timeout: float | None = None) -> bytes:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args), stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise Internal(f"{self.name} {args[0]}: no answer in {timeout} s") from None
        if proc.returncode != 0:
            line = (err.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            if "does not exist" in line or "not found" in line.lower():
                raise NotFound(f"{self.name} {args[0]}: {line}")
            raise Internal(f"{self.name} {args[0]}: {line}")
        return out

    async def state(self, container_id: str) -> dict | None:
        try:
            return json.loads(await self.run("state", container_id))
        except NotFound:
            return None

    async def start(self, container_id: str) -> None:
        await self.run("start", container_id)

    async def kill(self, container_id: str, signal: str, all_processes: bool = False) -> None:
        await self.run("kill", *(["--all"] if all_processes else []), container_id, signal)

    async def delete(self, container_id: str) -> None:
        try:
            await self.run("delete", "--force", container_id)
        except NotFound:
            pass

    async def update(self, container_id: str, resources: dict) -> None:
        await self.run("update", "--resources", "-", container_id, stdin=json.dumps(resources).encode())

    async def stats(self, container_id: str) -> dict:
        out = await self.run("events", "--stats", container_id)
        return json.loads(out).get("data") or {}
