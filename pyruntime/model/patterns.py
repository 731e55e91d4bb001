"""The string patterns of spec/config.schema.json as plain functions, for the parser (model.parse).

They replace Python's ``re``: with its compiler it costs the create path about 5 ms, an
eighth of a container start. The schema's patterns are few and simple, so each is written
out here; tests/unit/test_patterns.py checks that every pattern of the schema has its
function and that each agrees with ``re`` on many strings. The whole string must match
(``$`` as ``\\Z``: no trailing newline). PYRUNTIME_PATTERNS=re runs ``re`` instead.
"""
from __future__ import annotations

import os

DIGITS = frozenset("0123456789")
UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
SEMVER_IDENT = DIGITS | UPPER | frozenset("abcdefghijklmnopqrstuvwxyz.-")


class Pattern:
    """A schema pattern and its function: ``.search(text)`` is truthy when text matches, as with ``re``."""

    __slots__ = ("search", "source")

    def __init__(self, source: str, matches):
        self.source = source
        self.search = lambda text: True if matches(text) else None

    def __repr__(self) -> str:
        return f"Pattern({self.source!r})"


def _digits(text: str) -> bool:
    return bool(text) and set(text) <= DIGITS


def semver(text: str) -> bool:
    """^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$"""
    head, plus, build = text.partition("+")
    if plus and not (build and set(build) <= SEMVER_IDENT):
        return False
    core, dash, pre = head.partition("-")
    if dash and not (pre and set(pre) <= SEMVER_IDENT):
        return False
    parts = core.split(".")
    return len(parts) == 3 and all(_digits(p) for p in parts)


def page_size(text: str) -> bool:
    """^[1-9][0-9]*[KMG]B$"""
    return (len(text) >= 3 and text[0] in "123456789" and text[-2:] in ("KB", "MB", "GB")
            and set(text[1:-2]) <= DIGITS)


REGEX_PATTERNS = {p.source: p for p in (
    Pattern("^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$", semver),
    Pattern("^MB:[^\\n]*$", lambda t: t.startswith("MB:") and "\n" not in t),
    Pattern("^[1-9][0-9]*[KMG]B$", page_size),
    Pattern("^[abcu]?$", lambda t: t in ("", "a", "b", "c", "u")),
    Pattern("^[rwm]*$", lambda t: set(t) <= {"r", "w", "m"}),
    Pattern("^[cbup]$", lambda t: t in ("c", "b", "u", "p")),
    Pattern("^RLIMIT_[A-Z]+$", lambda t: t.startswith("RLIMIT_") and len(t) > 7 and set(t[7:]) <= UPPER),
    Pattern("^[0-9, -]*$", lambda t: set(t) <= DIGITS | {",", " ", "-"}),
)}

if os.environ.get("PYRUNTIME_PATTERNS") == "re":
    # the standard module in place of the functions, for a whole command (a test compares the two)
    import re
    REGEX_PATTERNS = {source: re.compile(source[:-1] + "\\Z") for source in REGEX_PATTERNS}
