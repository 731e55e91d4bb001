"""What /proc says about a pid: its start time (to detect reuse) and whether it lives."""
from __future__ import annotations

from pyruntime.fileio import read_bytes


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if the pid is gone.

    The name is in parentheses and may itself contain spaces or ')', so split
    after the last ')'. Index 0 is then field 3 (state) of proc(5).
    """
    try:
        raw = read_bytes(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(b")") + 2:].decode().split()


def start_time(pid: int) -> int | None:
    """Field 22 (starttime, in clock ticks since boot); None if the pid is gone."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int, started: int | None) -> bool:
    """True when pid exists, is not a zombie and is the same process that was recorded."""
    if pid <= 0:
        return False
    fields = stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == started
