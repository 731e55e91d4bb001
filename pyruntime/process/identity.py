"""Becoming the container user: groups, gid, uid, umask."""
from __future__ import annotations

import os

from pyruntime.errors import from_oserror
from pyruntime.kernel import proc
from pyruntime.model.config import User


def become(user: User, caps_after) -> None:
    """setgroups/setresgid/setresuid keeping permitted caps, then ``caps_after()``."""
    proc.prctl(proc.PR_SET_KEEPCAPS, 1)
    try:
        os.setgroups(list(user.additional_gids))
    except PermissionError as exc:
        # a user namespace whose maps an unprivileged runtime wrote has setgroups
        # denied: the groups it started with stay (runc's rule), unless some were asked for
        if user.additional_gids:
            raise from_oserror(exc, "setgroups").within(
                "process.user.additionalGids (setgroups is denied in a rootless user namespace)") from None
    except OSError as exc:
        raise from_oserror(exc, "setgroups").within("process.user.additionalGids") from None
    try:
        os.setresgid(user.gid, user.gid, user.gid)
    except OSError as exc:
        raise from_oserror(exc, "setresgid").within("process.user.gid") from None
    try:
        os.setresuid(user.uid, user.uid, user.uid)
    except OSError as exc:
        raise from_oserror(exc, "setresuid").within("process.user.uid") from None
    proc.prctl(proc.PR_SET_KEEPCAPS, 0)
    caps_after()
    os.umask(0o022 if user.umask is None else user.umask)
