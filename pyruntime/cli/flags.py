"""Command-line flags with Go's (and so runc's) rules.

Written here rather than with argparse because callers rely on Go semantics
argparse does not have: ``-flag`` and ``--flag`` are the same, ``-b`` and
``-bundle`` both work, booleans take ``=false``, and parsing stops at the first
positional argument (``exec ID sh -c ...`` must keep ``-c``). It also keeps
argparse's import off the start-up path.
"""
from __future__ import annotations

from pyruntime.errors import UsageError


class Flag:
    """One flag: its names (the first is canonical), kind (bool|str|int|list), default.

    A plain class, not a dataclass: every command builds these, and the
    quick ones (start, state, kill, delete) should not pay for dataclasses.
    """

    __slots__ = ("names", "kind", "default", "help", "key")

    def __init__(self, names: tuple[str, ...], kind: str = "bool", default=None, help: str = ""):
        self.names, self.kind, self.default, self.help = names, kind, default, help
        self.key = names[0].replace("-", "_")


TRUE = {"1", "t", "T", "true", "TRUE", "True"}
FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def parse(flags: tuple[Flag, ...], argv: list[str], where: str = "") -> tuple[dict, list[str]]:
    """Returns (values by key, positional arguments)."""
    by_name = {name: f for f in flags for name in f.names}
    values = {f.key: (list(f.default or []) if f.kind == "list" else f.default) for f in flags}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return values, argv[i + 1:]
        if not arg.startswith("-") or arg == "-":
            return values, argv[i:]
        name, eq, value = arg.lstrip("-").partition("=")
        flag = by_name.get(name)
        if flag is None:
            if name in ("h", "help"):
                raise UsageError(f"usage: pyruntime {where} [options] ...".replace("  ", " "))
            raise UsageError(f"flag provided but not defined: -{name}" + (f" (pyruntime {where})" if where else ""))
        if flag.kind == "bool":
            if eq:
                if value not in TRUE | FALSE:
                    raise UsageError(f"invalid boolean value {value!r} for -{name}")
                values[flag.key] = value in TRUE
            else:
                values[flag.key] = True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
            if flag.kind == "int":
                try:
                    value = int(value, 0)
                except ValueError:
                    raise UsageError(f"invalid value {value!r} for flag -{name}: expected an integer") from None
            if flag.kind == "list":
                values[flag.key].append(value)
            else:
                values[flag.key] = value
        i += 1
    return values, []


def need_args(args: list[str], count: int, usage: str, exact: bool = True) -> None:
    if len(args) < count or (exact and len(args) > count):
        what = "exactly" if exact else "at least"
        raise UsageError(f"\"{usage}\" requires {what} {count} argument(s), got {len(args)}")
