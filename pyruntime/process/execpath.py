"""Finding the container program the way execvp does, and HOME for the user."""
from __future__ import annotations

import os

from pyruntime.errors import PyruntimeError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def env_dict(env: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for entry in env:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def lookup(program: str, env: dict[str, str]) -> str:
    """Resolve args[0] in the container (after pivot_root), as Go's exec.LookPath in runc."""
    if "/" in program:
        candidates = [program]
    else:
        path = env.get("PATH", DEFAULT_PATH)
        candidates = [os.path.join(d or ".", program) for d in path.split(":")]
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not os.path.isdir(candidate) and st.st_mode & 0o111:
            return candidate
    if "/" in program:
        raise PyruntimeError(f"process.args[0]: {program}: no such executable file in the container")
    raise PyruntimeError(f"process.args[0]: executable file {program!r} not found in $PATH")


def home_of(uid: int) -> str:
    """HOME from the container's /etc/passwd, or / (runc sets it when env lacks it)."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[5] or "/"
    except OSError:
        pass
    return "/"
