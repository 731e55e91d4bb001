"""Rootless: an unprivileged user runs what `pyruntime spec --rootless` writes.

The user namespace maps the caller's own uid and gid to root (the parent writes
the maps while stage 1 is still dumpable, setgroups denied first, as the kernel
requires of an unprivileged writer). The host gives such a user no cgroup, so the
container runs without one, as under runc; limits it cannot apply are refused.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from helpers import PYRUNTIME, Runtime

UID = 4242  # no passwd entry needed: setpriv switches to bare ids


class UnprivilegedRuntime(Runtime):
    def cmd(self, *args: str, log_format: str = "json") -> list[str]:
        return ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *super().cmd(*args, log_format=log_format)]


@pytest.fixture
def home(tmp_path):
    """A directory the unprivileged user owns: its state, its log, its spec."""
    path = tmp_path / "home"
    path.mkdir()
    os.chown(path, UID, UID)
    for parent in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        os.chmod(parent, os.stat(parent).st_mode | 0o111)
    return path


@pytest.fixture
def user_runtime(home):
    rt = UnprivilegedRuntime(str(home / "state"), str(home / "pyruntime.log"))
    yield rt
    rt.cleanup()
    assert not os.path.exists(rt.root) or os.listdir(rt.root) == [], "state dirs left behind"


@pytest.fixture
def rootless_bundle(bundle, user_runtime, home):
    """The test bundle with the config `spec --rootless` writes for this user."""
    user_runtime.run("spec", "--rootless", "--bundle", str(home), check=True)
    with open(home / "config.json") as f:
        config = json.load(f)
    config["process"]["terminal"] = False
    config["root"]["readonly"] = False
    return bundle.edit(lambda c: (c.clear(), c.update(config)))


def no_cgroup_of(cid: str) -> bool:
    return not glob.glob(f"/sys/fs/cgroup/*/pyruntime/{cid}") + glob.glob(f"/sys/fs/cgroup/pyruntime/{cid}")


def test_the_rootless_spec_runs_as_an_unprivileged_user(user_runtime, rootless_bundle):
    rootless_bundle.set_args("sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups;"
                             " grep CapEff /proc/self/status; hostname; echo $$")
    cid = user_runtime.new_id()
    proc = user_runtime.run("run", "--bundle", rootless_bundle.path, cid)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[:2] == ["0", "0"]  # root inside
    assert lines[2].split() == ["0", str(UID), "1"] and lines[3].split() == ["0", str(UID), "1"]
    assert lines[4] == "deny"
    assert int(lines[5].split()[1], 16) != 0  # the default capabilities, held in its own user namespace
    assert lines[6:] == ["pyruntime", "1"]  # its own uts and pid namespaces
    assert no_cgroup_of(cid)
    with open(user_runtime.log) as f:
        warning = [json.loads(line) for line in f if '"warning"' in line][0]["msg"]
    assert warning.endswith("mkdir: permission denied: the container runs without a cgroup (rootless)")


def test_lifecycle_without_a_cgroup(user_runtime, rootless_bundle):
    rootless_bundle.set_args("sleep", "600")
    cid = user_runtime.new_id()
    user_runtime.run("run", "-d", "--bundle", rootless_bundle.path, cid, check=True)
    state = user_runtime.state(cid)
    assert state["status"] == "running" and no_cgroup_of(cid)
    assert os.stat(f"/proc/{state['pid']}").st_uid == UID
    assert user_runtime.output("exec", cid, "id", "-u").strip() == "0"
    assert json.loads(user_runtime.output("ps", "--format", "json", cid)) == [state["pid"]]
    paused = user_runtime.run("pause", cid)
    assert paused.returncode == 1 and paused.stderr.decode() == f"pyruntime: cannot pause {cid}: it has no cgroup\n"
    user_runtime.run("kill", "--all", cid, "KILL", check=True)
    user_runtime.run("delete", "--force", cid, check=True)
    assert user_runtime.run("state", cid).returncode == 1


def test_limits_need_a_cgroup(user_runtime, rootless_bundle):
    rootless_bundle.edit(lambda c: c["linux"].update(resources={"memory": {"limit": 64 << 20}}))
    cid = user_runtime.new_id()
    proc = user_runtime.run("create", "--bundle", rootless_bundle.path, cid)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1, err
    assert err.startswith("pyruntime: linux.resources: cannot apply memory limits: the container could not "
                          "create its cgroup (cgroup /sys/fs/cgroup/"), err
    assert no_cgroup_of(cid) and not os.path.exists(os.path.join(user_runtime.root, cid))


def test_default_state_directory_is_the_users_runtime_dir(home, rootless_bundle):
    """runc's rule: without --root, an unprivileged caller keeps state in $XDG_RUNTIME_DIR."""
    runtime_dir = home / "xdg"
    runtime_dir.mkdir()
    os.chown(runtime_dir, UID, UID)
    cid = f"xdg-{os.getpid()}"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime_dir))
    user = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", PYRUNTIME]
    rootless_bundle.set_args("true")
    subprocess.run(user + ["create", "--bundle", rootless_bundle.path, cid], env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert os.listdir(runtime_dir / "pyruntime") == [cid]
        listed = subprocess.run(user + ["list", "-q"], env=env, capture_output=True, text=True, check=True)
        assert listed.stdout.split() == [cid]
    finally:
        subprocess.run(user + ["delete", "--force", cid], env=env, check=True)
    assert os.listdir(runtime_dir / "pyruntime") == []


def test_root_of_a_user_namespace_is_rootless_too(home, rootless_bundle):
    """Rootless podman runs the runtime as root of a user namespace it made: --rootless auto
    sees that (uid_map is not the whole range) and goes without a cgroup as well."""
    rootless_bundle.edit(lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 0, "size": 1}],
                                                     gidMappings=[{"containerID": 0, "hostID": 0, "size": 1}]))
    rootless_bundle.set_args("cat", "/proc/self/uid_map")
    cid, state = f"userns-{os.getpid()}", str(home / "state")
    as_root_of_userns = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
                         "unshare", "--user", "--map-root-user", PYRUNTIME, "--root", state]
    proc = subprocess.run(as_root_of_userns + ["run", "--bundle", rootless_bundle.path, cid],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "1"]  # the outer namespace's root: the user
    assert "the container runs without a cgroup (rootless)" in proc.stderr
    assert no_cgroup_of(cid) and os.listdir(state) == []


