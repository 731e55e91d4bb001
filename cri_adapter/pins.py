"""A pod's network, ipc and uts namespaces, pinned as files (the idea of CRI-O's pinns).

util-linux's unshare(1) makes the namespaces and bind-mounts each onto its file in
one short process (C, a few ms), so the gRPC process never forks; the pod's host
name is set inside the new uts namespace by the same command. A namespace lives as
long as its pin: containers join it by path, and unpinning (umount + unlink) lets
it go when the last container has left.
"""
from __future__ import annotations

import asyncio
import os

from pyruntime.errors import PyruntimeError
from pyruntime.kernel import mount

from .errors import Internal

KINDS = ("net", "ipc", "uts")


async def pin(directory: str, kinds: tuple[str, ...], hostname: str | None) -> dict[str, str]:
    """Make new namespaces of ``kinds`` pinned at <directory>/<kind>; returns kind -> path."""
    os.makedirs(directory, 0o700, exist_ok=True)
    paths = {kind: os.path.join(directory, kind) for kind in kinds}
    if not paths:
        return {}
    for path in paths.values():
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDONLY | os.O_CLOEXEC, 0o400))
    argv = ["unshare", *(f"--{kind}={path}" for kind, path in paths.items())]
    argv += ["hostname", hostname] if hostname and "uts" in paths else ["true"]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        await unpin(directory)
        raise Internal(f"pinning namespaces in {directory}: {err.decode(errors='replace').strip()}")
    return paths


async def unpin(directory: str) -> None:
    """Release every pin in ``directory`` (those that are already gone are fine)."""
    for kind in KINDS:
        path = os.path.join(directory, kind)
        if not os.path.exists(path):
            continue
        try:
            mount.umount2(path, mount.MNT_DETACH)
        except PyruntimeError:
            pass  # not mounted: a pin that never took
        os.unlink(path)
