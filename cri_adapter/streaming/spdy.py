"""SPDY/3.1 framing, sans-I/O: bytes in, events out; calls in, bytes out.

No maintained Python SPDY library exists; Kubernetes' streaming (client-go's
spdystream) uses only a small part of the protocol, which is what is here:
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
WINDOW_UPDATE and data frames, with header blocks compressed by zlib primed with
SPDY/3's dictionary (one compression context per direction, for the connection).
A frame whose length is wrong, or a header block that is too big or does not
inflate, is a ProtocolError: the caller drops the connection.
"""
from __future__ import annotations

import dataclasses
import struct
import zlib

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_FRAME = 1 << 20      # client-go sends frames of 32 KiB at most: a larger one is an attack
MAX_HEADERS = 256 << 10  # an inflated header block larger than this is refused
RST_PROTOCOL_ERROR, RST_REFUSED_STREAM, RST_CANCEL, RST_INTERNAL_ERROR = 1, 3, 5, 6

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from "
    "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status").split() + [
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
# SPDY/3's header dictionary: length-prefixed common header names and values, then common text
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    pass


@dataclasses.dataclass
class SynStream:
    stream_id: int
    headers: dict[str, list[str]]
    fin: bool


@dataclasses.dataclass
class Data:
    stream_id: int
    data: bytes
    fin: bool


@dataclasses.dataclass
class RstStream:
    stream_id: int
    status: int


@dataclasses.dataclass
class Ping:
    ping_id: int


@dataclasses.dataclass
class GoAway:
    last_stream_id: int


@dataclasses.dataclass
class Other:
    """A frame that needs no action here (SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY)."""
    frame_type: int


class Connection:
    """One SPDY session, server side."""

    def __init__(self):
        self.buffer = bytearray()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                        DICTIONARY)

    # bytes in -> events ---------------------------------------------------------------------
    def receive(self, data: bytes) -> list:
        self.buffer += data
        events = []
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[5:8], "big")
            if length > MAX_FRAME:
                raise ProtocolError(f"frame of {length} bytes")
            if len(self.buffer) < 8 + length:
                break
            frame, self.buffer = bytes(self.buffer[:8 + length]), self.buffer[8 + length:]
            events.append(self._frame(frame))
        return events

    def _frame(self, frame: bytes):
        flags, body = frame[4], frame[8:]
        if not frame[0] & 0x80:  # a data frame
            stream_id = int.from_bytes(frame[0:4], "big") & 0x7FFFFFFF
            return Data(stream_id, body, bool(flags & FLAG_FIN))
        version = int.from_bytes(frame[0:2], "big") & 0x7FFF
        kind = int.from_bytes(frame[2:4], "big")
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version}")
        if kind == SYN_STREAM:
            if len(body) < 10:
                raise ProtocolError("short SYN_STREAM")
            stream_id = int.from_bytes(body[0:4], "big") & 0x7FFFFFFF
            return SynStream(stream_id, self._headers(body[10:]), bool(flags & FLAG_FIN))
        if kind in (SYN_REPLY, HEADERS):
            if len(body) < 4:
                raise ProtocolError("short header frame")
            self._headers(body[4:])  # keeps the shared inflate context in step
            return Other(kind)
        if kind == RST_STREAM:
            if len(body) != 8:
                raise ProtocolError("RST_STREAM of the wrong length")
            stream_id, status = struct.unpack(">II", body)
            return RstStream(stream_id & 0x7FFFFFFF, status)
        if kind == PING:
            if len(body) != 4:
                raise ProtocolError("PING of the wrong length")
            return Ping(int.from_bytes(body, "big"))
        if kind == GOAWAY:
            if len(body) != 8:
                raise ProtocolError("GOAWAY of the wrong length")
            return GoAway(int.from_bytes(body[0:4], "big") & 0x7FFFFFFF)
        if kind == WINDOW_UPDATE and len(body) != 8:
            raise ProtocolError("WINDOW_UPDATE of the wrong length")
        return Other(kind)

    def _headers(self, block: bytes) -> dict[str, list[str]]:
        try:
            raw = self.inflate.decompress(block, MAX_HEADERS + 1)
        except zlib.error as exc:
            raise ProtocolError(f"header block: {exc}") from None
        if len(raw) > MAX_HEADERS or self.inflate.unconsumed_tail:
            raise ProtocolError("header block too large")
        headers: dict[str, list[str]] = {}
        try:
            count, at = struct.unpack_from(">I", raw)[0], 4
            for _ in range(count):
                n = struct.unpack_from(">I", raw, at)[0]
                name = raw[at + 4:at + 4 + n].decode()
                at += 4 + n
                n = struct.unpack_from(">I", raw, at)[0]
                value = raw[at + 4:at + 4 + n].decode()
                at += 4 + n
                if at > len(raw):
                    raise ProtocolError("header block shorter than it says")
                headers.setdefault(name.lower(), []).extend(value.split("\0"))
        except (struct.error, UnicodeDecodeError) as exc:
            raise ProtocolError(f"header block: {exc}") from None
        return headers

    # calls -> bytes out ----------------------------------------------------------------------
    def _control(self, kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, flags << 24 | len(body)) + body

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.lower().encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0,
                             struct.pack(">I", stream_id) + self._block(headers or {}))

    def syn_stream(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
        """(Used by tests, which play the client.)"""
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0,
                             struct.pack(">IIH", stream_id, 0, 0) + self._block(headers))

    def data(self, stream_id: int, data: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream_id & 0x7FFFFFFF, (FLAG_FIN if fin else 0) << 24 | len(data)) + data

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
