"""Kubernetes' port forward protocol over SPDY: for each request the client opens an error and a
data stream (headers streamType, port, requestID); the data stream is spliced to a TCP connection
to that port inside the pod's network namespace, and a failure is written to the error stream.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading

from pyruntime.errors import PyruntimeError
from pyruntime.kernel import ns

log = logging.getLogger("pyruntime-cri")
PROTOCOLS = ("portforward.k8s.io",)
CLONE_NEWNET = 0x40000000


def connect_in(netns: str, port: int) -> socket.socket:
    """A TCP connection to localhost:port made inside ``netns``.

    setns(2) moves only the calling thread, so a thread of its own goes there, makes the socket
    (which stays in that namespace) and ends; the gRPC and event loop threads never move.
    """
    if netns is None:  # a host-network pod: its ports are the node's
        return socket.create_connection(("127.0.0.1", port), timeout=10)
    result: dict = {}

    def work() -> None:
        try:
            target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ns.setns(target, CLONE_NEWNET)  # this thread ends right after, never to be reused
            finally:
                os.close(target)
        except (OSError, PyruntimeError) as exc:
            result["error"] = OSError(f"entering the pod's network namespace: {exc}")
            return
        try:
            result["sock"] = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=work, name="portforward-connect")
    thread.start()
    thread.join()
    if "sock" not in result:
        raise result.get("error") or OSError("could not enter the pod's network namespace")
    return result["sock"]


async def serve(session, netns: str | None) -> None:
    pending: dict[str, dict] = {}
    tasks = []
    try:
        while True:
            stream = await session.new_streams.get()
            if stream is None:
                break
            request = stream.header("requestID")
            pair = pending.setdefault(request, {})
            pair[stream.header("streamType")] = stream
            if "data" in pair and "error" in pair:
                del pending[request]
                tasks.append(asyncio.ensure_future(_forward(pair["data"], pair["error"], netns)))
    finally:
        for task in tasks:
            task.cancel()


async def _forward(data, error, netns: str | None) -> None:
    port = data.header("port")
    try:
        sock = await asyncio.get_running_loop().run_in_executor(None, connect_in, netns, int(port))
    except (OSError, ValueError) as exc:
        error.write(f"an error occurred forwarding {port} -> {port}: {exc}".encode(), fin=True)
        data.close()
        return
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)

    async def upstream() -> None:
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def downstream() -> None:
        while chunk := await reader.read(65536):
            data.write(chunk)
            await data.session.drain()
        data.close()

    try:
        await asyncio.gather(upstream(), downstream())
    except (ConnectionError, OSError) as exc:
        log.info("port forward to %s: %s", port, exc)
    finally:
        writer.close()
        error.close()
