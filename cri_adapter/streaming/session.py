"""One upgraded SPDY connection: frames in and out, streams by id, what a handler waits on."""
from __future__ import annotations

import asyncio
import logging

from . import spdy

log = logging.getLogger("pyruntime-cri")


class Stream:
    def __init__(self, session: "Session", stream_id: int, headers: dict[str, list[str]], fin: bool):
        self.session, self.id, self.headers = session, stream_id, headers
        self.incoming: asyncio.Queue = asyncio.Queue()  # bytes; b"" at the client's FIN
        self.closed_by_peer = False
        if fin:
            self._end()

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    def _end(self) -> None:
        if not self.closed_by_peer:
            self.closed_by_peer = True
            self.incoming.put_nowait(b"")

    async def read(self) -> bytes:
        """The next chunk the client sent; b"" once it closed its side."""
        return await self.incoming.get()

    def write(self, data: bytes, fin: bool = False) -> None:
        self.session.send(self.session.conn.data(self.id, data, fin))

    def close(self) -> None:
        self.write(b"", fin=True)


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, initial: bytes):
        self.reader, self.writer = reader, writer
        self.conn = spdy.Connection()
        self.streams: dict[int, Stream] = {}
        self.new_streams: asyncio.Queue = asyncio.Queue()  # Stream, or None when the connection ends
        self.closed = asyncio.Event()
        self.initial = initial

    def send(self, frame: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame)

    async def drain(self) -> None:
        try:
            await self.writer.drain()
        except ConnectionError:
            self.closed.set()

    async def run(self) -> None:
        """Read frames until the client goes away; new streams are handed out on ``new_streams``."""
        try:
            data = self.initial
            while True:
                for event in self.conn.receive(data):
                    self._dispatch(event)
                data = await self.reader.read(65536)
                if not data:
                    break
        except (spdy.ProtocolError, ConnectionError) as exc:
            log.info("streaming: dropping a connection: %s", exc)
        finally:
            self.closed.set()
            for stream in self.streams.values():
                stream._end()
            self.new_streams.put_nowait(None)

    def _dispatch(self, event) -> None:
        if isinstance(event, spdy.SynStream):
            if event.stream_id in self.streams or not event.stream_id % 2:
                self.send(self.conn.rst_stream(event.stream_id, spdy.RST_PROTOCOL_ERROR))
                return
            stream = Stream(self, event.stream_id, event.headers, event.fin)
            self.streams[event.stream_id] = stream
            self.send(self.conn.syn_reply(event.stream_id))
            self.new_streams.put_nowait(stream)
        elif isinstance(event, spdy.Data):
            stream = self.streams.get(event.stream_id)
            if stream is None:
                self.send(self.conn.rst_stream(event.stream_id, spdy.RST_PROTOCOL_ERROR))
                return
            if event.data:
                stream.incoming.put_nowait(event.data)
            if event.fin:
                stream._end()
        elif isinstance(event, spdy.RstStream):
            if event.stream_id in self.streams:
                self.streams[event.stream_id]._end()
        elif isinstance(event, spdy.Ping):
            self.send(self.conn.ping(event.ping_id))
        elif isinstance(event, spdy.GoAway):
            self.closed.set()

    async def close(self) -> None:
        self.send(self.conn.goaway(max(self.streams, default=0)))
        await self.drain()
        self.writer.close()
