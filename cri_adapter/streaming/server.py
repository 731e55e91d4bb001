"""The streaming server: HTTP/1.1 on its own address, upgraded to SPDY/3.1 for a URL that
Exec, Attach or PortForward handed out.

A URL carries a single-use token that expires (kubelet fetches it at once); a reused,
unknown or expired token gets 404, a request that is not an upgrade 400. h11 (sans-I/O)
parses the HTTP request; after the 101 the connection is SPDY (session.py).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time

import h11

from . import portforward, remotecommand, websocket
from .session import Session

log = logging.getLogger("pyruntime-cri")
TOKEN_LIFETIME = 60.0  # seconds: kubelet and crictl use a URL right away
MAX_REQUEST = 64 << 10


class Tokens:
    """Single-use, short-lived tokens: each names one request (its kind and parameters)."""

    def __init__(self, lifetime: float = TOKEN_LIFETIME, clock=time.monotonic):
        self.lifetime, self.clock = lifetime, clock
        self.items: dict[str, tuple[float, str, dict]] = {}

    def issue(self, kind: str, params: dict) -> str:
        now = self.clock()
        self.items = {t: v for t, v in self.items.items() if v[0] > now}  # the expired go
        token = secrets.token_urlsafe(24)
        self.items[token] = (now + self.lifetime, kind, params)
        return token

    def take(self, kind: str, token: str) -> dict | None:
        """The request's parameters, once; None for a token unknown, spent, expired or of another kind."""
        entry = self.items.get(token)
        if entry is None or entry[1] != kind:
            return None
        del self.items[token]
        return entry[2] if entry[0] > self.clock() else None


class Server:
    def __init__(self, address: str, port: int, handlers: dict, tls: tuple[str, str] | None = None):
        """``handlers``: kind ("exec", "attach", "portforward") -> async fn(session, params, version);
        ``tls``: (certificate, key) files, for https URLs."""
        self.address, self.port, self.handlers = address, port, handlers
        self.ssl = None
        if tls:
            import ssl
            self.ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
            self.ssl.load_cert_chain(*tls)
        self.tokens = Tokens()
        self.server: asyncio.base_events.Server | None = None
        self.tasks: set = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, self.address, self.port, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]

    def url(self, kind: str, params: dict) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        scheme = "https" if self.ssl else "http"
        return f"{scheme}://{host}:{self.port}/{kind}/{self.tokens.issue(kind, params)}"

    async def close(self) -> None:
        if self.server:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError, asyncio.TimeoutError,
                OSError) as exc:  # OSError: a TLS handshake that failed, among others
            log.info("streaming: %s", exc)
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _serve(self, reader, writer) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST)
        request = None
        while request is None:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(reader.read(65536), 30)
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE:
                    return
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.ConnectionClosed):
                return
        headers = {}
        for name, value in request.headers:
            headers.setdefault(name.decode().lower(), []).append(value.decode())
        parts = request.target.decode().split("?")[0].strip("/").split("/")

        def refuse(code: int, why: str) -> None:
            body = why.encode() + b"\n"
            writer.write(conn.send(h11.Response(status_code=code, headers=[
                ("content-type", "text/plain"), ("content-length", str(len(body))), ("connection", "close")])))
            writer.write(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))

        if len(parts) != 2 or parts[0] not in self.handlers:
            return refuse(404, "no such stream")
        kind, token = parts
        upgrade = ",".join(headers.get("upgrade", [])).lower()
        if "websocket" in upgrade:
            return await self._websocket(conn, reader, writer, kind, token, headers, refuse)
        if "spdy/3.1" not in upgrade:
            return refuse(400, "this endpoint speaks SPDY/3.1 or WebSocket (an Upgrade request)")
        params = self.tokens.take(kind, token)
        if params is None:
            return refuse(404, "unknown or expired token")
        offered = [p.strip() for v in headers.get("x-stream-protocol-version", []) for p in v.split(",")]
        supported = portforward.PROTOCOLS if kind == "portforward" else remotecommand.PROTOCOLS
        version = next((p for p in offered if p in supported), None)
        if version is None:
            return refuse(403, f"none of the protocols {offered} is supported (have {', '.join(supported)})")
        writer.write(conn.send(h11.InformationalResponse(status_code=101, headers=[
            ("connection", "Upgrade"), ("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", version)])))
        leftover, _ = conn.trailing_data
        await self._run(writer, Session(reader, writer, bytes(leftover)), kind, params, version)

    async def _websocket(self, conn, reader, writer, kind: str, token: str, headers: dict, refuse) -> None:
        """Exec and attach over WebSocket (v5/v4 channel protocols); port-forward as client-go does it over
        WebSocket: its SPDY session tunnelled in binary messages (SPDY/3.1+portforward.k8s.io)."""
        key = (headers.get("sec-websocket-key") or [""])[0]
        if not key or (headers.get("sec-websocket-version") or [""])[0] != "13":
            return refuse(400, "a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version 13")
        offered = [p.strip() for v in headers.get("sec-websocket-protocol", []) for p in v.split(",")]
        supported = ([websocket.TUNNEL_PREFIX + p for p in portforward.PROTOCOLS] if kind == "portforward"
                     else websocket.PROTOCOLS)
        version = next((p for p in offered if p in supported), None)
        if version is None:
            return refuse(403, f"none of the protocols {offered} is supported (have {', '.join(supported)})")
        params = self.tokens.take(kind, token)
        if params is None:
            return refuse(404, "unknown or expired token")
        writer.write(conn.send(h11.InformationalResponse(status_code=101, headers=[
            ("connection", "Upgrade"), ("upgrade", "websocket"), ("sec-websocket-accept", websocket.accept_key(key)),
            ("sec-websocket-protocol", version)])))
        leftover, _ = conn.trailing_data
        if kind == "portforward":
            tunnel = websocket.Tunnel(reader, writer, bytes(leftover))
            session = Session(tunnel, tunnel, b"")
        else:
            session = websocket.Session(reader, writer, bytes(leftover), version, remotecommand.expected(params))
        await self._run(writer, session, kind, params, version)

    async def _run(self, writer, session, kind: str, params: dict, version: str) -> None:
        """After the 101: read the session's frames while the handler serves it, then close it."""
        await writer.drain()
        reading = asyncio.ensure_future(session.run())
        try:
            await self.handlers[kind](session, params, version)
        finally:
            await session.close()
            reading.cancel()
