"""exec: joins every namespace and the cgroup of the init; flags; process.json; tty."""
from __future__ import annotations

import json
import os

from clients import wait_for
from test_namespaces import USERNS
from test_terminal import ConsoleReceiver


def running(runtime, bundle, **linux) -> tuple[str, int]:
    bundle.set_args("sleep", "600")
    if linux:
        bundle.edit(lambda c: c["linux"].update(**linux))
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    return cid, runtime.state(cid)["pid"]


def test_exec_joins_every_namespace_and_cgroup(runtime, bundle):
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup", "time", "user")]
    cid, pid = running(runtime, bundle, namespaces=namespaces, **USERNS)
    out = runtime.output("exec", cid, "sh", "-c",
                         "for n in pid net ipc uts mnt cgroup time user; do readlink /proc/self/ns/$n; done")
    expected = [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("pid", "net", "ipc", "uts", "mnt", "cgroup", "time", "user")]
    assert out.split() == expected
    with open(f"/proc/{pid}/cgroup") as f:
        init_cgroups = f.read()
    out = runtime.output("exec", "-d", cid, "sleep", "30")
    pids = json.loads(runtime.output("ps", "--format", "json", cid))
    assert len(pids) == 2 and pid in pids
    other = [p for p in pids if p != pid][0]
    with open(f"/proc/{other}/cgroup") as f:
        assert f.read() == init_cgroups


def test_exec_exit_status_env_user_cwd(runtime, bundle):
    cid, _ = running(runtime, bundle)
    assert runtime.run("exec", cid, "sh", "-c", "exit 9").returncode == 9
    out = runtime.output("exec", "--user", "65534:65534", "--additional-gids", "5", "--cwd", "/tmp",
                         "--env", "A=1", "--env", "B=two", cid, "sh", "-c", 'echo $(id -u) $(id -g) $(id -G) $(pwd) $A $B')
    assert out.split() == ["65534", "65534", "65534", "5", "/tmp", "1", "two"]


def test_exec_process_json(runtime, bundle, tmp_path):
    cid, _ = running(runtime, bundle)
    process = {"args": ["sh", "-c", "echo $X; grep NoNewPrivs /proc/self/status"], "cwd": "/",
               "env": ["X=from-json", "PATH=/bin"], "noNewPrivileges": True}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    out = runtime.output("exec", "--process", str(path), cid)
    assert out.split() == ["from-json", "NoNewPrivs:", "1"]
    path.write_text(json.dumps({"cwd": "/", "args": []}))
    proc = runtime.run("exec", "--process", str(path), cid)
    assert proc.returncode == 255  # runc's status when exec cannot start the process
    assert proc.stderr.decode() == "pyruntime: exec failed: process.json: args: must be a non-empty array\n"


def test_exec_detach_pid_file(runtime, bundle, tmp_path):
    cid, _ = running(runtime, bundle)
    pid_file = tmp_path / "exec.pid"
    runtime.run("exec", "--detach", "--pid-file", str(pid_file), cid, "sleep", "30", check=True)
    pid = int(pid_file.read_text())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"30"]


def test_exec_tty_console_socket(runtime, bundle, tmp_path):
    cid, _ = running(runtime, bundle)
    receiver = ConsoleReceiver(str(tmp_path / "c.sock"))
    try:
        runtime.run("exec", "--tty", "--detach", "--console-socket", receiver.path, cid,
                    "sh", "-c", "tty; echo ok", check=True)
        receiver.thread.join(5)
        text = receiver.read_all().decode().replace("\r", "")
        assert text.split() == [receiver.name, "ok"]
    finally:
        receiver.close()


def test_exec_in_stopped_container_refused(runtime, bundle):
    bundle.set_args("true")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    wait_for(lambda: runtime.state(cid)["status"] == "stopped", "the container to stop")
    proc = runtime.run("exec", cid, "true")
    assert proc.returncode == 255
    assert proc.stderr.decode() == "pyruntime: exec failed: cannot exec in a container that is stopped\n"


def test_exec_capabilities_flag(runtime, bundle):
    cid, _ = running(runtime, bundle)
    out = runtime.output("exec", "--cap", "CAP_SYS_ADMIN", cid, "grep", "CapEff", "/proc/self/status")
    assert int(out.split()[1], 16) >> 21 & 1
    out = runtime.output("exec", cid, "grep", "CapEff", "/proc/self/status")
    assert not int(out.split()[1], 16) >> 21 & 1


def exec_after_editing_the_state(runtime, bundle, change) -> list[str]:
    """A container whose every process gets LINUX32, a seccomp filter refusing mkdir, and an
    environment variable; ``change`` edits its state.json before an exec reports on itself."""
    bundle.edit(lambda c: (c["linux"].update(
        personality={"domain": "LINUX32"},
        seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
        c["process"]["env"].append("FROM_CONFIG=yes")))
    cid, _ = running(runtime, bundle)
    runtime.edit_record(cid, change)
    out = runtime.output("exec", cid, "sh", "-c",
                         "uname -m; grep Seccomp: /proc/self/status; echo $FROM_CONFIG; mkdir /tmp/x || echo refused")
    return out.split()


def test_exec_acts_on_what_create_decided(runtime, bundle):
    """The base process, the personality and the compiled filter come from the record, not from
    the config copy in the state (exec never parses it again)."""
    def forget(record):
        record["config"]["linux"].pop("personality")
        record["config"]["linux"].pop("seccomp")
        record["config"]["process"]["env"] = []
    assert exec_after_editing_the_state(runtime, bundle, forget) == ["i686", "Seccomp:", "2", "yes", "refused"]


def test_exec_in_a_container_from_before_decisions_were_kept(runtime, bundle):
    # as an earlier pyruntime wrote it: no "decided", so the config copy is read, once
    assert exec_after_editing_the_state(runtime, bundle, lambda r: r.pop("decided")) == \
        ["i686", "Seccomp:", "2", "yes", "refused"]
