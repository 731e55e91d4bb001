"""The image's Python code never runs inside the runtime.

Once a runtime process is in a container's mount namespace, every path of its
``sys.path`` is the image's. An image that plants a module there (any
standard-library name, any pyruntime module) must never have it imported, by
any verb or option: the runtime imports nothing after the fork
(lifecycle.boundary). The image here has a trap at every such path, and each
case drives one verb or option through it; a trap that runs writes its name
to /trap-fired in the container.
"""
from __future__ import annotations

import array
import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from helpers import PYRUNTIME

PREFIX = os.environ.get("PYRUNTIME_PREFIX", "/opt/pyruntime")
TRAP = 'open("/trap-fired", "a").write(__name__ + "\\n")\n'


def runtime_sys_path() -> list[str]:
    """sys.path as the launcher sets it up for the runtime."""
    with open(os.path.join(PREFIX, "launcher.py")) as f:
        setup = [line for line in f.read().splitlines() if line.startswith("sys.path")]
    code = "import sys\n" + "\n".join(setup) + "\nprint('\\n'.join(p for p in sys.path if p))"
    out = subprocess.run([os.path.join(PREFIX, "venv", "bin", "python3"), "-IS", "-c", code],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def pyruntime_modules() -> list[str]:
    """Paths of pyruntime's modules relative to the directory that holds the package."""
    import pyruntime
    top = os.path.dirname(os.path.dirname(pyruntime.__file__))
    out = []
    for directory, _, files in os.walk(os.path.dirname(pyruntime.__file__)):
        for name in files:
            if name.endswith((".py", ".so")):
                rel = os.path.relpath(os.path.join(directory, name), top)
                out.append(rel.split(".")[0] + ".py")
    return out


def plant_traps(rootfs: str) -> int:
    count = 0
    names = [f"{name}/__init__.py" for name in sys.stdlib_module_names] + pyruntime_modules()
    for entry in runtime_sys_path():
        for rel in names:
            path = os.path.join(rootfs, entry.lstrip("/"), rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            for parent in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
                init = os.path.join(parent, "__init__.py")  # so pyruntime.x.y finds its packages
                if parent.startswith(os.path.join(rootfs, entry.lstrip("/"), "pyruntime")) \
                        and not os.path.exists(init):
                    with open(init, "w") as f:
                        f.write(TRAP)
            with open(path, "w") as f:
                f.write(TRAP)
            count += 1
    return count


class Receiver:
    """A unix socket that takes fds (a console socket, a seccomp agent) and keeps them."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.fds: list[int] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                _, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4))
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        self.fds.extend(array.array("i", payload[:4]))

    def close(self) -> None:
        self.sock.close()
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def trapped(bundle, tmp_path):
    assert plant_traps(bundle.rootfs) > 500
    receiver = Receiver(str(tmp_path / "fds.sock"))
    yield bundle, receiver.sock.getsockname()
    receiver.close()


def notify_profile(listener: str) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": listener,
            "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_NOTIFY"}]}


def hooks(c):
    c["hooks"] = {kind: [{"path": "/bin/true"}] for kind in
                  ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")}


def user_namespace(c):
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def time_namespace(c):
    c["linux"]["namespaces"].append({"type": "time"})
    c["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0}}


CONFIGS = {
    "default": lambda c, sock: None,
    "user namespace": lambda c, sock: user_namespace(c),
    "time namespace": lambda c, sock: time_namespace(c),
    "seccomp notify": lambda c, sock: c["linux"].update(seccomp=notify_profile(sock)),
    "hooks": lambda c, sock: hooks(c),
    "sysctl": lambda c, sock: c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}),
    "oomScoreAdj": lambda c, sock: c["process"].update(oomScoreAdj=100),
    "terminal": lambda c, sock: c["process"].update(terminal=True),
    "no new privileges": lambda c, sock: c["process"].update(noNewPrivileges=True),
}

EXECS = {
    "plain": [],
    "tty": ["-t", "-d", "--console-socket", "{sock}"],
    "cap": ["--cap", "CAP_NET_ADMIN"],
    "user": ["-u", "1000:1000"],
    "process.json": ["-p", "{process}"],
    "apparmor": ["--apparmor", "unconfined"],
    "process label": ["--process-label", "system_u:system_r:container_t:s0"],
    "env and cwd": ["-e", "X=1", "--cwd", "/tmp"],
}


def fired(bundle) -> str:
    path = os.path.join(bundle.rootfs, "trap-fired")
    return open(path).read() if os.path.exists(path) else ""


@pytest.mark.parametrize("config", CONFIGS)
def test_create_start_exec_delete_import_nothing_from_the_image(runtime, trapped, tmp_path, config):
    bundle, sock = trapped
    bundle.edit(lambda c: CONFIGS[config](c, sock))
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    extra = ["--console-socket", sock] if config == "terminal" else []
    runtime.run("create", "--bundle", bundle.path, *extra, cid, check=True)
    runtime.run("exec", cid, "true", check=True)  # exec into a created container too
    runtime.run("start", cid, check=True)
    runtime.run("exec", cid, "true", check=True)
    runtime.run("kill", cid, "KILL", check=True)
    runtime.run("delete", "--force", cid, check=True)
    assert fired(bundle) == ""


@pytest.mark.parametrize("how", EXECS)
def test_every_exec_option_imports_nothing_from_the_image(runtime, trapped, tmp_path, how):
    bundle, sock = trapped
    bundle.set_args("sleep", "600")
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}))
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    args = [a.format(sock=sock, process=process) for a in EXECS[how]]
    proc = runtime.run("exec", *args, cid, *([] if how == "process.json" else ["true"]))
    err = proc.stderr.decode()
    if how in ("apparmor", "process label"):  # this host has neither LSM: refused in the parent
        assert proc.returncode == 255 and "is not enabled on this host" in err, err
    else:
        assert proc.returncode == 0, err
    assert fired(bundle) == ""


def test_run_in_the_foreground_imports_nothing_from_the_image(runtime, trapped):
    bundle, _ = trapped
    bundle.set_args("sh", "-c", "echo ran")
    proc = subprocess.run([PYRUNTIME, "--root", runtime.root, "run", "--bundle", bundle.path,
                           runtime.new_id()], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, "ran\n"), proc.stderr
    assert fired(bundle) == ""
