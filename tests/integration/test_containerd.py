"""containerd's runc shim (io.containerd.runc.v2) driving pyruntime through `ctr`.

The shim runs `pyruntime --root … --log …/log.json --log-format json create|start|
exec|ps|pause|resume|kill|delete` exactly as it runs runc; each test checks
what ctr reports and, through the shim's log.json, that pyruntime did the work.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import time

from helpers import PYRUNTIME


def run_flags(containerd) -> list[str]:
    return ["--runc-binary", PYRUNTIME, "--runc-root", os.path.join(containerd.workdir, "runtime-state"),
            "--fifo-dir", os.path.join(containerd.workdir, "fifo")]


def log_entries(containerd, cid: str) -> list[dict]:
    path = os.path.join(containerd.workdir, "state", "io.containerd.runtime.v2.task", "pyrt", cid, "log.json")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def task_status(containerd, cid: str) -> str:
    for line in containerd.ctr("task", "ls").stdout.decode().splitlines()[1:]:
        fields = line.split()
        if fields[0] == cid:
            return fields[2]
    return "absent"


def wait_status(containerd, cid: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while task_status(containerd, cid) != status:
        assert time.monotonic() < deadline, f"{cid} never became {status}"
        time.sleep(0.1)


def test_run_foreground_output_and_exit_code(containerd, ctr_image):
    proc = containerd.ctr("run", "--rm", *run_flags(containerd), ctr_image, "fg1",
                          "sh", "-c", "echo hello from pid $$; exit 3", check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.decode().strip() == "hello from pid 1"
    assert containerd.ctr("container", "ls", "-q").stdout.decode().split() == []


def test_task_lifecycle(containerd, ctr_image):
    cid = "life1"
    # pid 1 ignores signals it has no handler for: the trap gives TERM one
    containerd.ctr("run", "-d", *run_flags(containerd), ctr_image, cid,
                   "sh", "-c", "trap 'exit 42' TERM; sleep 1000 & wait")
    try:
        assert task_status(containerd, cid) == "RUNNING"
        ps = containerd.ctr("task", "ps", cid).stdout.decode().splitlines()
        assert len(ps) == 3 and ps[0].split()[0] == "PID"  # the shell and its sleep

        out = containerd.ctr("task", "exec", "--exec-id", "e1", "--fifo-dir",
                             os.path.join(containerd.workdir, "fifo"), cid,
                             "sh", "-c", "echo exec pid $$; exit 5", check=False)
        assert out.returncode == 5 and out.stdout.decode().startswith("exec pid ")

        containerd.ctr("task", "pause", cid)
        assert task_status(containerd, cid) == "PAUSED"
        containerd.ctr("task", "resume", cid)
        assert task_status(containerd, cid) == "RUNNING"

        metrics = containerd.ctr("task", "metrics", "--format", "json", cid).stdout.decode()
        assert json.loads(metrics)  # memory, cpu and pids figures read from the container's cgroups
        assert "pids" in metrics.lower()

        msgs = [e["msg"] for e in log_entries(containerd, cid)]
        assert any(m.startswith("pyruntime ") and f"created container {cid}" in m for m in msgs)
        assert f"started container {cid}" in msgs
        assert any(m.startswith(f"exec in container {cid}") for m in msgs)

        containerd.ctr("task", "kill", "-s", "TERM", cid)
        wait_status(containerd, cid, "STOPPED")
        assert "non-zero exit code 42" in containerd.ctr("task", "delete", cid).stderr.decode()
    finally:
        containerd.ctr("task", "delete", "-f", cid, check=False)
        containerd.ctr("container", "delete", cid, check=False)
    assert not os.path.exists(os.path.join(containerd.workdir, "runtime-state", cid))


def exec_with_tty(containerd, flags: list[str], image: str, cid: str) -> None:
    """`ctr task exec -t` into a running container: its shell has a pty, and its exit code comes back."""
    containerd.ctr("run", "-d", *flags, image, cid, "sleep", "1000")
    try:
        # ctr wants a terminal on its own stdin: script(1) gives it one
        argv = ["ctr", "-a", containerd.socket, "-n", "pyrt", "task", "exec", "-t", "--exec-id", "t1",
                "--fifo-dir", os.path.join(containerd.workdir, "fifo"), cid,
                "sh", "-c", "tty; stty size; exit 7"]
        proc = subprocess.run(["script", "-qec", shlex.join(argv), "/dev/null"], capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        out = proc.stdout.decode()
        assert "/dev/pts/" in out, out
        assert proc.returncode == 7, out  # the container's shell's, through ctr and script -e
    finally:
        containerd.ctr("task", "kill", "-s", "KILL", cid, check=False)
        wait_status(containerd, cid, "STOPPED")
        containerd.ctr("task", "delete", cid, check=False)
        containerd.ctr("container", "delete", cid, check=False)


def test_exec_with_tty(containerd, ctr_image):
    exec_with_tty(containerd, run_flags(containerd), ctr_image, "tty1")