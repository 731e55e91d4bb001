"""containerd-shim-pyruntime-v2 (containerd_shim/) under containerd 1.6, through ctr and crictl.

containerd starts it for runtime_type io.containerd.pyruntime.v2 and speaks the shim v2 task API
to it; each test checks what the clients report, and what the shim did or did not run: create
and exec run pyruntime's CLI (their log.json shows it), start, kill and delete do not.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

from helpers import PYRUNTIME
from test_containerd import exec_with_tty, task_status, wait_status

SHIM = "io.containerd.pyruntime.v2"
IMAGE = "127.0.0.1:5055/busybox:latest"


def run_flags(containerd) -> list[str]:
    return ["--runtime", SHIM, "--fifo-dir", os.path.join(containerd.workdir, "fifo")]


def bundle(containerd, cid: str) -> str:
    return os.path.join(containerd.workdir, "state", "io.containerd.runtime.v2.task", "pyrt", cid)


def state_dir(containerd, cid: str) -> str:
    return os.path.join(containerd.workdir, "state", "pyruntime", "pyrt", cid)


def log_messages(containerd, cid: str) -> list[str]:
    with open(os.path.join(bundle(containerd, cid), "log.json")) as f:
        return [json.loads(line)["msg"] for line in f if line.strip()]


def shims(containerd) -> list[str]:
    out = subprocess.run(["pgrep", "-f", f"containerd-shim-pyruntime-v2 .*-address {containerd.socket}"],
                         capture_output=True).stdout.decode()
    return out.split()


def test_shim_runs_a_container_in_the_foreground(containerd, ctr_image):
    proc = containerd.ctr("run", "--rm", *run_flags(containerd), ctr_image, "shimfg",
                          "sh", "-c", "echo hello from pid $$; echo to stderr >&2; exit 3", check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.decode().strip() == "hello from pid 1"
    assert "to stderr" in proc.stderr.decode()
    assert containerd.ctr("container", "ls", "-q").stdout.decode().split() == []
    assert not os.path.exists(state_dir(containerd, "shimfg"))
    assert shims(containerd) == []  # Shutdown after the last task: the shim is gone


def test_shim_task_lifecycle_runs_only_create_and_exec_as_commands(containerd, ctr_image):
    cid = "shimlife"
    containerd.ctr("run", "-d", *run_flags(containerd), ctr_image, cid,
                   "sh", "-c", "trap 'exit 42' TERM; sleep 1000 & wait")
    try:
        assert task_status(containerd, cid) == "RUNNING"
        ps = containerd.ctr("task", "ps", cid).stdout.decode().splitlines()
        assert len(ps) == 3, ps  # the shell and its sleep

        out = containerd.ctr("task", "exec", "--exec-id", "e1", "--fifo-dir",
                             os.path.join(containerd.workdir, "fifo"), cid,
                             "sh", "-c", "read line; echo exec read $line; exit 5", check=False, input=b"abc\n")
        assert out.returncode == 5, out.stderr
        assert out.stdout.decode().strip() == "exec read abc"

        containerd.ctr("task", "pause", cid)
        assert task_status(containerd, cid) == "PAUSED"
        containerd.ctr("task", "resume", cid)
        assert task_status(containerd, cid) == "RUNNING"

        # the container's cgroup figures, decoded by ctr as containerd's own Metrics type
        metrics = json.loads(containerd.ctr("task", "metrics", "--format", "json", cid).stdout.decode())
        assert metrics["pids"]["current"] == 2, metrics
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # unified: io.containerd.cgroups.v2.Metrics
            assert metrics["cpu"]["usage_usec"] > 0 and metrics["memory"]["usage"] > 0, metrics
        else:
            assert metrics["cpu"]["usage"]["total"] > 0 and metrics["memory"]["usage"]["usage"] > 0, metrics

        containerd.ctr("task", "kill", "-s", "TERM", cid)
        wait_status(containerd, cid, "STOPPED")
        messages = log_messages(containerd, cid)
        assert any(f"created container {cid}" in m for m in messages)
        assert any(m.startswith(f"exec in container {cid}") for m in messages)
        # start ran in the shim: pyruntime's CLI would have logged it
        assert not any(m.startswith("started container") for m in messages), messages
        assert "non-zero exit code 42" in containerd.ctr("task", "delete", cid).stderr.decode()
    finally:
        containerd.ctr("task", "delete", "-f", cid, check=False)
        containerd.ctr("container", "delete", cid, check=False)
    assert not os.path.exists(state_dir(containerd, cid))
    assert not os.path.exists(bundle(containerd, cid))
    assert shims(containerd) == []


def hooked_spec(tmp_path, rootfs: str, name: str, **hooks) -> str:
    """`pyruntime spec`'s default config (sleep, no terminal, the busybox rootfs read-only) with
    ``hooks``; its path. (ctr run --config takes the root from the spec, not from an image.)"""
    bundle = tmp_path / name
    bundle.mkdir()
    subprocess.run([PYRUNTIME, "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(terminal=False, args=["sleep", "1000"])
    spec["root"] = {"path": rootfs, "readonly": True}
    spec["hooks"] = hooks
    (bundle / "config.json").write_text(json.dumps(spec))
    return str(bundle / "config.json")


def test_shim_runs_hooks_as_the_cli_does(containerd, rootfs_template, tmp_path):
    """Hooks are processes pyruntime waits for itself, which the shim's reaper would reap first:
    with hooks, start and delete go through the CLI. A failing poststart hook fails start
    (runtime-spec), and a poststop hook runs at delete with the container's state on stdin."""
    rootfs = os.path.join(rootfs_template, "rootfs")
    # the hook exits while a child of its own holds its output open: pyruntime is still reading when
    # the exit comes, so a reaper waiting for any child takes it first
    failing = hooked_spec(tmp_path, rootfs, "fail", poststart=[{"path": "/bin/sh",
                                                                "args": ["sh", "-c", "(sleep 1) & exit 3"]}])
    proc = containerd.ctr("run", "-d", *run_flags(containerd), "--config", failing, "shimhook1", check=False)
    try:
        assert proc.returncode != 0 and "poststart" in proc.stderr.decode(), proc.stderr
    finally:
        containerd.ctr("task", "delete", "-f", "shimhook1", check=False)
        containerd.ctr("container", "delete", "shimhook1", check=False)

    marker = tmp_path / "poststop.json"
    recording = hooked_spec(tmp_path, rootfs, "record", poststop=[{"path": "/bin/sh",
                                                           "args": ["sh", "-c", f"cat > {marker}"]}])
    containerd.ctr("run", "-d", *run_flags(containerd), "--config", recording, "shimhook2")
    try:
        containerd.ctr("task", "kill", "-s", "KILL", "shimhook2")
        wait_status(containerd, "shimhook2", "STOPPED")
        containerd.ctr("task", "delete", "shimhook2")
        assert json.loads(marker.read_text())["id"] == "shimhook2"
    finally:
        containerd.ctr("task", "delete", "-f", "shimhook2", check=False)
        containerd.ctr("container", "delete", "shimhook2", check=False)
    assert shims(containerd) == []


