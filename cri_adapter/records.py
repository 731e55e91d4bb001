"""The adapter's state on disk: one JSON record per pod and per container.

    <root>/pods/<id>/pod.json
    <root>/containers/<id>/container.json     (the bundle lives beside it)

A record is written (atomically, synced) before the thing it describes is made and
updated as it changes, so a restarted adapter rebuilds its view from these, conmon's
exit files and the runtime's state; nothing is kept only in memory.
"""
from __future__ import annotations

import base64
import json
import os
import shutil

from pyruntime.fileio import replace_file

from .errors import AlreadyExists, NotFound


def encode(message) -> str:
    return base64.b64encode(message.SerializeToString()).decode()


def decode(cls, text: str):
    message = cls()
    message.ParseFromString(base64.b64decode(text))
    return message


class Table:
    """Records of one kind, by id, with names unique among them (a pod's, a container's in its pod)."""

    def __init__(self, root: str, kind: str, filename: str):
        self.dir = os.path.join(root, kind)
        self.filename = filename
        self.kind = kind[:-1]
        os.makedirs(self.dir, 0o700, exist_ok=True)
        self.items: dict[str, dict] = {}
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name, filename)
            try:
                with open(path) as f:
                    self.items[name] = json.load(f)
            except (OSError, ValueError):
                # made before its record was written (a crash in between): nothing refers to it
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)

    def path(self, item_id: str) -> str:
        return os.path.join(self.dir, item_id)

    def add(self, record: dict) -> None:
        for other in self.items.values():
            if other["key"] == record["key"]:
                raise AlreadyExists(f"{self.kind} name {record['key']!r} is already in use by {other['id']}")
        os.makedirs(self.path(record["id"]), 0o700)
        self.items[record["id"]] = record
        self.save(record)

    def save(self, record: dict) -> None:
        replace_file(os.path.join(self.path(record["id"]), self.filename),
                     json.dumps(record, sort_keys=True).encode(), 0o600, sync=True)

    def get(self, item_id: str) -> dict:
        """By full id or a unique prefix (crictl passes prefixes)."""
        if item_id in self.items:
            return self.items[item_id]
        matches = [r for i, r in self.items.items() if item_id and i.startswith(item_id)]
        if len(matches) == 1:
            return matches[0]
        if not item_id:
            raise NotFound(f"{self.kind} id is empty")
        if len(matches) > 1:
            raise NotFound(f"{self.kind} id prefix {item_id!r} is ambiguous")
        raise NotFound(f"{self.kind} {item_id!r} not found")

    def find(self, item_id: str) -> dict | None:
        try:
            return self.get(item_id)
        except NotFound:
            return None

    def remove(self, item_id: str) -> None:
        self.items.pop(item_id, None)
        shutil.rmtree(self.path(item_id), ignore_errors=True)
