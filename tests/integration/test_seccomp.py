"""linux.seccomp seen from inside the container: errno actions, kill, argument
filters, the notify hand-off to a listener, and Docker's default profile."""
from __future__ import annotations

import array
import json
import os
import socket
import struct
import threading

import pytest

from helpers import run_container

HERE = os.path.dirname(os.path.abspath(__file__))


def with_profile(bundle, **profile):
    profile.setdefault("defaultAction", "SCMP_ACT_ALLOW")
    bundle.edit(lambda c: c["linux"].update(seccomp=profile))


def test_deny_mkdir_with_eperm(runtime, bundle):
    with_profile(bundle, syscalls=[{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])
    code, out, err = run_container(runtime, bundle, "sh", "-c", "mkdir /tmp/x; grep Seccomp: /proc/self/status")
    assert "Operation not permitted" in err
    assert out.split() == ["Seccomp:", "2"]


def test_errno_ret_38(runtime, bundle):
    with_profile(bundle, syscalls=[{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}])
    code, out, err = run_container(runtime, bundle, "mkdir", "/tmp/x")
    assert code == 1 and "Function not implemented" in err


def test_default_errno_ret(runtime, bundle):
    allow = json.load(open(os.path.join(HERE, "data", "docker-default-seccomp.json")))["syscalls"][0]["names"]
    with_profile(bundle, defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=13,
                 syscalls=[{"names": [n for n in allow if n not in ("mkdir", "mkdirat")], "action": "SCMP_ACT_ALLOW"}])
    code, _, err = run_container(runtime, bundle, "mkdir", "/tmp/x")
    assert code == 1 and "Permission denied" in err


def test_kill_process(runtime, bundle):
    with_profile(bundle, syscalls=[{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}])
    code, out, err = run_container(runtime, bundle, "uname")
    assert code == 128 + 31  # SIGSYS


def test_argument_filter(runtime, bundle):
    # refuse giving "others" rwx (mode & 07 == 07); every other chmod works
    args = [{"index": 1, "value": 7, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"}]
    with_profile(bundle, syscalls=[
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": args},
        {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 2, "value": 7, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"}]}])
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "touch /tmp/f && chmod 750 /tmp/f && echo ok750; chmod 757 /tmp/f || echo refused757")
    assert out.split() == ["ok750", "refused757"], err


def test_unknown_syscall_names_are_skipped(runtime, bundle):
    with_profile(bundle, syscalls=[{"names": ["no_such_syscall_2099", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])
    code, _, err = run_container(runtime, bundle, "mkdir", "/tmp/x")
    assert code == 1 and "Operation not permitted" in err


def test_docker_default_profile_runs_busybox(runtime, bundle):
    profile = json.load(open(os.path.join(HERE, "data", "docker-default-seccomp.json")))
    bundle.edit(lambda c: c["linux"].update(seccomp=profile))
    code, out, err = run_container(runtime, bundle, "sh", "-c",
        "mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f && ls /proc/self/fd >/dev/null && ps >/dev/null "
        "&& (sleep 0.1 &) && wait && unshare -U true 2>/dev/null || echo unshare-refused")
    assert code == 0, err
    assert out.split() == ["hi", "unshare-refused"]


@pytest.mark.parametrize("profile,message", [
    ({"defaultAction": "SCMP_ACT_BOGUS"}, "linux.seccomp.defaultAction: must be one of"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]},
     "linux.seccomp.architectures[0]: must be one of"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY"),
])
def test_bad_profiles(runtime, bundle, profile, message):
    bundle.edit(lambda c: c["linux"].update(seccomp=profile))
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 1 and message in err and err.count("\n") == 1, err


# -- SCMP_ACT_NOTIFY -----------------------------------------------------------
NOTIF_RECV, NOTIF_SEND = 0xC0502100, 0xC0182101  # SECCOMP_IOCTL_NOTIF_RECV / _SEND


class Listener:
    """A seccomp agent: takes the container state and fd, answers one syscall.

    It fakes success for the intercepted mkdir without doing it, so the
    container sees "created" and then finds no directory.
    """

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.state = None
        self.syscall_nr = None
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                fds = array.array("i")
                data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4))
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(payload[:4])
                self.state = json.loads(data)
            import fcntl
            notif = bytearray(80)
            fcntl.ioctl(fds[0], NOTIF_RECV, notif)
            notif_id, pid, flags, nr = struct.unpack_from("=QIIi", notif)
            self.syscall_nr = nr
            fcntl.ioctl(fds[0], NOTIF_SEND, bytearray(struct.pack("=QqiI", notif_id, 0, 0, 0)))
            os.close(fds[0])
        except Exception as exc:  # reported by the test
            self.error = exc


def test_notify_round_trip(runtime, bundle, tmp_path):
    listener = Listener(str(tmp_path / "agent.sock"))
    with_profile(bundle, listenerPath=listener.sock.getsockname(), listenerMetadata="meta-42",
                 syscalls=[{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}])
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "mkdir /tmp/nd && echo mkdir-said-ok; test -d /tmp/nd || echo not-created")
    listener.thread.join(10)
    assert listener.error is None, listener.error
    assert out.split() == ["mkdir-said-ok", "not-created"], err
    st = listener.state
    assert st["fds"] == ["seccompFd"] and st["metadata"] == "meta-42" and st["pid"] > 0
    assert st["state"]["bundle"] == bundle.path and st["ociVersion"] == "1.3.0"
    assert listener.syscall_nr in (83, 258)  # mkdir, mkdirat on x86-64