def test_rootless_podman_drives_pyruntime(home, rootfs_template):
    """podman as an unprivileged user (a single id mapping: no subuid ranges needed), with
    pyruntime as its OCI runtime: run, exec, stop, rm through conmon."""
    image = home / "busybox.tar"
    subprocess.run(["tar", "-C", os.path.join(rootfs_template, "rootfs"), "-cf", str(image), "."], check=True)
    os.chmod(image, 0o644)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "xdg"),
           "XDG_CONFIG_HOME": str(home / "config")}
    runroot = tempfile.mkdtemp(prefix="pyrt-")  # podman wants a runroot of at most 50 characters
    os.chown(runroot, UID, UID)
    podman = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "podman",
              "--root", str(home / "storage"), "--runroot", runroot, "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", PYRUNTIME]

    def user_podman(*args: str) -> str:
        out = subprocess.run(podman + list(args), env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, f"podman {' '.join(args)}: {out.stderr}"
        return out.stdout

    (home / "xdg").mkdir(mode=0o700)
    os.chown(home / "xdg", UID, UID)
    try:
        user_podman("import", str(image), "localhost/busybox:rootless")
        assert user_podman("run", "--rm", "--network", "none", "localhost/busybox:rootless",
                           "sh", "-c", "echo hello; id -u").split() == ["hello", "0"]
        user_podman("run", "-d", "--name", "long", "--network", "none", "localhost/busybox:rootless", "sleep", "600")
        assert user_podman("exec", "long", "cat", "/proc/1/cmdline") == "sleep\x00600\x00"
        user_podman("stop", "-t", "1", "long")
        user_podman("rm", "long")
        assert user_podman("ps", "-a", "-q") == ""
    finally:
        # rootless podman keeps a "pause" process holding its user namespace
        subprocess.run(["pkill", "-KILL", "-U", str(UID)])
        shutil.rmtree(runroot, ignore_errors=True)
