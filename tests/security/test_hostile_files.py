"""Files the runtime reads or writes where someone else has a hand: the image's
/etc/passwd, a --pid-file directory, the state directory, a damaged state.json."""
from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from helpers import run_container


def test_state_is_closed_to_other_users(runtime, bundle):
    """The state holds the config's environment (secrets) and exec.fifo: 0700 and 0600, as runc."""
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    cdir = os.path.join(runtime.root, cid)
    assert stat.S_IMODE(os.stat(runtime.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(cdir, "state.json")).st_mode) == 0o600
    assert [n for n in os.listdir(cdir) if n.startswith(".")] == []  # no temporary left


def test_pid_file_never_follows_a_planted_symlink(runtime, bundle, tmp_path):
    """In a directory another user can write, symlinks at the pid file and at the
    temporary name it used to have must not redirect the write onto a root-owned file."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    os.symlink(victim, shared / ".pid.tmp")
    os.symlink(victim, shared / "pid")
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("create", "--pid-file", str(shared / "pid"), "--bundle", bundle.path, cid, check=True)
    assert victim.read_text() == "precious\n"
    assert not os.path.islink(shared / "pid")
    assert int((shared / "pid").read_text()) == runtime.state(cid)["pid"]


@pytest.mark.parametrize("passwd", ["invalid utf-8", "fifo", "dev zero", "nul in home"])
def test_image_passwd_cannot_break_or_stall_the_start(runtime, bundle, passwd):
    path = os.path.join(bundle.rootfs, "etc", "passwd")
    os.unlink(path)
    home = "/root"
    if passwd == "invalid utf-8":
        with open(path, "wb") as f:
            f.write(b"\xff\xfe:x:\xc3\x28:0::/\xff:/bin/sh\nroot:x:0:0:root:/root:/bin/sh\n")
    elif passwd == "fifo":
        os.mkfifo(path)
        home = "/"
    elif passwd == "dev zero":
        os.symlink("/dev/zero", path)
        home = "/"
    else:
        with open(path, "wb") as f:
            f.write(b"root:x:0:0:root:/ro\0ot:/bin/sh\n")
        home = "/"
    code, out, err = run_container(runtime, bundle, "sh", "-c", "echo $HOME", timeout=20)
    assert (code, out, err) == (0, home + "\n", "")


def test_exec_survives_a_container_that_rewrites_passwd(runtime, bundle):
    bundle.set_args("sh", "-c", "printf 'root:x:0:0:\\377:/h\\376me:/bin/sh\\n' > /etc/passwd; sleep 600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    for _ in range(100):
        if b"\xfe" in open(os.path.join(bundle.rootfs, "etc", "passwd"), "rb").read():
            break
        subprocess.run(["sleep", "0.05"])
    out = runtime.run("exec", cid, "sh", "-c", "echo -n $HOME | od -An -c", check=True).stdout.decode()
    assert out.split() == ["/", "h", "376", "m", "e"]


def test_a_damaged_state_file_hides_nothing_and_can_be_deleted(runtime, bundle):
    bundle.set_args("sleep", "600")
    damaged, intact = runtime.new_id(), runtime.new_id()
    for cid in (damaged, intact):
        runtime.run("create", "--bundle", bundle.path, cid, check=True)
    pid = runtime.state(damaged)["pid"]
    state = os.path.join(runtime.root, damaged, "state.json")
    data = open(state, "rb").read()
    with open(state, "wb") as f:
        f.write(data[: len(data) // 2])
    listed = runtime.run("list", "--format", "json")
    assert listed.returncode == 0
    assert [s["id"] for s in json.loads(listed.stdout)] == [intact]
    warning = open(runtime.log).read().splitlines()[-1]  # warnings go to --log, as runc's
    assert '"level":"warning"' in warning and damaged in warning and "state.json" in warning
    broken = runtime.run("state", damaged)
    assert broken.returncode == 1 and broken.stderr.decode().count("\n") == 1
    runtime.run("delete", "--force", damaged, check=True)
    assert not os.path.exists(os.path.join(runtime.root, damaged))
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}/pyruntime/{damaged}") for c in ("memory", "pids", "unified"))
