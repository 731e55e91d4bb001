"""The process of a container: args, env, working directory and user, as Kubernetes merges them."""
from __future__ import annotations

from ..errors import InvalidArgument
from . import userdb

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def args(command, arguments, image: dict) -> list[str]:
    """Kubernetes' rule: command replaces the image's Entrypoint (and drops its Cmd); args replace Cmd."""
    entrypoint, cmd = list(image.get("Entrypoint") or ()), list(image.get("Cmd") or ())
    if command:
        out = list(command) + list(arguments)
    else:
        out = entrypoint + (list(arguments) if arguments else cmd)
    if not out:
        raise InvalidArgument("command: none given and the image has no Entrypoint or Cmd")
    return out


def env(envs, image: dict) -> list[str]:
    """The image's environment, then the request's; a later key replaces an earlier one in place."""
    merged: dict[str, str] = {}
    for item in image.get("Env") or ():
        key, sep, value = item.partition("=")
        if sep:
            merged[key] = value
    for kv in envs:
        if not kv.key or "=" in kv.key:
            raise InvalidArgument(f"envs: bad variable name {kv.key!r}")
        value = kv.value
        if isinstance(value, bytes):  # our proto's KeyValue.value is bytes on the wire (as upstream's)
            try:
                value = value.decode()
            except UnicodeDecodeError:
                raise InvalidArgument(f"envs: {kv.key}: the value is not UTF-8") from None
        merged[kv.key] = value
    if "PATH" not in merged:
        merged["PATH"] = DEFAULT_PATH.partition("=")[2]
    return [f"{k}={v}" for k, v in merged.items()]


def user(ctx, pod_ctx, image: dict, passwd: str, group: str) -> dict:
    """process.user: the request's uid/username/gid, else the image's User, else root; plus groups."""
    where = "linux.security_context"
    if ctx is not None and ctx.HasField("run_as_group") and not (ctx.HasField("run_as_user") or ctx.run_as_username):
        raise InvalidArgument(f"{where}.run_as_group: a group needs run_as_user or run_as_username")
    if ctx is not None and ctx.HasField("run_as_user"):
        uid = ctx.run_as_user.value
        known = userdb.name_of_uid(passwd, uid)
        name, gid = known if known else (None, 0)
    elif ctx is not None and ctx.run_as_username:
        uid, gid, name = userdb.resolve(ctx.run_as_username, passwd, group, where + ".run_as_username")
    elif image.get("User"):
        uid, gid, name = userdb.resolve(image["User"], passwd, group, "image config User")
    else:
        uid, gid, name = 0, 0, "root"
    if ctx is not None and ctx.HasField("run_as_group"):
        gid = ctx.run_as_group.value
    for value, field in ((uid, "run_as_user"), (gid, "run_as_group")):
        if not 0 <= value < 2**32 - 1:
            raise InvalidArgument(f"{where}.{field}: {value} is not a valid id")
    groups = set()
    if name and (ctx is None or ctx.supplemental_groups_policy == 0):  # Merge: the image's groups too
        groups.update(userdb.member_groups(group, name))
    if ctx is not None:
        groups.update(ctx.supplemental_groups)
    if pod_ctx is not None:
        groups.update(pod_ctx.supplemental_groups)
    groups.discard(gid)
    out = {"uid": uid, "gid": gid}
    if groups:
        out["additionalGids"] = sorted(groups)
    return out
