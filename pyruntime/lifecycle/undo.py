"""Undo: what a failed create must take back, run in reverse when the block fails.

``contextlib.ExitStack`` would do, but importing contextlib (collections,
functools, types...) costs the create path a few milliseconds; this is the
part of it create uses. A cleanup step that fails does not stop the others,
and its error is added to the one the user sees, so neither is lost.
"""
from __future__ import annotations


class Undo:
    """``with Undo() as undo: undo.callback(fn, *args) ... undo.pop_all()`` once all went well."""

    __slots__ = ("_steps",)

    def __init__(self):
        self._steps: list = []

    def callback(self, fn, *args) -> None:
        self._steps.append((fn, args))

    def pop_all(self) -> None:
        """Keep what was made: the block succeeded."""
        self._steps = []

    def __enter__(self) -> "Undo":
        return self

    def __exit__(self, kind, error, tb) -> bool:
        failures = []
        while self._steps:
            fn, args = self._steps.pop()
            try:
                fn(*args)
            except Exception as exc:  # keep undoing: one stuck step must not strand the rest
                failures.append(exc)
        if failures and error is not None:
            from pyruntime.errors import PyruntimeError
            if isinstance(error, PyruntimeError):
                error.message += f" (and undoing it failed: {failures[0]})"
                error.args = (error.message,)
        elif failures:
            raise failures[0]
        return False
