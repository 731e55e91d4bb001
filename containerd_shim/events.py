"""Task events, forwarded to containerd (Events/Forward on its ttrpc socket) in the order they
happen, by one thread: CRI reads a container's OOM before its exit because they arrive so."""
from __future__ import annotations

import queue
import threading
import time

from google.protobuf import any_pb2, timestamp_pb2

from ._proto import events_pb2 as ev
from ._proto import task_pb2 as pb
from .ttrpc import Client

SERVICE = "containerd.services.events.ttrpc.v1.Events"
TOPICS = {ev.TaskCreate: "/tasks/create", ev.TaskStart: "/tasks/start", ev.TaskExit: "/tasks/exit",
          ev.TaskDelete: "/tasks/delete", ev.TaskOOM: "/tasks/oom", ev.TaskExecAdded: "/tasks/exec-added",
          ev.TaskExecStarted: "/tasks/exec-started", ev.TaskPaused: "/tasks/paused",
          ev.TaskResumed: "/tasks/resumed"}
ATTEMPTS = 5


def timestamp(when: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(when * 1e9))
    return ts


class Publisher:
    def __init__(self, address: str, namespace: str):
        self.address, self.namespace = address, namespace
        self.queue: queue.Queue = queue.Queue()
        self.client: Client | None = None
        threading.Thread(target=self._loop, daemon=True).start()

    def publish(self, event) -> None:
        # containerd's typeurl names a message by its full name alone (no type.googleapis.com/)
        envelope = pb.Envelope(timestamp=timestamp(time.time()), namespace=self.namespace,
                               topic=TOPICS[type(event)],
                               event=any_pb2.Any(type_url=event.DESCRIPTOR.full_name,
                                                 value=event.SerializeToString()))
        self.queue.put(pb.ForwardRequest(envelope=envelope))

    def _loop(self) -> None:
        while True:
            request = self.queue.get()
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
