"""JSON through CPython's C accelerator only, for pyruntime's hot paths.

``import json`` pulls in ``re`` and ``enum`` (~7 ms here) because its pure-Python
fallbacks use regular expressions. The C scanner and encoder in ``_json`` need
neither, so state files, protocol messages and config.json are read and
written with them directly. Errors (rare) fall back to the json module for
its precise messages. Output is compact; pretty printing goes through json.
"""
from __future__ import annotations

import _json

_WS = " \t\n\r"


class _Context:
    """The attributes _json.make_scanner reads from a JSONDecoder."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}


def _constant(name: str):
    return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _whole_as_int(text: str):
    """A number written with a fraction or an exponent that is whole (``0.0``, ``1e3``) is read
    as that integer: our schema (draft 7) counts it as one, and every number in a config is
    an integer the kernel takes (a uid of 0.0 reached setuid() as a float)."""
    value = float(text)
    if not value.is_integer():
        return value
    whole, dot, fraction = text.partition(".")
    if dot and not fraction.rstrip("0") and "e" not in fraction.lower():
        return int(whole)  # exactly, whatever its size (a float would round it)
    return int(value)


class _Strict(_Context):
    """What documents a person wrote are held to (config.json, process.json): JSON's
    literals only (Go, and so runc, refuses NaN), and no key twice (Go would keep the
    last one but report the first one's type error; silently taking either is wrong)."""
    parse_constant = staticmethod(_no_constant)
    object_pairs_hook = staticmethod(_unique_keys)
    parse_float = staticmethod(_whole_as_int)


_Context.parse_constant = staticmethod(_constant)
_scan = _json.make_scanner(_Context)
_scan_strict = _json.make_scanner(_Strict)
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",",
                             False, False, True)


def loads(data: bytes | str, strict: bool = False):
    """A JSON document; ``strict`` for documents a person wrote (see _Strict)."""
    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = (_scan_strict if strict else _scan)(text, start)
    except (StopIteration, ValueError, SystemError):
        # the C scanner reports errors through json.decoder, which we did not import
        # (SystemError "returned NULL"): let the json module find and word the error
        end = -1
    if end < 0 or text[end:].strip(_WS):
        import json  # the slow path, for its error message
        if strict:
            return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys,
                              parse_float=_whole_as_int)
        return json.loads(text)
    return value


def dumps(value) -> str:
    return "".join(_encode(value, 0))


def dumps_indent(value, indent: str = "  ", _level: int = 0) -> str:
    """Go's json.MarshalIndent layout (what `runc state` prints)."""
    pad, inner = indent * _level, indent * (_level + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{dumps(str(k))}: {dumps_indent(v, indent, _level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)) and value:
        items = [f"{inner}{dumps_indent(v, indent, _level + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return dumps(value)
