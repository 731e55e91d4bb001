"""Users and groups of an image, read from the text of its /etc/passwd and /etc/group.

Pure: the caller reads the files inside the image's root without following links
out (`images.rootfs_file`), and hands the text here. Image files are hostile: a
line that does not parse is skipped, never trusted in part.
"""
from __future__ import annotations

from ..errors import InvalidArgument


def _entries(text: str, fields: int):
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= fields and parts[0] and not line.startswith("#"):
            yield parts


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 11 and int(text) < 2**32 - 1 else None


def lookup_user(passwd: str, name: str) -> tuple[int, int] | None:
    """(uid, gid) of a user name, or None."""
    for parts in _entries(passwd, 7):
        if parts[0] == name:
            uid, gid = _number(parts[2]), _number(parts[3])
            if uid is not None and gid is not None:
                return uid, gid
    return None


def name_of_uid(passwd: str, uid: int) -> tuple[str, int] | None:
    """(name, primary gid) of the first user with this uid, or None."""
    for parts in _entries(passwd, 7):
        if _number(parts[2]) == uid and _number(parts[3]) is not None:
            return parts[0], _number(parts[3])
    return None


def lookup_group(group: str, name: str) -> int | None:
    for parts in _entries(group, 4):
        if parts[0] == name:
            return _number(parts[2])
    return None


def member_groups(group: str, user: str) -> list[int]:
    """Groups that list the user as a member (what login(1) would give them)."""
    gids = []
    for parts in _entries(group, 4):
        gid = _number(parts[2])
        if gid is not None and user in parts[3].split(","):
            gids.append(gid)
    return gids


def resolve(spec: str, passwd: str, group: str, where: str) -> tuple[int, int, str | None]:
    """An image's or a request's user spec ("uid", "name", "uid:gid", "name:group") -> (uid, gid, name)."""
    user, _, grp = spec.partition(":")
    uid = _number(user)
    name = None
    if uid is None:
        found = lookup_user(passwd, user)
        if found is None:
            raise InvalidArgument(f"{where}: user {user!r} is not in the image's /etc/passwd")
        uid, gid = found
        name = user
    else:
        known = name_of_uid(passwd, uid)
        name, gid = known if known else (None, 0)
    if grp:
        gid = _number(grp)
        if gid is None:
            gid = lookup_group(group, grp)
            if gid is None:
                raise InvalidArgument(f"{where}: group {grp!r} is not in the image's /etc/group")
    return uid, gid, name
