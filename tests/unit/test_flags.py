"""Go-style flags, as runc's callers pass them."""
from __future__ import annotations

import pytest

from pyruntime.cli.common import CREATE_FLAGS
from pyruntime.cli.flags import Flag, parse
from pyruntime.errors import UsageError


def test_go_flag_forms():
    opts, args = parse(CREATE_FLAGS, ["-b", "/b", "--pid-file=/p", "-no-pivot", "--preserve-fds", "2", "id"])
    assert opts["bundle"] == "/b" and opts["pid_file"] == "/p" and opts["no_pivot"] is True
    assert opts["preserve_fds"] == 2 and args == ["id"]


def test_parsing_stops_at_first_positional():
    flags = (Flag(("tty", "t")),)
    opts, args = parse(flags, ["-t", "id", "sh", "-c", "echo"])
    assert opts["tty"] is True and args == ["id", "sh", "-c", "echo"]


def test_bool_with_value_and_unknown_flag():
    opts, _ = parse((Flag(("force", "f")),), ["--force=false"])
    assert opts["force"] is False
    with pytest.raises(UsageError, match="flag provided but not defined: -nope"):
        parse((), ["--nope"])
    with pytest.raises(UsageError, match="flag needs an argument: -bundle"):
        parse(CREATE_FLAGS, ["--bundle"])
