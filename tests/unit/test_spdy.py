"""The SPDY/3.1 framer of the streaming server (cri_adapter/streaming/spdy.py): frames a real client
(crictl v1.37's client-go) sent, round trips, and hostile input refused."""
from __future__ import annotations

import hashlib
import os
import struct
import zlib

import pytest

from cri_adapter.streaming import spdy

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def test_dictionary_is_spdy3s():
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == \
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


def test_frames_captured_from_crictl_exec():
    """`crictl exec -i` (stdin "input\\n"): the error, stdin, stdout and stderr streams, then stdin and its end."""
    with open(os.path.join(DATA, "spdy-client-exec.bin"), "rb") as f:
        captured = f.read()
    conn = spdy.Connection()
    events = []
    for i in range(0, len(captured), 7):  # fed in pieces, as TCP may deliver them
        events += conn.receive(captured[i:i + 7])
    assert [(e.stream_id, e.headers["streamtype"]) for e in events if isinstance(e, spdy.SynStream)] == \
        [(1, ["error"]), (3, ["stdin"]), (5, ["stdout"]), (7, ["stderr"])]
    assert [(e.stream_id, e.data, e.fin) for e in events if isinstance(e, spdy.Data)] == \
        [(3, b"input\n", False), (3, b"", True)]


def test_round_trip_between_two_connections():
    client, server = spdy.Connection(), spdy.Connection()
    wire = client.syn_stream(1, {"streamType": "data", "port": "80", "requestID": "0"}) \
        + client.data(1, b"GET /", fin=True) + client.ping(7) + client.rst_stream(1, spdy.RST_CANCEL) \
        + client.goaway(1)
    events = server.receive(wire)
    assert events[0] == spdy.SynStream(1, {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}, False)
    assert events[1:] == [spdy.Data(1, b"GET /", True), spdy.Ping(7), spdy.RstStream(1, spdy.RST_CANCEL),
                          spdy.GoAway(1)]
    # the server's replies parse on the other side too (one zlib context per direction)
    assert client.receive(server.syn_reply(1) + server.syn_reply(3)) == [spdy.Other(spdy.SYN_REPLY)] * 2


def _control(kind: int, body: bytes, version: int = 3) -> bytes:
    return struct.pack(">HHI", 0x8000 | version, kind, len(body)) + body


@pytest.mark.parametrize("frame, message", [
    (_control(spdy.PING, b"\0\0\0\1\0"), "PING of the wrong length"),
    (_control(spdy.RST_STREAM, b"\0\0\0\1"), "RST_STREAM of the wrong length"),
    (_control(spdy.GOAWAY, b""), "GOAWAY of the wrong length"),
    (_control(spdy.SYN_STREAM, b"\0\0\0\1"), "short SYN_STREAM"),
    (_control(spdy.PING, b"\0\0\0\1", version=2), "SPDY version 2"),
    (struct.pack(">II", 1, 2 << 20), "frame of"),
    (_control(spdy.SYN_STREAM, b"\0\0\0\1\0\0\0\0\0\0" + b"not zlib at all"), "header block"),
])
def test_malformed_frames_are_protocol_errors(frame, message):
    with pytest.raises(spdy.ProtocolError, match=message):
        spdy.Connection().receive(frame)


def test_a_header_block_that_inflates_too_far_is_refused():
    bomb = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    block = bomb.compress(struct.pack(">I", 1) + struct.pack(">I", 4) + b"name" + struct.pack(">I", 8 << 20)
                          + b"\0" * (8 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(block) < 16 << 10  # a few KiB on the wire
    with pytest.raises(spdy.ProtocolError, match="too large"):
        spdy.Connection().receive(_control(spdy.SYN_STREAM, b"\0\0\0\1\0\0\0\0\0\0" + block))


def test_a_header_block_shorter_than_it_says_is_refused():
    deflate = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    block = deflate.compress(struct.pack(">I", 3) + struct.pack(">I", 2) + b"ab") + deflate.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(spdy.ProtocolError):
        spdy.Connection().receive(_control(spdy.SYN_STREAM, b"\0\0\0\1\0\0\0\0\0\0" + block))


def test_a_partial_frame_waits_for_the_rest():
    conn = spdy.Connection()
    frame = spdy.Connection().data(5, b"hello")
    assert conn.receive(frame[:6]) == []
    assert conn.receive(frame[6:]) == [spdy.Data(5, b"hello", False)]


def test_streaming_tokens_are_single_use_short_lived_and_of_one_kind():
    from cri_adapter.streaming.server import Tokens
    now = [100.0]
    tokens = Tokens(lifetime=60, clock=lambda: now[0])
    a = tokens.issue("exec", {"container_id": "a"})
    assert tokens.take("attach", a) is None          # a token for another kind of request
    assert tokens.take("exec", a) == {"container_id": "a"}
    assert tokens.take("exec", a) is None            # spent
    b = tokens.issue("exec", {"container_id": "b"})
    now[0] += 61
    assert tokens.take("exec", b) is None            # expired
    assert tokens.take("exec", "forged") is None