def test_shim_outlives_a_containerd_restart(containerd, ctr_image):
    """containerd finds the running shim again (the bundle's address file) and goes on with it."""
    cid = "shimrestart"
    containerd.ctr("run", "-d", *run_flags(containerd), ctr_image, cid, "sleep", "1000")
    try:
        shim = shims(containerd)
        containerd.restart()
        assert shims(containerd) == shim and task_status(containerd, cid) == "RUNNING"
        out = containerd.ctr("task", "exec", "--exec-id", "r1", "--fifo-dir",
                             os.path.join(containerd.workdir, "fifo"), cid, "echo", "after restart")
        assert out.stdout.decode().strip() == "after restart"
        containerd.ctr("task", "kill", "-s", "KILL", cid)
        wait_status(containerd, cid, "STOPPED")
        assert "non-zero exit code 137" in containerd.ctr("task", "delete", cid).stderr.decode()
    finally:
        containerd.ctr("task", "delete", "-f", cid, check=False)
        containerd.ctr("container", "delete", cid, check=False)
    assert shims(containerd) == []


def test_shim_exec_with_tty(containerd, ctr_image):
    exec_with_tty(containerd, run_flags(containerd), ctr_image, "shimtty")


def test_shim_serves_a_pod_from_one_process(containerd, registry, workdir):
    """CRI's containers of one pod share the pod's shim; it ends with the pod."""
    containerd.crictl("pull", IMAGE)
    name = f"shimpod-{uuid.uuid4().hex[:6]}"
    pod_config = os.path.join(workdir, f"{name}.json")
    with open(pod_config, "w") as f:
        json.dump({"metadata": {"name": name, "namespace": "default", "uid": name},
                   "log_directory": os.path.join(workdir, "logs", name)}, f)
    before = shims(containerd)
    pod_id = containerd.crictl("runp", "--runtime", "pyruntime-shim", pod_config)
    try:
        cids = []
        for i in range(2):
            config = os.path.join(workdir, f"{name}-c{i}.json")
            with open(config, "w") as f:
                json.dump({"metadata": {"name": f"c{i}"}, "image": {"image": IMAGE},
                           "command": ["sh", "-c", f"echo container {i}; exec sleep 1000"],
                           "log_path": f"c{i}.log"}, f)
            cids.append(containerd.crictl("create", pod_id, config, pod_config))
            containerd.crictl("start", cids[-1])
        assert len(shims(containerd)) == len(before) + 1
        assert containerd.crictl("exec", "-s", cids[1], "sh", "-c", "echo exec in c1") == "exec in c1"
        logs = subprocess.run(containerd.crictl_argv("logs", cids[0]), capture_output=True, timeout=60)
        assert logs.stdout.decode().strip() == "container 0"
        containerd.crictl("stop", "-t", "0", cids[0])
        status = json.loads(containerd.crictl("inspect", cids[0]))["status"]
        assert status["state"] == "CONTAINER_EXITED" and status["exitCode"] == 137, status
        containerd.crictl("rm", cids[0])
    finally:
        containerd.crictl("stopp", pod_id, check=False)
        containerd.crictl("rmp", "-f", pod_id, check=False)
    assert shims(containerd) == before


