"""The daemon's side of the pull worker (``worker.py``): start it when a pull comes, hand it
fetches, and retire it once it has had nothing to do for ``idle`` seconds.

The daemon decides when the worker ends (it closes the worker's stdin), so a request can
never be sent to a worker that is on its way out.
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import sys

from .. import errors
from .credentials import Credentials

log = logging.getLogger("pyruntime-cri.pull")
ERRORS = {cls.code: cls for cls in (errors.NotFound, errors.InvalidArgument, errors.FailedPrecondition,
                                    errors.Unavailable, errors.DeadlineExceeded, errors.Internal)}


class Puller:
    def __init__(self, settings: dict, idle: float):
        self.settings, self.idle = settings, idle
        self.proc: asyncio.subprocess.Process | None = None
        self.readers: set[asyncio.Task] = set()  # one per worker started, until it is reaped
        self.pending: dict[int, asyncio.Future] = {}
        self.ids = itertools.count(1)
        self.retiring: asyncio.TimerHandle | None = None
        self.starting = asyncio.Lock()

    async def fetch(self, ref: str, creds: Credentials) -> dict:
        """The worker's result for ``ref``: its manifest digest, config and layer descriptors."""
        if self.retiring is not None:
            self.retiring.cancel()
            self.retiring = None
        key = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        try:
            proc = await self._worker()
            self._send(proc, {"id": key, "ref": ref, "creds": dataclasses.asdict(creds)})
            try:
                reply = await future
            except asyncio.CancelledError:
                self._send(proc, {"cancel": key})
                raise
        finally:
            self.pending.pop(key, None)
            if not self.pending and self.proc is not None:
                self.retiring = asyncio.get_running_loop().call_later(self.idle, self._retire)
        if "error" in reply:
            error = reply["error"]
            raise ERRORS.get(error.get("code"), errors.Internal)(error.get("message", "pull failed"))
        return reply["result"]

    async def _worker(self) -> asyncio.subprocess.Process:
        async with self.starting:
            if self.proc is None:
                settings = json.dumps(self.settings)
                self.proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-m", "cri_adapter.images.worker", settings,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
                reader = asyncio.create_task(self._read(self.proc))
                self.readers.add(reader)
                reader.add_done_callback(self.readers.discard)
            return self.proc

    @staticmethod
    def _send(proc: asyncio.subprocess.Process, message: dict) -> None:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write(json.dumps(message).encode() + b"\n")

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        while line := await proc.stdout.readline():
            reply = json.loads(line)
            future = self.pending.get(reply.get("id"))
            if future is not None and not future.done():
                future.set_result(reply)
        status = await proc.wait()
        if self.proc is proc:
            self.proc = None
        for future in self.pending.values():
            if not future.done():
                future.set_result({"error": {"code": "INTERNAL",
                                             "message": f"the pull worker ended (status {status})"}})
        if status:
            log.warning("the pull worker ended with status %s", status)

    def _retire(self) -> None:
        """Nothing under way: end the worker (it reads the end of its input)."""
        self.retiring = None
        if self.proc is not None and not self.pending:
            self.proc.stdin.close()
            self.proc = None  # the next pull starts another; _read reaps this one

    async def close(self) -> None:
        if self.retiring is not None:
            self.retiring.cancel()
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.stdin.close()
        await asyncio.gather(*self.readers)
