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
import contextlib
import json
import os
import shutil

from pyruntime.fileio import replace_file

from ..errors import CRIError, NotFound
from . import reference
from .credentials import Credentials
from .puller import Puller


class Store:
    def __init__(self, root: str, config):
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
        # blobs and layers are fetched by a worker process (see worker.py for why)
        self.puller = Puller({"root": root, "registry_timeout": config.registry_timeout,
                              "registry_config_path": config.registry_config_path,
                              "registry_auth_file": config.registry_auth_file, "log_level": config.log_level},
                             config.pull_worker_idle)
        self.pulls: dict[str, asyncio.Future] = {}

    def _sweep(self) -> None:
        """Remove what a crash left under a temporary name (a worker of the crashed daemon may be
        removing it too, as it ends)."""
        for d in (self.blobs, self.layers):
            for name in os.listdir(d):
                if name.endswith(".partial") or name.startswith(".tmp-"):
                    path = os.path.join(d, name)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(path)

    def _save(self) -> None:
        replace_file(self.records_path, json.dumps(self.records, sort_keys=True).encode(), 0o600, sync=True)

    async def close(self) -> None:
        await self.puller.close()

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
        try:
            record = self._record(ref, await self.puller.fetch(key, creds))
            future.set_result(record)
            return record
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self.pulls[key]

    def _record(self, ref, fetched: dict) -> dict:
        """The image record for what the worker fetched (its files are in the store by now)."""
        config_desc, layers = fetched["config"], fetched["layers"]
        image_id = config_desc["digest"]
        record = self.records.get(image_id)
        if record is None:
            with open(os.path.join(self.blobs, image_id[len("sha256:"):]), "rb") as f:
                image_config = json.load(f)
            record = {"id": image_id, "repo_tags": [], "repo_digests": [],
                      "layers": [layer["digest"] for layer in layers],
                      "size": sum(layer.get("size", 0) for layer in layers) + config_desc["size"],
                      "config": image_config.get("config") or {},
                      "user": (image_config.get("config") or {}).get("User", "")}
        if ref.tag:
            for other in self.records.values():  # a tag names one image
                if str(ref) in other["repo_tags"]:
                    other["repo_tags"].remove(str(ref))
            record["repo_tags"].append(str(ref))
        by_digest = f"{ref.name}@{fetched['digest']}"
        if by_digest not in record["repo_digests"]:
            record["repo_digests"].append(by_digest)
        self.records[image_id] = record
        self._save()
        return record

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


def find_or_raise(store: Store, text: str) -> dict:
    record = store.find(text)
    if record is None:
        raise NotFound(f"image {text!r} not found")
    return record
