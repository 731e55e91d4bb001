"""podman and conmon driving pyruntime (conmon is the monitor CRI-O uses: this is our CRI-O row)."""
from __future__ import annotations

import os
import subprocess

IMAGE = "localhost/busybox:latest"


def test_run_rm_output_and_exit_code(podman):
    proc = podman.proc("run", "--rm", *podman.run_flags(), IMAGE, "sh", "-c", "echo hello from pid $$; exit 3")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.decode().strip() == "hello from pid 1"
    assert podman.run("ps", "-a", "-q") == ""
    assert any(m.startswith("pyruntime ") and "created container" in m for m in podman.log_messages())


def test_exec_tty_and_stop(podman):
    cid = podman.run("run", "-d", "--name", "web", *podman.run_flags(), IMAGE, "sleep", "1000").strip()
    try:
        assert os.path.exists(f"/run/pyruntime/{cid}/state.json")  # pyruntime holds the container
        assert f"started container {cid}" in podman.log_messages()
        proc = podman.proc("exec", "web", "sh", "-c", "echo exec $$; exit 4")
        assert proc.returncode == 4 and proc.stdout.decode().startswith("exec ")
        assert any(m.startswith(f"exec in container {cid}") for m in podman.log_messages())

        # podman exec -it wants a terminal of its own: script(1) gives it one
        argv = podman.argv("exec", "-it", "web", "sh", "-c", "tty; exit 5")
        tty = subprocess.run(["script", "-qec", " ".join(argv), "/dev/null"], capture_output=True, timeout=60,
                             env=podman.env, stdin=subprocess.DEVNULL)
        assert b"/dev/pts/" in tty.stdout and tty.returncode == 5, tty

        podman.run("stop", "-t", "1", "web")  # sleep as pid 1 ignores TERM: podman escalates to KILL
        assert podman.run("inspect", "--format", "{{.State.ExitCode}}", "web").strip() == "137"
    finally:
        podman.proc("rm", "-f", "-t", "0", "web")
    assert not os.path.exists(f"/run/pyruntime/{cid}")


def test_run_with_tty(podman):
    # podman attaches to conmon after the start: what a process prints at once can be lost,
    # with runc as with pyruntime (3 runs in 10 here), so the container first waits a little
    argv = podman.argv("run", "--rm", "-it", *podman.run_flags(), IMAGE, "sh", "-c", "sleep 0.5; tty; exit 6")
    proc = subprocess.run(["script", "-qec", " ".join(argv), "/dev/null"], capture_output=True, timeout=60,
                          env=podman.env, stdin=subprocess.DEVNULL)
    assert b"/dev/pts/0" in proc.stdout, proc
    assert proc.returncode == 6
