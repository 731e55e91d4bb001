"""ttrpc, containerd's RPC between it and its shims: 10-byte frames over a unix socket.

A frame is a big-endian length (4 bytes), stream id (4), type (1: request, 2: response) and
flags (1), then a Request or Response message (spec/shim/task.proto; containerd_shim/wire.py). Only unary calls exist
in the task API. Status codes are gRPC's; containerd turns them back into its errdefs.
"""
from __future__ import annotations

import socket
import struct
import threading

from . import wire

HEADER = struct.Struct(">IIBB")
REQUEST, RESPONSE = 1, 2
MAX_DATA = 4 << 20

# gRPC status codes containerd's errdefs map from
INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, UNIMPLEMENTED, UNKNOWN = 3, 5, 6, 9, 12, 2


class RpcError(Exception):
    """A call's failure, as the status the caller receives."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _read_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def read_frame(conn: socket.socket) -> tuple[int, int, bytes]:
    length, stream, kind, _flags = HEADER.unpack(_read_exact(conn, HEADER.size))
    if length > MAX_DATA:
        raise EOFError  # a peer that breaks the protocol loses its connection
    return stream, kind, _read_exact(conn, length)


def write_frame(conn: socket.socket, lock: threading.Lock, stream: int, kind: int, data: bytes) -> None:
    with lock:
        conn.sendall(HEADER.pack(len(data), stream, kind, 0) + data)


class Server:
    """Serves ``handlers`` ({(service, method): (request type, function)}) on a listening socket:
    a thread per connection, and one per call, since Wait blocks until a process exits."""

    def __init__(self, listener: socket.socket, handlers: dict):
        self.listener, self.handlers = listener, handlers

    def serve_forever(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        lock = threading.Lock()
        try:
            while True:
                stream, kind, data = read_frame(conn)
                if kind == REQUEST:
                    threading.Thread(target=self._call, args=(conn, lock, stream, data), daemon=True).start()
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def _call(self, conn: socket.socket, lock: threading.Lock, stream: int, data: bytes) -> None:
        request = wire.Request.FromString(data)
        response = wire.Response()
        entry = self.handlers.get((request.service, request.method))
        then = None  # what a call does once its answer is sent (Shutdown: exit)
        try:
            if entry is None:
                raise RpcError(UNIMPLEMENTED, f"{request.service}/{request.method} is not implemented")
            kind, function = entry
            result = function(kind.FromString(request.payload))
            if isinstance(result, tuple):
                result, then = result
            response.payload = result.SerializeToString()
        except RpcError as exc:
            response.status = wire.RpcStatus(code=exc.code, message=exc.message)
        except Exception as exc:  # a bug must reach the caller as a status, not end the shim
            response.status = wire.RpcStatus(code=UNKNOWN, message=f"{type(exc).__name__}: {exc}")
        try:
            write_frame(conn, lock, stream, RESPONSE, response.SerializeToString())
        except OSError:
            pass  # the caller went away
        if then is not None:
            then()


class Client:
    """Unary calls on one connection, one at a time (the shim's event publisher)."""

    def __init__(self, path: str):
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.conn.connect(path)
        self.lock, self.stream = threading.Lock(), 1

    def call(self, service: str, method: str, message) -> bytes:
        request = wire.Request(service=service, method=method, payload=message.SerializeToString())
        stream, self.stream = self.stream, self.stream + 2  # client streams are odd
        write_frame(self.conn, self.lock, stream, REQUEST, request.SerializeToString())
        while True:
            got, kind, data = read_frame(self.conn)
            if kind == RESPONSE and got == stream:
                break
        response = wire.Response.FromString(data)
        if response.status is not None and response.status.code:
            raise RpcError(response.status.code, response.status.message)
        return response.payload

    def close(self) -> None:
        self.conn.close()
