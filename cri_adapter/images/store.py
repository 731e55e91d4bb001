"""The image store: content-addressed blobs, layers unpacked once, image records by name and digest.

    <root>/images/blobs/sha256/<hex>     every blob, named by its digest (verified on arrival)
    <root>/images/layers/<hex>/          a layer blob unpacked, shared by every image that has it
    <root>/images/images.json            records: id (config digest), tags, digests, layers, config

Everything appears under its final name by rename, so a crash leaves a whole blob or
layer, or a temporary name that the next start removes. The same image pulled twice
at once is fetched once.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import shutil

from pyruntime.fileio import replace_file

from ..errors import CRIError, FailedPrecondition, NotFound
from . import reference, unpack
from .credentials import Credentials

LAYER_TYPES = ("application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
               "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+zstd")
FOREIGN = ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
           "application/vnd.oci.image.layer.nondistributable.v1.tar",
           "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
MAX_CONFIG = 8 << 20
F_SETPIPE_SZ = 1031  # a larger pipe between download and unpacker: fewer wake-ups


class Store:
    def __init__(self, root: str, config, budget: unpack.Budget | None = None):
        self.dir = os.path.join(root, "images")
        self.blobs = os.path.join(self.dir, "blobs", "sha256")
        self.layers = os.path.join(self.dir, "layers")
        for d in (self.blobs, self.layers):
            os.makedirs(d, 0o700, exist_ok=True)
        self._sweep()
        self.records_path = os.path.join(self.dir, "images.json")
        try:
            with open(self.records_path) as f:
                self.records: dict[str, dict] = json.load(f)
        except FileNotFoundError:
            self.records = {}
        self.config = config
        self.budget = budget or unpack.Budget()
        self.client = None  # the registry client, made (and httpx imported) at the first pull
        self.pulls: dict[str, asyncio.Future] = {}
        self.in_flight: collections.Counter = collections.Counter()  # digest -> pulls under way using it
        self.layer_locks: dict[str, asyncio.Lock] = {}
        self.downloads = asyncio.Semaphore(4)

    def _sweep(self) -> None:
        """Remove what a crash left under a temporary name."""
        for d in (self.blobs, self.layers):
            for name in os.listdir(d):
                if name.endswith(".partial") or name.startswith(".tmp-"):
                    path = os.path.join(d, name)
                    shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)

    def _save(self) -> None:
        replace_file(self.records_path, json.dumps(self.records, sort_keys=True).encode(), 0o600, sync=True)

    async def close(self) -> None:
        if self.client:
            await self.client.close()

    # lookups -------------------------------------------------------------------------------
    def find(self, text: str) -> dict | None:
        """An image by id (full or a prefix of 12+ hex digits), tag, or name@digest."""
        if not text:
            return None
        hexid = text[len("sha256:"):] if text.startswith("sha256:") else text
        if len(hexid) >= 12 and all(c in "0123456789abcdef" for c in hexid):
            for image_id, record in self.records.items():
                if image_id[len("sha256:"):].startswith(hexid):
                    return record
        try:
            ref = reference.parse(text)
        except CRIError:  # not a reference, so not an image we have
            return None
        key = str(ref)
        for record in self.records.values():
            if key in record["repo_tags"] or key in record["repo_digests"]:
                return record
        return None

    def layer_dirs(self, record: dict) -> list[str]:
        return [os.path.join(self.layers, d.split(":", 1)[1]) for d in record["layers"]]

    # pull ----------------------------------------------------------------------------------
    async def pull(self, text: str, creds: Credentials) -> dict:
        ref = reference.parse(text)
        key = str(ref)
        if key in self.pulls:  # the same image pulled twice at once is fetched once
            return await asyncio.shield(self.pulls[key])
        future = asyncio.get_running_loop().create_future()
        self.pulls[key] = future
        fetched: set[str] = set()
        try:
            record = await self._pull(ref, creds, fetched)
            future.set_result(record)
            return record
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self.pulls[key]
            self._release(fetched)

    def _release(self, digests: set[str]) -> None:
        """A pull is over: what it fetched and no image (nor a pull under way) uses goes (a failed pull
        leaves nothing behind)."""
        for digest in digests:
            self.in_flight[digest] -= 1
            if self.in_flight[digest]:
                continue
            del self.in_flight[digest]
            if any(digest == r["id"] or digest in r["layers"] for r in self.records.values()):
                continue
            hexdigest = digest.split(":", 1)[1]
            for path in (os.path.join(self.blobs, hexdigest), os.path.join(self.layers, hexdigest)):
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.unlink(path)

    async def _pull(self, ref, creds, fetched: set[str]) -> dict:
        from . import registry
        if self.client is None:
            self.client = registry.Client(self.config)
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
        for desc in [config_desc] + layers:  # counted in, so a failure elsewhere leaves them be
            if desc.get("digest") and desc["digest"] not in fetched:
                fetched.add(desc["digest"])
                self.in_flight[desc["digest"]] += 1
        config_path = await self._blob(ref, config_desc, creds)
        with open(config_path, "rb") as f:
            image_config = json.load(f)
        await asyncio.gather(*(self._layer(ref, layer, creds) for layer in layers))
        image_id = config_desc["digest"]
        record = self.records.get(image_id) or {"id": image_id, "repo_tags": [], "repo_digests": [],
                                                "layers": [l["digest"] for l in layers],
                                                "size": sum(l.get("size", 0) for l in layers) + config_desc["size"],
                                                "config": image_config.get("config") or {},
                                                "user": (image_config.get("config") or {}).get("User", "")}
        if ref.tag:
            for other in self.records.values():  # a tag names one image
                if str(ref) in other["repo_tags"]:
                    other["repo_tags"].remove(str(ref))
            record["repo_tags"].append(str(ref))
        by_digest = f"{ref.name}@{digest}"
        if by_digest not in record["repo_digests"]:
            record["repo_digests"].append(by_digest)
        self.records[image_id] = record
        self._save()
        return record

    async def _blob(self, ref, desc: dict, creds) -> str:
        digest = desc.get("digest", "")
        if not digest.startswith("sha256:") or len(digest) != 71:
            raise FailedPrecondition(f"image {ref}: descriptor digest {digest!r} is not sha256")
        path = os.path.join(self.blobs, digest[7:])
        if not os.path.exists(path):
            async with self.downloads:
                if not os.path.exists(path):
                    await self.client.blob(ref, digest, int(desc.get("size", -1)), path, creds, self.budget.bytes)
        return path

    async def _layer(self, ref, desc: dict, creds) -> None:
        hexdigest = desc["digest"].split(":", 1)[1]
        dest = os.path.join(self.layers, hexdigest)
        lock = self.layer_locks.setdefault(hexdigest, asyncio.Lock())
        async with lock:
            if os.path.isdir(dest):
                return
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

    # removal and usage ---------------------------------------------------------------------
    def remove(self, text: str, layers_in_use: set[str]) -> None:
        """The image ``text`` names, with all its tags and digests (as containerd's CRI does)."""
        record = self.find(text)
        if record is None:
            return  # RemoveImage is idempotent
        del self.records[record["id"]]
        self._save()
        self.collect(layers_in_use)

    def collect(self, layers_in_use: set[str]) -> None:
        """Remove layers and blobs no image record (and no container) uses."""
        wanted = set(layers_in_use)
        for record in self.records.values():
            wanted.update(d.split(":", 1)[1] for d in record["layers"])
            wanted.add(record["id"].split(":", 1)[1])
        for name in os.listdir(self.layers):
            if name not in wanted and not name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.layers, name), ignore_errors=True)
        for name in os.listdir(self.blobs):
            if name not in wanted and not name.endswith(".partial"):
                os.unlink(os.path.join(self.blobs, name))

    def usage(self) -> tuple[int, int]:
        """(bytes, inodes) used by the store."""
        used, inodes = 0, 0
        for directory, dirs, files in os.walk(self.dir):
            for name in dirs + files:
                try:
                    st = os.lstat(os.path.join(directory, name))
                except FileNotFoundError:
                    continue
                used += st.st_blocks * 512
                inodes += 1
        return used, inodes


def _unpack_from(read_fd: int, dest: str, budget: unpack.Budget, layer: str) -> None:
    with open(read_fd, "rb", buffering=0) as f:  # closed when done, so the download's writes fail then
        unpack.unpack_stream(f, dest, budget, layer)


def find_or_raise(store: Store, text: str) -> dict:
    record = store.find(text)
    if record is None:
        raise NotFound(f"image {text!r} not found")
    return record
