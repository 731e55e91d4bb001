"""Task events, forwarded to containerd (Events/Forward on its ttrpc socket) in the order they
happen, by one thread: CRI reads a container's OOM before its exit because they arrive so."""
from __future__ import annotations

import queue
import threading
import time

from . import wire
from .ttrpc import Client

SERVICE = "containerd.services.events.ttrpc.v1.Events"
TOPICS = {wire.TaskCreate: "/tasks/create", wire.TaskStart: "/tasks/start", wire.TaskExit: "/tasks/exit",
          wire.TaskDelete: "/tasks/delete", wire.TaskOOM: "/tasks/oom", wire.TaskExecAdded: "/tasks/exec-added",
          wire.TaskExecStarted: "/tasks/exec-started", wire.TaskPaused: "/tasks/paused",
          wire.TaskResumed: "/tasks/resumed"}
ATTEMPTS = 5


class Publisher:
    def __init__(self, address: str, namespace: str):
        self.address, self.namespace = address, namespace
        self.queue: queue.Queue = queue.Queue()
        self.client: Client | None = None
        threading.Thread(target=self._loop, daemon=True).start()

    def publish(self, event) -> None:
        envelope = wire.Envelope(timestamp=wire.timestamp(time.time()), namespace=self.namespace,
                                 topic=TOPICS[type(event)], event=wire.pack(event))
        self.queue.put(wire.ForwardRequest(envelope=envelope))

    def close(self) -> None:
        """After the events queued so far."""
        self.queue.put(None)

    def _loop(self) -> None:
        while True:
            request = self.queue.get()
            if request is None:
                if self.client is not None:
                    self.client.close()
                return
            for attempt in range(ATTEMPTS):
                try:
                    if self.client is None:
                        self.client = Client(self.address)
                    self.client.call(SERVICE, "Forward", request)
                    break
                except (OSError, EOFError):
                    if self.client is not None:
                        self.client.close()
                    self.client = None
                    time.sleep(0.1 * 2 ** attempt)  # containerd restarting: back off, as the runc shim does
                except Exception:
                    break  # refused by containerd: later events must still go
