"""SCMP_ACT_NOTIFY: the listener fd goes to the agent at listenerPath (runc's protocol).

One message on a unix stream socket: the ContainerProcessState JSON
(ociVersion, fds ["seccompFd"], pid, metadata, state) with the notify fd in
SCM_RIGHTS. The parent connects before fork (listenerPath is a host path);
the container process sends once the filter is loaded.
"""
from __future__ import annotations

import struct

from pyruntime import fastjson
from pyruntime.errors import PyruntimeError, describe_errno


def connect_listener(path: str) -> int:
    import _socket
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise PyruntimeError(f"linux.seccomp.listenerPath: connect {path}: {describe_errno(exc.errno)}") from None
    return sock.detach()


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
    import _socket
    sock = _socket.socket(fileno=sock_fd)
    try:
        payload = process_state(state, state.get("host_pid", 0))
        sock.sendmsg([payload], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", listener))])
    finally:
        sock.detach()
