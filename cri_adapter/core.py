"""The adapter's state in one object: config, records, images, network, runtimes.

Everything a servicer needs hangs off `Adapter`; `pods` and `containers` hold the
operations. Built from disk at start (`Adapter.open`), so a restart finds every pod
and container where it was.
"""
from __future__ import annotations

import os
import time

from . import cni, oci, records
from .images.store import Store


def now_ns() -> int:
    return time.time_ns()


class Adapter:
    def __init__(self, config):
        self.config = config
        for d in (config.root, config.state):
            os.makedirs(d, 0o700, exist_ok=True)
        self.exits = os.path.join(config.state, "exits")
        self.sockets = os.path.join(config.state, "attach")
        self.pins = os.path.join(config.state, "pods")
        for d in (self.exits, self.sockets, self.pins):
            os.makedirs(d, 0o700, exist_ok=True)
        self.pods = records.Table(config.root, "pods", "pod.json")
        self.containers = records.Table(config.root, "containers", "container.json")
        self.images = Store(config.root, config)
        self.runtimes = {name: oci.Runtime(name, rt.path, rt.root) for name, rt in config.runtimes.items()}
        self.events: list = []  # queues of GetContainerEvents streams
        self.pod_cidr = ""  # the node's pod CIDR, from kubelet's UpdateRuntimeConfig
        self.watchers: set = set()  # tasks waiting for containers' exits (their STOPPED events)

    def runtime(self, handler: str) -> oci.Runtime:
        name, _ = self.config.runtime(handler)
        return self.runtimes[name]

    def network(self):
        return cni.load(self.config.cni_conf_dir, self.config.cni_bin_dirs)

    def image_user(self, image_id: str) -> str | None:
        """A container that runs ``image_id`` or mounts it as a volume."""
        return next((c["id"] for c in self.containers.items.values()
                     if image_id == c.get("image_ref") or image_id in c.get("image_volumes", {}).values()), None)

    def layers_in_use(self) -> set[str]:
        return {d.split(":", 1)[1] for c in self.containers.items.values() for d in c.get("layers", ())}

    def publish(self, event) -> None:
        for queue in list(self.events):
            queue.put_nowait(event)
        self.watchers = {task for task in self.watchers if not task.done()}
