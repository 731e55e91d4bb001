"""checkpoint/restore: not implemented (CRIU integration is out of scope for now)."""
from __future__ import annotations

from pyruntime.errors import PyruntimeError


def run(ctx, verb: str, argv: list[str]) -> int:
    raise PyruntimeError(f"{verb} is not supported by pyruntime (no CRIU integration)")
