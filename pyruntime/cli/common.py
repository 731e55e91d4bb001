"""Helpers the verb modules share."""
from __future__ import annotations

import os
import sys

from pyruntime.cli.flags import Flag

CREATE_FLAGS = (
    Flag(("bundle", "b"), "str", "", "path to the bundle (default: current directory)"),
    Flag(("pid-file",), "str", "", "write the init's pid here"),
    Flag(("console-socket",), "str", "", "unix socket that receives the pty master"),
    Flag(("no-pivot",), "bool", False, "MS_MOVE + chroot instead of pivot_root"),
    Flag(("no-new-keyring",), "bool", False, "keep the caller's session keyring"),
    Flag(("preserve-fds",), "int", 0, "pass fds 3..3+N-1 into the container"),
    Flag(("pidfd-socket",), "str", "", "accepted for compatibility"),
)


def create_options(ctx, opts: dict, container_id: str):
    from pyruntime.lifecycle.plan import CreateOptions
    from pyruntime.state.store import check_id
    bundle = os.path.abspath(opts["bundle"] or os.getcwd())
    return CreateOptions(
        id=check_id(container_id), bundle=bundle,
        pid_file=os.path.abspath(opts["pid_file"]) if opts["pid_file"] else "",
        console_socket=opts["console_socket"], no_pivot=opts["no_pivot"],
        no_new_keyring=opts["no_new_keyring"], preserve_fds=opts["preserve_fds"],
        systemd_cgroup=ctx.systemd_cgroup, rootless=rootless_mode(ctx.rootless))


def rootless_mode(value: str) -> bool:
    """runc's --rootless: auto means an unprivileged caller, or root of a user namespace
    (rootless podman runs the runtime so); neither is given cgroups by the host."""
    if value in ("true", "false"):
        return value == "true"
    if value != "auto":
        from pyruntime.errors import UsageError
        raise UsageError(f"invalid --rootless value {value!r}: true, false or auto")
    return os.geteuid() != 0 or in_user_namespace()


def in_user_namespace() -> bool:
    """Whether this process runs in a user namespace other than the host's."""
    from pyruntime.fileio import read_text
    return read_text("/proc/self/uid_map").split() != ["0", "0", "4294967295"]


def print_json(value, indent: bool = True) -> None:
    from pyruntime.startup import fastjson
    sys.stdout.write((fastjson.dumps_indent(value) if indent else fastjson.dumps(value)) + "\n")


def open_container(ctx, container_id: str):
    """The container, locked for the rest of the command."""
    from pyruntime.lifecycle.container import Container
    return Container(ctx.store().open(container_id))