def test_shim_reports_an_oom_kill_before_the_exit(containerd, registry, workdir):
    """TaskOOM reaches CRI before TaskExit, so the container's reason is OOMKilled."""
    containerd.crictl("pull", IMAGE)
    name = f"shimoom-{uuid.uuid4().hex[:6]}"
    pod_config = os.path.join(workdir, f"{name}.json")
    with open(pod_config, "w") as f:
        json.dump({"metadata": {"name": name, "namespace": "default", "uid": name},
                   "log_directory": os.path.join(workdir, "logs", name)}, f)
    pod_id = containerd.crictl("runp", "--runtime", "pyruntime-shim", pod_config)
    try:
        config = os.path.join(workdir, f"{name}-c.json")
        with open(config, "w") as f:
            json.dump({"metadata": {"name": "hog"}, "image": {"image": IMAGE}, "log_path": "hog.log",
                       "command": ["sh", "-c", "a=x; while true; do a=$a$a; done"],  # doubles until killed
                       "linux": {"resources": {"memory_limit_in_bytes": 32 << 20}}}, f)
        cid = containerd.crictl("create", pod_id, config, pod_config)
        containerd.crictl("start", cid)
        deadline = time.monotonic() + 60
        while (status := json.loads(containerd.crictl("inspect", cid))["status"])["state"] != "CONTAINER_EXITED":
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert (status["reason"], status["exitCode"]) == ("OOMKilled", 137), status
    finally:
        containerd.crictl("stopp", pod_id, check=False)
        containerd.crictl("rmp", "-f", pod_id, check=False)
