"""runc-compatible logging: ``--log FILE`` and ``--log-format text|json``.

Entries are logrus-shaped, because containerd's shim reads the last
``level=error`` entry of this file and shows its ``msg`` to Kubernetes users:
    text: time="2026-01-02T03:04:05Z" level=error msg="..."
    json: {"level":"error","msg":"...","time":"2026-01-02T03:04:05Z"}
Without --log, warnings (and with --debug, everything) go to stderr. The
one-line error a user reads on stderr is printed by the CLI in addition (as
runc's fatal() does). Info entries record each lifecycle step in the log
file: a shim's log.json shows pyruntime did the work.
"""
from __future__ import annotations

import os
import sys
import time

from pyruntime.startup import fastjson

_config = {"fd": -1, "format": "text", "debug": False}


def configure(path: str = "", fmt: str = "text", debug: bool = False) -> None:
    """Open --log at once, as runc does: a file it cannot write is an error before any work
    (the caller, e.g. containerd, would otherwise look for our errors there in vain)."""
    _config.update(format=fmt, debug=debug)
    if path:
        try:
            _config["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            from pyruntime.errors import PyruntimeError, describe_errno
            raise PyruntimeError(f"--log {path}: {describe_errno(exc.errno)}") from None


def close_file() -> None:
    """Close --log in a forked child before it enters a container (lifecycle.boundary):
    a container must not reach the host's log file through /proc/<pid>/fd."""
    if _config["fd"] >= 0:
        os.close(_config["fd"])
        _config["fd"] = -1


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def format_entry(level: str, msg: str, fmt: str) -> str:
    if fmt == "json":
        return fastjson.dumps({"level": level, "msg": msg, "time": _now()})
    return f'time="{_now()}" level={level} msg={fastjson.dumps(msg)}'


def emit(level: str, msg: str) -> None:
    if level == "debug" and not _config["debug"]:
        return
    if _config["fd"] < 0 and not _config["debug"] and level != "warning":
        return  # nowhere to go (see below): not even worth formatting
    line = format_entry(level, msg, _config["format"]) + "\n"
    if _config["fd"] >= 0:
        try:
            os.write(_config["fd"], line.encode())
            return
        except OSError:
            pass  # fall back to stderr rather than lose the entry
    # on stderr: warnings always (errors the CLI prints itself, once); info and
    # debug only with --debug, so a plain `run` prints nothing of ours
    if level == "warning" or (_config["debug"] and level != "error"):
        sys.stderr.write(line)


def debugging() -> bool:
    return _config["debug"]


def debug(msg: str) -> None:
    emit("debug", msg)


def info(msg: str) -> None:
    emit("info", msg)


def warning(msg: str) -> None:
    emit("warning", msg)


def error(msg: str) -> None:
    emit("error", msg)
