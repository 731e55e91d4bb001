"""create -> start -> kill -> delete, run, exit codes, state, list, pid files."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

from helpers import run_container


def wait_status(runtime, cid, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = runtime.run("state", cid)
        if proc.returncode == 0:
            state = json.loads(proc.stdout)
            if state["status"] == want:
                return state
        time.sleep(0.02)
    raise AssertionError(f"{cid} never became {want}: {runtime.state(cid)}")


def test_create_start_kill_delete(runtime, bundle):
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    state = runtime.state(cid)
    assert state["status"] == "created"
    assert state["id"] == cid and state["bundle"] == bundle.path
    assert state["rootfs"] == bundle.rootfs and state["ociVersion"] == "1.3.0"
    assert state["pid"] > 0 and os.path.exists(f"/proc/{state['pid']}")
    # the init has not run the program: it is still a pyruntime process
    with open(f"/proc/{state['pid']}/cmdline", "rb") as f:
        assert b"sleep" not in f.read()
    runtime.run("start", cid, check=True)
    state = wait_status(runtime, cid, "running")
    with open(f"/proc/{state['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    runtime.run("kill", cid, "KILL", check=True)
    state = wait_status(runtime, cid, "stopped")
    assert state["pid"] == 0
    runtime.run("delete", cid, check=True)
    assert runtime.run("state", cid).returncode != 0
    assert not os.path.exists(os.path.join(runtime.root, cid))


def test_state_notices_exit_by_itself(runtime, bundle):
    bundle.set_args("sh", "-c", "exit 0")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    runtime.run("start", cid, check=True)
    wait_status(runtime, cid, "stopped")  # nobody told pyruntime: it looks at the pid
    runtime.run("delete", cid, check=True)


def test_run_exit_codes(runtime, bundle):
    assert run_container(runtime, bundle, "sh", "-c", "exit 0")[0] == 0
    assert run_container(runtime, bundle, "sh", "-c", "exit 3")[0] == 3


def test_run_exit_by_signal_is_128_plus_n(runtime, bundle):
    # pid 1 of a pid namespace cannot signal itself to death: drop the pid namespace
    bundle.edit(lambda c: c["linux"].update(
        namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "pid"]))
    assert run_container(runtime, bundle, "sh", "-c", "kill -TERM $$")[0] == 128 + signal.SIGTERM


@contextlib.contextmanager
def running_in_foreground(runtime, bundle, *args: str):
    """`pyruntime run` of a sleeping container, in the foreground: yields (process, id) once running."""
    bundle.set_args(*args)
    cid = runtime.new_id()
    runtime.created.add(cid)
    proc = subprocess.Popen(runtime.cmd("run", "--bundle", bundle.path, cid),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_status(runtime, cid, "running")
        yield proc, cid
    finally:
        proc.kill()
        proc.wait()


def test_run_killed_from_outside(runtime, bundle):
    with running_in_foreground(runtime, bundle, "sleep", "60") as (proc, cid):
        runtime.run("kill", cid, "KILL", check=True)
        assert proc.wait(timeout=10) == 128 + signal.SIGKILL
    assert runtime.run("state", cid).returncode == 1  # run deleted it on the way out


def test_run_output_and_env(runtime, bundle):
    bundle.edit(lambda c: c["process"].update(env=["PATH=/bin", "GREETING=hi there"], cwd="/tmp"))
    code, out, err = run_container(runtime, bundle, "sh", "-c", 'echo "$GREETING from $(pwd) as $(id -u)"')
    assert code == 0, err
    assert out.strip() == "hi there from /tmp as 0"


def test_run_detached_then_delete_force(runtime, bundle):
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    assert runtime.state(cid)["status"] == "running"
    refused = runtime.run("delete", cid)
    assert refused.returncode == 1
    assert b"not stopped" in refused.stderr
    runtime.run("delete", "--force", cid, check=True)
    assert runtime.run("state", cid).returncode == 1


def test_kill_signal_forms(runtime, bundle):
    bundle.set_args("sleep", "60")
    for form in ("9", "KILL", "SIGKILL", "sigkill"):
        cid = runtime.new_id()
        runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
        runtime.run("kill", cid, form, check=True)
        wait_status(runtime, cid, "stopped")
        runtime.run("delete", cid, check=True)


def test_kill_without_a_signal_sends_term(runtime, bundle):
    # pid 1 of a namespace gets only the signals it handles: the trap says which one came
    bundle.set_args("sh", "-c", "trap 'echo TERM > /signal; exit 3' TERM; touch /ready; "
                                "while :; do sleep 0.05; done")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    wait_file(os.path.join(bundle.rootfs, "ready"))
    runtime.run("kill", cid, check=True)
    wait_status(runtime, cid, "stopped")
    with open(os.path.join(bundle.rootfs, "signal")) as f:
        assert f.read() == "TERM\n"
    runtime.run("delete", cid, check=True)


def test_kill_all_signals_every_process_of_the_container(runtime, bundle):
    """The init ignores TERM; its child does not: --all (with the default TERM) reached the child,
    which the init, left running, saw end."""
    # the child is made before the trap: an ignored signal would be inherited
    bundle.set_args("sh", "-c", "sleep 600 & echo $! > /child; trap '' TERM; wait $!; echo $? > /child-ended; "
                                "sleep 600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    wait_file(os.path.join(bundle.rootfs, "child"))
    runtime.run("kill", "--all", cid, check=True)  # default TERM, to every process
    wait_file(os.path.join(bundle.rootfs, "child-ended"))
    with open(os.path.join(bundle.rootfs, "child-ended")) as f:
        assert f.read() == "143\n"  # 128 + SIGTERM: the child died of the signal
    assert runtime.state(cid)["status"] == "running"  # the init ignored it
    runtime.run("delete", "--force", cid, check=True)


def wait_file(path: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_kill_stopped_container_is_refused(runtime, bundle):
    bundle.set_args("true")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    wait_status(runtime, cid, "stopped")
    proc = runtime.run("kill", cid, "KILL")
    assert proc.returncode == 1 and b"not running" in proc.stderr
    runtime.run("delete", cid, check=True)


def test_pid_file(runtime, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    pid_file = tmp_path / "init.pid"
    runtime.run("create", "--bundle", bundle.path, "--pid-file", str(pid_file), cid, check=True)
    assert int(pid_file.read_text()) == runtime.state(cid)["pid"]
    runtime.run("delete", cid, check=True)  # a created container is deleted without --force


def test_list_table_json_quiet(runtime, bundle):
    bundle.set_args("sleep", "60")
    ids = sorted(runtime.new_id() for _ in range(2))
    for cid in ids:
        runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    table = runtime.output("list").splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert [line.split()[0] for line in table[1:]] == ids
    assert all(line.split()[2] == "running" and line.split()[5] == "root" for line in table[1:])
    listed = json.loads(runtime.output("list", "--format", "json"))
    assert [c["id"] for c in listed] == ids and listed[0]["status"] == "running"
    assert runtime.output("list", "-q").split() == ids


def test_two_containers_at_once_are_isolated(runtime, bundle):
    bundle.set_args("sleep", "60")
    a, b = runtime.new_id(), runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, a, check=True)
    runtime.run("run", "-d", "--bundle", bundle.path, b, check=True)
    pa, pb = runtime.state(a)["pid"], runtime.state(b)["pid"]
    assert pa != pb
    assert os.stat(f"/proc/{pa}/ns/pid").st_ino != os.stat(f"/proc/{pb}/ns/pid").st_ino
    for cid in (a, b):
        runtime.run("delete", "--force", cid, check=True)


def test_start_twice_is_refused(runtime, bundle):
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    proc = runtime.run("start", cid)
    assert proc.returncode == 1
    assert b"cannot start a container that is running" in proc.stderr
    runtime.run("delete", "--force", cid, check=True)


def test_log_json_has_last_error(runtime, bundle):
    proc = runtime.run("start", "no-such-container")
    assert proc.returncode == 1
    with open(runtime.log) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    assert entries[-1]["level"] == "error"
    assert entries[-1]["msg"] == "container does not exist"
    assert set(entries[-1]) == {"level", "msg", "time"}


def test_log_text_format(runtime):
    import subprocess
    proc = subprocess.run(runtime.cmd("state", "nope", log_format="text"), capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "pyruntime: container does not exist\n"
    last = open(runtime.log).read().splitlines()[-1]
    assert last.startswith('time="') and last.endswith('level=error msg="container does not exist"')


def test_version_is_runc_parseable():
    import subprocess
    from helpers import PYRUNTIME
    out = subprocess.run([PYRUNTIME, "--version"], capture_output=True, check=True).stdout.decode()
    lines = out.splitlines()
    assert lines[0].startswith("runc version ")
    assert lines[1].startswith("commit: ") and lines[2].startswith("spec: ")
    assert any(line.startswith("pyruntime: ") for line in lines)


def test_the_launcher_reads_pyruntime_from_the_code_file(runtime, bundle):
    """install.sh's launcher serves pyruntime's modules from the file `startup.codeblob` makes at
    install (its descriptor stays open in the runtime; test_cve_2024_21626_fd_leak shows
    the container never gets it)."""
    with running_in_foreground(runtime, bundle, "sleep", "10") as (proc, cid):
        links = [os.readlink(f"/proc/{proc.pid}/fd/{n}") for n in os.listdir(f"/proc/{proc.pid}/fd")]
        assert any(link.endswith(f"/modules.{sys.implementation.cache_tag}.marshal") for link in links), links
        runtime.run("kill", cid, "KILL")
        proc.wait(10)


def test_the_readmes_first_command_runs_the_demo(tmp_path):
    """README line 1 (install.sh made the demo bundle): its container says hello from new namespaces."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
        first = f.read().split("```sh\n", 1)[1].splitlines()[0]
    install, run = first.split(" && ")
    assert install == "sudo ./install.sh" and run.startswith("sudo pyruntime run --bundle "), first
    argv = run.split()[1:]  # pyruntime run --bundle DEMO ID
    bundle = argv[argv.index("--bundle") + 1]
    with open(os.path.join(bundle, "config.json")) as f:
        namespaces = {ns["type"] for ns in json.load(f)["linux"]["namespaces"]}
    assert namespaces == {"pid", "mount", "uts", "ipc", "network", "cgroup"}  # what the greeting claims
    out = subprocess.run([argv[0], "--root", str(tmp_path / "state"), *argv[1:]], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    greeting, listing = out.stdout.splitlines()
    assert greeting == "hello from pyruntime: pid 1 in new pid, mount, uts, ipc, network and cgroup namespaces"
    assert {"cgroup", "ipc", "mnt", "net", "pid", "uts"} <= set(listing.split())
    assert os.listdir(tmp_path / "state") == []  # run removed the container it made


def cgroup_pids(cid: str) -> list[int]:
    """The container's processes, from its cgroup (v1 pids or v2)."""
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        path = os.path.join(base, "pyruntime", cid, "cgroup.procs")
        if os.path.exists(path):
            return [int(p) for p in open(path).read().split()]
    raise AssertionError(f"no cgroup for {cid}")


def test_kill_all_of_a_stopped_container_reaches_what_is_left(runtime, bundle, tmp_path):
    """As runc 1.1: containerd's shim runs `kill --all` on every task exit. In a pod's shared
    pid namespace the init's children outlive it; they must be signalled, and the command
    succeed."""
    bundle.set_args("sleep", "600")
    pod = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, pod, check=True)
    pod_pid = runtime.state(pod)["pid"]
    joined = tmp_path / "joined"
    subprocess.run(["cp", "-a", bundle.path, str(joined)], check=True)
    with open(joined / "config.json") as f:
        config = json.load(f)
    config["process"]["args"] = ["sh", "-c", "sleep 600 & echo started > /started"]
    config["linux"]["namespaces"] = [ns if ns["type"] != "pid" else {"type": "pid", "path": f"/proc/{pod_pid}/ns/pid"}
                                     for ns in config["linux"]["namespaces"]]
    with open(joined / "config.json", "w") as f:
        json.dump(config, f)
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", str(joined), cid, check=True)
    deadline = time.monotonic() + 10
    while runtime.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runtime.state(cid)["status"] == "stopped"
    left = cgroup_pids(cid)
    assert left, "the init's child should have outlived it"
    assert runtime.run("kill", cid, "KILL").returncode == 1  # the init itself: not running, as runc
    proc = runtime.run("kill", "--all", cid, "KILL")
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 10
    while cgroup_pids(cid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cgroup_pids(cid) == []


SHIM = r'''
import ctypes, os, subprocess, sys, threading
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: the init becomes ours when create exits
cmd, fifo = sys.argv[1:-1], sys.argv[-1]
subprocess.run([*cmd, "create", "--bundle", os.environ["BUNDLE"], os.environ["CID"]], check=True,
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
def reap():  # as a shim does: the init is reaped the moment it exits
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
threading.Thread(target=reap, daemon=True).start()
# start, with its open of exec.fifo held for 300 ms after it returns: the program runs and is
# reaped in that time
proc = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-P", fifo, "-e", "trace=openat",
                       "-e", "inject=openat:delay_exit=300000", *cmd, "start", os.environ["CID"]],
                      capture_output=True, text=True)
print(proc.returncode, proc.stderr.strip())
'''


def test_start_wins_against_a_program_that_exits_at_once(runtime, bundle, tmp_path):
    """start used to open exec.fifo (which lets the program run) before it took a pidfd of
    the init: a program that exits at once, reaped in that gap by the shim, made start fail
    although it ran (2 of 17 critest runs). Here start is slowed right after that open."""
    bundle.set_args("true")
    shim = tmp_path / "shim.py"
    shim.write_text(SHIM)
    for _ in range(3):
        cid = runtime.new_id()
        runtime.created.add(cid)
        fifo = os.path.join(runtime.root, cid, "exec.fifo")
        out = subprocess.run([sys.executable, str(shim), *runtime.cmd(), fifo], capture_output=True, text=True,
                             env=dict(os.environ, BUNDLE=bundle.path, CID=cid), timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "0", out.stdout  # start's status, and nothing on its stderr
        assert runtime.state(cid)["status"] == "stopped"


def test_quick_verbs_load_no_compiled_module(runtime, bundle):
    """start, kill and delete make their few kernel calls (pidfds, cgroup files) through Python's
    own wrappers: the cffi module is never loaded for them (0.7 ms of each call; issue 17)."""
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    with open("/opt/pyruntime/launcher.py") as f:  # the launcher's own path set-up, then main()
        setup = "".join(line for line in f if line.startswith(("import", "sys.path", "from pyruntime.startup",
                                                              "codeblob")))
    for verb in (["start", cid], ["kill", cid, "0"], ["delete", "--force", cid]):
        code = (setup + "from pyruntime.cli.main import main\nimport os\n"
                f"try:\n    main(['--root', {runtime.root!r}, *{verb!r}])\nfinally:\n"
                "    os.write(1, ' '.join(sys.modules).encode())\n")
        out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, (verb, out.stderr)
        loaded = out.stdout.split()
        assert "pyruntime.lifecycle" in " ".join(loaded), verb  # it did run the verb
        assert "_cffi_backend" not in loaded and "pyruntime._kernel" not in loaded, verb
