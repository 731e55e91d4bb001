"""SCMP_ACT_NOTIFY: the listener fd goes to the agent at listenerPath (runc's protocol).

One message on a unix stream socket: the ContainerProcessState JSON
(ociVersion, fds ["seccompFd"], pid, metadata, state) with the notify fd in
SCM_RIGHTS. The parent connects before fork (listenerPath is a host path);
the container process sends once the filter is loaded.
"""
from __future__ import annotations

from pyruntime import fdpass
from pyruntime.startup import fastjson


def connect_listener(path: str) -> int:
    return fdpass.connect(path, "linux.seccomp.listenerPath")


def agent_state(container_id: str, bundle: str, annotations: dict, metadata: str) -> dict:
    """What the agent is told about the container (``host_pid`` is added once known)."""
    return {"id": container_id, "bundle": bundle, "annotations": annotations, "metadata": metadata}


def process_state(state: dict, pid: int) -> bytes:
    from pyruntime import SPEC_VERSION
    return fastjson.dumps({
        "ociVersion": SPEC_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": state.get("metadata", ""),
        "state": {"ociVersion": SPEC_VERSION, "id": state.get("id", ""), "status": "creating",
                  "pid": pid, "bundle": state.get("bundle", ""),
                  "annotations": state.get("annotations", {})},
    }).encode()


def send_listener_fd(sock_fd: int, listener: int, state: dict) -> None:
    fdpass.send(sock_fd, process_state(state, state.get("host_pid", 0)), listener)
