"""Finding the container program the way execvp does, and HOME for the user."""
from __future__ import annotations

import os
import stat

from pyruntime.errors import PyruntimeError
from pyruntime.safefs import safepath

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


# the image's /etc/passwd is read whole: a bound, so a huge one cannot stall the start
PASSWD_LIMIT = 4 << 20


def home_of(uid: int) -> str:
    """HOME from the image's /etc/passwd, or / (runc sets it when env lacks it).

    The file is the image's, and a running container can rewrite it before an exec:
    only a regular file is read (a FIFO or /dev/zero would block or never end),
    resolved inside the root, at most PASSWD_LIMIT bytes, and parsed as bytes (any
    encoding; a line that does not parse is skipped).
    """
    want = str(uid).encode()
    for line in _read_image_file("/etc/passwd", PASSWD_LIMIT).split(b"\n"):
        parts = line.split(b":")
        if len(parts) >= 6 and parts[2] == want and b"\0" not in parts[5]:
            return os.fsdecode(parts[5]) or "/"
    return "/"


def _read_image_file(path: str, limit: int) -> bytes:
    """A regular file of the current root, up to ``limit`` bytes; b"" when it is anything else."""
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = safepath.open_in_root(root, path, os.O_RDONLY | os.O_NONBLOCK)
    except PyruntimeError:
        return b""
    finally:
        os.close(root)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        chunks, size = [], 0
        while size < limit:
            data = os.read(fd, limit - size)
            if not data:
                break
            chunks.append(data)
            size += len(data)
        return b"".join(chunks)
    finally:
        os.close(fd)
