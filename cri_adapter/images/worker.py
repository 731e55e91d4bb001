"""The pull worker: a child process of the daemon that fetches images (``fetch.py``).

    python -I -m cri_adapter.images.worker '<settings JSON>'

Requests come on stdin, one JSON object a line: ``{"id": N, "ref": "...", "creds": {...}}``
starts a fetch, ``{"cancel": N}`` cancels one. Each fetch is answered on stdout with
``{"id": N, "result": {...}}`` or ``{"id": N, "error": {"code": "...", "message": "..."}}``.
End of input (the daemon retired the worker, or died) cancels what is under way and ends it.

Why a process of its own: the HTTP client (httpx, h2, OpenSSL), the decompressors and a
pull's buffers cost the daemon ~10 MB it would keep for its whole life; here they are
given back when the worker ends. And the parsing of what a registry sends (manifests,
compressed tar streams: hostile input) happens outside the process that holds every
pod's state.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import types

from ..errors import CRIError
from .credentials import Credentials

log = logging.getLogger("pyruntime-cri.pull")


def _reply(message: dict) -> None:
    sys.stdout.buffer.write(json.dumps(message).encode() + b"\n")
    sys.stdout.buffer.flush()


async def _answer(fetcher, request: dict) -> None:
    try:
        result = await fetcher.fetch(request["ref"], Credentials(**request.get("creds", {})))
    except CRIError as exc:
        _reply({"id": request["id"], "error": {"code": exc.code, "message": exc.message}})
    except asyncio.CancelledError:
        raise  # the daemon gave up on it: nobody waits for an answer
    except Exception as exc:  # a bug: still one line for the caller, the traceback in the log
        log.exception("pull of %s", request.get("ref"))
        _reply({"id": request["id"], "error": {"code": "INTERNAL",
                                               "message": f"pull {request.get('ref')}: {type(exc).__name__}: {exc}"}})
    else:
        _reply({"id": request["id"], "result": result})


async def serve(settings: dict) -> None:
    from .fetch import Fetcher
    images = os.path.join(settings["root"], "images")
    fetcher = Fetcher(os.path.join(images, "blobs", "sha256"), os.path.join(images, "layers"),
                      types.SimpleNamespace(**settings))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    tasks: dict[int, asyncio.Task] = {}
    try:
        while line := await reader.readline():
            request = json.loads(line)
            if "cancel" in request:
                task = tasks.get(request["cancel"])
                if task is not None:
                    task.cancel()
                continue
            task = asyncio.create_task(_answer(fetcher, request))
            tasks[request["id"]] = task
            task.add_done_callback(lambda t, key=request["id"]: tasks.pop(key, None))
    finally:
        for task in list(tasks.values()):
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await fetcher.close()


def main() -> None:
    settings = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyruntime-cri").setLevel(settings.pop("log_level", "info").upper())
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
