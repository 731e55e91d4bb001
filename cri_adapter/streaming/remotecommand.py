"""Kubernetes' remote command protocol (exec and attach) over a SPDY session.

The client opens one stream per channel, each named by its `streamType` header:
error (always), stdin, stdout, stderr (not with a tty), resize (with a tty: JSON
{"Width", "Height"} objects, one per line). Once all the request asked for are
open, the process runs; its output goes to stdout/stderr, stdin's end closes the
process's stdin, and at the end the error stream carries a Kubernetes Status
(v4 and later): Success, or NonZeroExitCode with the exit code as its cause.
"""
from __future__ import annotations

import asyncio
import json
import logging

log = logging.getLogger("pyruntime-cri")
PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
STREAM_TIMEOUT = 30.0


def expected(params: dict) -> set[str]:
    wanted = {"error"}
    if params.get("stdin"):
        wanted.add("stdin")
    if params.get("stdout"):
        wanted.add("stdout")
    if params.get("stderr") and not params.get("tty"):
        wanted.add("stderr")
    if params.get("tty"):
        wanted.add("resize")
    return wanted


def status(code: int | None, cmd: list[str], failure: str | None = None) -> bytes:
    """The Status object kubelet and client-go read from the error stream."""
    if failure is not None:
        doc = {"metadata": {}, "status": "Failure", "message": failure, "reason": "InternalError",
               "details": {"causes": [{"message": failure}]}, "code": 500}
    elif not code:
        doc = {"metadata": {}, "status": "Success"}
    else:
        doc = {"metadata": {}, "status": "Failure",
               "message": f"command terminated with non-zero exit code: error executing command {cmd}, "
                          f"exit code {code}",
               "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    return json.dumps(doc).encode()


async def gather_streams(session, wanted: set[str]) -> dict:
    streams: dict = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_TIMEOUT
    while not wanted <= set(streams):
        stream = await asyncio.wait_for(session.new_streams.get(), max(deadline - loop.time(), 0.001))
        if stream is None:
            raise ConnectionError("the client went away before opening its streams")
        streams[stream.header("streamType")] = stream
    return streams


async def serve(session, params: dict, version: str, start) -> None:
    """Run one remote command: ``start()`` makes the process (Piped, Terminal or Attached)."""
    try:
        streams = await gather_streams(session, expected(params))
    except (asyncio.TimeoutError, ConnectionError) as exc:
        log.info("streaming: %s", exc or "the client did not open its streams in time")
        return
    error = streams["error"]
    try:
        proc = await start()
    except OSError as exc:
        error.write(status(None, params.get("cmd", []), str(exc)), fin=True)
        await session.drain()
        return
    pumps = [asyncio.ensure_future(_output(proc, name, streams[name]))
             for name in ("stdout", "stderr") if name in streams]
    inputs = []
    if "stdin" in streams:
        inputs.append(asyncio.ensure_future(_input(proc, streams["stdin"])))
    if "resize" in streams:
        inputs.append(asyncio.ensure_future(_resize(proc, streams["resize"])))
    gone = asyncio.ensure_future(session.closed.wait())
    waiter = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():  # the client vanished: the process must not outlive it
            proc.kill()
            await waiter
            return
        code = waiter.result()
        await asyncio.gather(*pumps)
        if version != "channel.k8s.io" and version != "v2.channel.k8s.io":
            error.write(status(code, params.get("cmd", [])))
        elif code:
            error.write(f"command terminated with exit code {code}".encode())
        error.close()
        for name in ("stdout", "stderr"):
            if name in streams:
                streams[name].close()
        await session.drain()
    finally:
        for task in inputs + pumps + [gone, waiter]:
            task.cancel()
        release = getattr(proc, "release", None)
        if release:
            release()


async def _output(proc, name: str, stream) -> None:
    while data := await proc.read(name):
        stream.write(data)
        await stream.session.drain()


async def _input(proc, stream) -> None:
    while data := await stream.read():
        proc.write_stdin(data)
    proc.close_stdin()


async def _resize(proc, stream) -> None:
    buffer = b""
    while data := await stream.read():
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                size = json.loads(line)
                proc.resize(int(size["Width"]), int(size["Height"]))
            except (ValueError, KeyError, TypeError, OSError):
                continue
