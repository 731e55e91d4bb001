"""containerd-shim-pyruntime-v2: what containerd runs it with (shim v2's command line).

    containerd-shim-pyruntime-v2 -namespace NS -address ADDR -id ID [-bundle DIR] [-debug] start|delete

`start` (in the bundle) prints the ttrpc address of the shim that will serve the task: the pod's
shim if one is up (containers of a pod share one, as with the runc shim: CRI's sandbox-id
annotation), else a new one, forked off with its socket already listening. `delete` cleans up
after a shim that died: it force-deletes the container and prints a DeleteResponse.

pyruntime's state for containerd's tasks lives beside containerd's own: <state>/pyruntime/<ns>,
<state> being the directory the bundles are under (/run/containerd by default), as the runc
shim keeps runc's in /run/containerd/runc/<ns>.
"""
from __future__ import annotations

import os
import sys

# containerd waits on `start` and `delete` (delete on every container's stop path): both import
# only what they use
SOCKET_DIR = "/run/containerd/s"
SANDBOX_ANNOTATION = "io.kubernetes.cri.sandbox-id"
VALUE_FLAGS = {"namespace", "address", "publish-binary", "id", "bundle", "socket"}


def parse(argv: list[str]) -> tuple[dict, str]:
    """Go's flag syntax (-name value, -name=value, -bool), then the action."""
    flags: dict = {"debug": False}
    rest = list(argv)
    while rest and rest[0].startswith("-"):
        name, _, value = rest.pop(0).lstrip("-").partition("=")
        if name in VALUE_FLAGS and not value:
            value = rest.pop(0) if rest else ""
        flags[name.replace("-", "_")] = value or True
    return flags, (rest[0] if rest else "")


def state_root(bundle: str, namespace: str) -> str:
    """<state>/io.containerd.runtime.v2.task/<ns>/<id> -> <state>/pyruntime/<ns>"""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(bundle))), "pyruntime", namespace)


def socket_path(address: str, namespace: str, group: str) -> str:
    import hashlib
    digest = hashlib.sha256(os.path.join(address, namespace, group).encode()).hexdigest()
    return os.path.join(SOCKET_DIR, digest)


def runtime_binary() -> str:
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, "pyruntime")
        if directory and os.access(path, os.X_OK):
            return path
    return "/usr/local/bin/pyruntime"


def group_of(bundle: str, task_id: str) -> str:
    from pyruntime.startup import fastjson
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            annotations = fastjson.loads(f.read()).get("annotations") or {}
    except (OSError, ValueError):
        annotations = {}
    return annotations.get(SANDBOX_ANNOTATION) or task_id


def _alive(path: str) -> bool:
    import socket
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def start(flags: dict) -> int:
    import socket
    bundle = os.getcwd()
    path = socket_path(flags.get("address", ""), flags.get("namespace", ""), group_of(bundle, flags["id"]))
    address = f"unix://{path}"
    if not _alive(path):
        try:
            os.unlink(path)  # a dead shim's
        except FileNotFoundError:
            pass
        os.makedirs(SOCKET_DIR, mode=0o711, exist_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old_umask = os.umask(0o177)  # only root (containerd) may connect
        try:
            listener.bind(path)
        finally:
            os.umask(old_umask)
        listener.listen(64)
        if os.fork() == 0:
            _daemon(listener, path, flags, bundle)  # never returns
        listener.close()
    with open(os.path.join(bundle, "address"), "w") as f:
        f.write(address)
    sys.stdout.write(address)
    sys.stdout.flush()
    return 0


def _daemon(listener, path: str, flags: dict, bundle: str) -> None:
    """The shim itself: detached from containerd's pipes, a child subreaper, serving until the
    last task is deleted and containerd says Shutdown."""
    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)  # containerd waits for `start`'s output to close
        os.close(null)
        os.chdir("/")
        from pyruntime.kernel import proc
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)

        from .events import Publisher
        from .reaper import Reaper
        from .service import Service
        from .ttrpc import Server

        def exit_shim() -> None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os._exit(0)

        reaper = Reaper()
        reaper.start()
        publisher = Publisher(os.environ.get("TTRPC_ADDRESS", ""), flags.get("namespace", ""))
        service = Service(runtime_binary(), state_root(bundle, flags.get("namespace", "")), reaper, publisher,
                          exit_shim)
        Server(listener, service.handlers()).serve_forever()
    finally:
        os._exit(1)


def delete(flags: dict) -> int:
    """Clean up after a task's connection closed (containerd runs this for every task it deletes,
    and after a shim died): the container if pyruntime still has it, the rootfs if still mounted;
    a DeleteResponse out. After a normal Delete there is nothing left, and nothing is run."""
    import time
    bundle = flags.get("bundle") or os.getcwd()
    root = state_root(bundle, flags.get("namespace", ""))
    if os.path.isdir(os.path.join(root, flags.get("id", ""))):
        import subprocess
        subprocess.run([runtime_binary(), "--root", root, "delete", "--force", flags["id"]],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rootfs = os.path.join(bundle, "rootfs")
    if os.path.ismount(rootfs):
        from .rootfs import unmount_all
        unmount_all(rootfs)
    from . import wire
    response = wire.DeleteResponse(exit_status=128 + 9, exited_at=wire.timestamp(time.time()))
    sys.stdout.buffer.write(response.SerializeToString())
    sys.stdout.flush()
    return 0


def main() -> int:
    flags, action = parse(sys.argv[1:])
    if action == "start":
        return start(flags)
    if action == "delete":
        return delete(flags)
    sys.stderr.write(f"containerd-shim-pyruntime-v2: unknown action {action!r} (start or delete)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
