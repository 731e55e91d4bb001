"""Fetching an image into the store's blobs and layers: what the pull worker (``worker.py``) runs.

The manifest (an index resolved to this machine's platform), the config blob, and every
layer, downloaded and unpacked as it streams, each under its final name only once its
digest is verified. The daemon keeps the image records; this keeps the files. One fetcher
serves every pull the worker has under way: a blob two pulls need is fetched once, and
what a failed pull made is removed unless another pull under way, or one that succeeded
in this worker's life, uses it (the daemon records a success as soon as it hears of it).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import shutil

from ..errors import FailedPrecondition
from . import reference, registry, unpack
from .credentials import Credentials

LAYER_TYPES = ("application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
               "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+zstd")
FOREIGN = ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
           "application/vnd.oci.image.layer.nondistributable.v1.tar",
           "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
MAX_CONFIG = 8 << 20
F_SETPIPE_SZ = 1031  # a larger pipe between download and unpacker: fewer wake-ups


class Fetcher:
    def __init__(self, blobs: str, layers: str, settings, budget: unpack.Budget | None = None):
        self.blobs, self.layers = blobs, layers
        self.budget = budget or unpack.Budget()
        self.client = registry.Client(settings)
        self.in_flight: collections.Counter = collections.Counter()  # digest -> fetches under way using it
        self.kept: set[str] = set()  # digests of fetches that succeeded: never removed by a failing one
        self.layer_locks: dict[str, asyncio.Lock] = {}
        self.downloads = asyncio.Semaphore(4)

    async def close(self) -> None:
        await self.client.close()

    async def fetch(self, text: str, creds: Credentials) -> dict:
        """{"digest": the manifest's, "config": its descriptor, "layers": their descriptors}."""
        ref = reference.parse(text)
        counted: list[str] = []
        made: set[str] = set()
        try:
            result = await self._fetch(ref, creds, counted, made)
            self.kept.update(counted)
            return result
        finally:
            for digest in counted:
                self.in_flight[digest] -= 1
                if not self.in_flight[digest]:
                    del self.in_flight[digest]
            self._remove_unused(made)

    async def _fetch(self, ref, creds, counted: list[str], made: set[str]) -> dict:
        media, body, digest = await self.client.manifest(ref, ref.digest or ref.tag, creds)
        doc = json.loads(body)
        if media in registry.INDEX_TYPES or doc.get("manifests") is not None:
            entry = registry.select_platform(doc, ref)
            media, body, digest = await self.client.manifest(ref, entry["digest"], creds)
            doc = json.loads(body)
        config_desc, layers = doc.get("config") or {}, doc.get("layers") or []
        for layer in layers:
            if layer.get("mediaType") in FOREIGN:
                raise FailedPrecondition(f"image {ref}: layer {layer.get('digest')} is foreign/non-distributable")
            if layer.get("mediaType") not in LAYER_TYPES:
                raise FailedPrecondition(f"image {ref}: layer media type {layer.get('mediaType')!r} is not supported")
        if config_desc.get("size", 0) > MAX_CONFIG:
            raise FailedPrecondition(f"image {ref}: config larger than {MAX_CONFIG} bytes")
        for desc in [config_desc] + layers:
            if desc.get("digest") and desc["digest"] not in counted:
                counted.append(desc["digest"])
                self.in_flight[desc["digest"]] += 1
        await self._blob(ref, config_desc, creds, made)
        await asyncio.gather(*(self._layer(ref, layer, creds, made) for layer in layers))
        return {"digest": digest, "config": config_desc, "layers": layers}

    def _remove_unused(self, made: set[str]) -> None:
        for digest in made:
            if digest in self.in_flight or digest in self.kept:
                continue
            hexdigest = digest.split(":", 1)[1]
            for path in (os.path.join(self.blobs, hexdigest), os.path.join(self.layers, hexdigest)):
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.unlink(path)

    async def _blob(self, ref, desc: dict, creds, made: set[str]) -> str:
        digest = desc.get("digest", "")
        if not digest.startswith("sha256:") or len(digest) != 71:
            raise FailedPrecondition(f"image {ref}: descriptor digest {digest!r} is not sha256")
        path = os.path.join(self.blobs, digest[7:])
        if not os.path.exists(path):
            async with self.downloads:
                if not os.path.exists(path):
                    made.add(digest)
                    await self.client.blob(ref, digest, int(desc.get("size", -1)), path, creds, self.budget.bytes)
        return path

    async def _layer(self, ref, desc: dict, creds, made: set[str]) -> None:
        hexdigest = desc["digest"].split(":", 1)[1]
        dest = os.path.join(self.layers, hexdigest)
        lock = self.layer_locks.setdefault(hexdigest, asyncio.Lock())
        async with lock:
            if os.path.isdir(dest):
                return
            made.add(desc["digest"])
            tmp = os.path.join(self.layers, f".tmp-{hexdigest}")
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
            try:
                blob = os.path.join(self.blobs, hexdigest)
                if os.path.exists(blob):  # fetched before (a crash came between blob and layer)
                    await asyncio.to_thread(unpack.unpack, blob, tmp, self.budget)
                else:
                    await self._fetch_unpacking(ref, desc, creds, blob, tmp)
                os.rename(tmp, dest)  # only now, with the blob's digest verified, is the layer used
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise

    async def _fetch_unpacking(self, ref, desc: dict, creds, blob: str, tmp: str) -> None:
        """Download a layer blob and unpack it as it arrives: the download writes each chunk into
        a pipe that the unpacker, in a thread, reads (no second pass over the blob)."""
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, F_SETPIPE_SZ, 1 << 20)
        unpacking = loop.run_in_executor(None, _unpack_from, read_fd, tmp, self.budget, desc["digest"][7:])
        try:
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                                open(write_fd, "wb", buffering=0))
        except BaseException:
            os.close(write_fd)
            await asyncio.wait([unpacking])
            raise
        pipe = asyncio.StreamWriter(transport, protocol, None, loop)

        async def sink(chunk: bytes) -> None:
            # an unpacker that stopped early (a bad layer) is waited out: whether the blob matches its
            # digest decides the error, since a corrupt download is what usually breaks a layer
            if unpacking.done():
                return
            pipe.write(chunk)
            try:
                await pipe.drain()
            except ConnectionError:
                pass  # it has just stopped
        try:
            async with self.downloads:
                await self.client.blob(ref, desc["digest"], int(desc.get("size", -1)), blob, creds,
                                       self.budget.bytes, sink)
        except BaseException:
            pipe.close()
            await asyncio.wait([unpacking])  # the thread is done with tmp before tmp goes
            raise
        pipe.close()
        await unpacking


def _unpack_from(read_fd: int, dest: str, budget: unpack.Budget, layer: str) -> None:
    with open(read_fd, "rb", buffering=0) as f:  # closed when done, so the download's writes fail then
        unpack.unpack_stream(f, dest, budget, layer)
