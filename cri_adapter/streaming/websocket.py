"""Kubernetes' remote command protocol over WebSocket (v5 and v4 channel protocols), on wsproto.

Each binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 error,
4 resize; v5 adds 255 followed by a channel, which closes that channel (stdin's end).
The channels become stream objects with the SPDY streams' calls, so remotecommand.py
serves both transports alike.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib

from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.utilities import LocalProtocolError, RemoteProtocolError
from wsproto.events import BytesMessage, CloseConnection, Message, Ping

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
CHANNELS = {"stdin": 0, "stdout": 1, "stderr": 2, "error": 3, "resize": 4}
CLOSE = 255
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


async def events(ws: Connection, reader, writer, data: bytes):
    """The connection's WebSocket events, Pings answered; it ends at the client's close or at EOF."""
    try:
        while True:
            if data:
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Ping):
                        writer.write(ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        writer.write(ws.send(event.response()))
                        return
                    else:
                        yield event
            data = await reader.read(65536)
            if not data:
                return
    except (ConnectionError, RemoteProtocolError):
        return


class Channel:
    def __init__(self, session: "Session", name: str):
        self.session, self.name, self.number = session, name, CHANNELS[name]
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.ended = False

    def header(self, name: str) -> str:
        return self.name if name.lower() == "streamtype" else ""

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.incoming.put_nowait(b"")

    async def read(self) -> bytes:
        return await self.incoming.get()

    def write(self, data: bytes, fin: bool = False) -> None:
        if data:
            self.session.send(bytes([self.number]) + data)
        if fin:
            self.close()

    def close(self) -> None:
        if self.session.version.startswith("v5"):
            self.session.send(bytes([CLOSE, self.number]))


class Session:
    def __init__(self, reader, writer, initial: bytes, version: str, wanted: set[str]):
        self.reader, self.writer, self.initial, self.version = reader, writer, initial, version
        self.ws = Connection(ConnectionType.SERVER)
        self.channels = {CHANNELS[name]: Channel(self, name) for name in wanted}
        self.new_streams: asyncio.Queue = asyncio.Queue()
        for channel in self.channels.values():
            self.new_streams.put_nowait(channel)
        self.closed = asyncio.Event()
        self.partial = b""

    def send(self, payload: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(self.ws.send(Message(data=payload)))

    async def drain(self) -> None:
        try:
            await self.writer.drain()
        except ConnectionError:
            self.closed.set()

    async def run(self) -> None:
        try:
            async for event in events(self.ws, self.reader, self.writer, self.initial):
                if isinstance(event, BytesMessage):
                    self._message(event)
        finally:
            self.closed.set()
            for channel in self.channels.values():
                channel._end()
            self.new_streams.put_nowait(None)

    def _message(self, event: BytesMessage) -> None:
        self.partial += event.data
        if not event.message_finished:
            return
        message, self.partial = self.partial, b""
        if not message:
            return
        if message[0] == CLOSE and len(message) == 2 and self.version.startswith("v5"):
            if message[1] in self.channels:
                self.channels[message[1]]._end()
        elif message[0] in self.channels and len(message) > 1:
            self.channels[message[0]].incoming.put_nowait(message[1:])

    async def close(self) -> None:
        if not self.writer.is_closing():
            try:
                self.writer.write(self.ws.send(CloseConnection(code=1000)))
            except LocalProtocolError:  # the client closed first: nothing more to send
                pass
        await self.drain()
        self.writer.close()


TUNNEL_PREFIX = "SPDY/3.1+"  # client-go tunnels port-forward's SPDY inside WebSocket binary messages


class Tunnel:
    """A byte stream carried in WebSocket binary messages, with the reader/writer calls a SPDY
    Session uses (read, write, drain, is_closing, close), so SPDY runs over it unchanged."""

    def __init__(self, reader, writer, initial: bytes):
        self.reader, self.writer = reader, writer
        self.ws = Connection(ConnectionType.SERVER)
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.partial = b""
        self.pump = asyncio.ensure_future(self._pump(initial))

    async def _pump(self, data: bytes) -> None:
        try:
            async for event in events(self.ws, self.reader, self.writer, data):
                if isinstance(event, BytesMessage) and event.data:  # an empty message is no end: b"" below is
                    self.incoming.put_nowait(event.data)
        finally:
            self.incoming.put_nowait(b"")

    async def read(self, n: int = -1) -> bytes:
        return await self.incoming.get()

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(self.ws.send(Message(data=data)))

    def is_closing(self) -> bool:
        return self.writer.is_closing()

    async def drain(self) -> None:
        await self.writer.drain()

    def close(self) -> None:
        if not self.writer.is_closing():
            try:
                self.writer.write(self.ws.send(CloseConnection(code=1000)))
            except LocalProtocolError:
                pass
        self.pump.cancel()
        self.writer.close()
