"""pyruntime-cri driven by crictl, as kubelet would drive it: pods on a CNI bridge in the test's
network namespace, images from the registry there, containers watched by conmon and run by
pyruntime. Every flow ends with nothing of it left: no conmon, mount, pin or runtime state."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid

import pytest

from clients import REGISTRY_PORT, wait_for

BUSYBOX = f"127.0.0.1:{REGISTRY_PORT}/busybox:latest"
HTTPD = f"127.0.0.1:{REGISTRY_PORT}/httpd:latest"


@pytest.fixture(scope="module")
def cri(cri_adapter):
    cri_adapter.crictl("pull", BUSYBOX)
    cri_adapter.crictl("pull", HTTPD)
    return cri_adapter


@pytest.fixture(autouse=True)
def no_pods_after(cri):
    """A test that fails half way leaves its pods; remove them so the next test starts clean."""
    yield
    for pod in cri.crictl("pods", "-q", check=False).split():
        cri.crictl("rmp", "-f", pod, check=False)


def write(directory: str, doc: dict) -> str:
    path = os.path.join(directory, f"{uuid.uuid4().hex[:8]}.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def pod_config(cri, name: str, **extra) -> str:
    doc = {"metadata": {"name": name, "namespace": "default", "uid": uuid.uuid4().hex},
           "log_directory": os.path.join(cri.dir, "logs", name), **extra}
    return write(cri.dir, doc)


def container_config(cri, name: str, image: str = BUSYBOX, **extra) -> str:
    return write(cri.dir, {"metadata": {"name": name}, "image": {"image": image}, "log_path": f"{name}.log",
                           **extra})


def run_container(cri, pod: str, pod_file: str, name: str, **extra) -> str:
    cid = cri.crictl("create", pod, container_config(cri, name, **extra), pod_file)
    cri.crictl("start", cid)
    return cid


def state(cri, cid: str) -> dict:
    return cri.inspect("inspect", cid)["status"]


def nothing_left(cri) -> None:
    assert cri.crictl("pods", "-q") == "" and cri.crictl("ps", "-aq") == ""
    assert cri.conmons() == []
    with open("/proc/self/mountinfo") as f:
        assert [line for line in f if cri.dir + "/root/" in line or cri.dir + "/state/" in line] == []
    runtime_state = os.path.join(cri.dir, "state", "runtimes", "pyruntime")
    assert not os.path.isdir(runtime_state) or os.listdir(runtime_state) == []


def test_crictl_flow(cri):
    pod_file = pod_config(cri, "flow", hostname="flowhost")
    pod = cri.crictl("runp", pod_file)
    status = cri.inspect("inspectp", pod)["status"]
    assert status["state"] == "SANDBOX_READY" and status["network"]["ip"].startswith("10.222.0.")
    cid = run_container(cri, pod, pod_file, "main", command=["sh", "-c", "echo hello; hostname; sleep 1000"])
    assert cri.crictl("ps", "-q", "--name", "main") == cid
    wait_for(lambda: "flowhost" in cri.crictl("logs", cid), "the container's output")
    assert cri.crictl("logs", cid).splitlines() == ["hello", "flowhost"]
    with open(os.path.join(cri.dir, "logs", "flow", "main.log")) as f:  # the CRI log format, by conmon
        first = f.readline().split(" ", 3)
    assert first[1:] == ["stdout", "F", "hello\n"]
    # ExecSync: output and exit status, with the container's own address on the bridge
    assert status["network"]["ip"] in cri.crictl("exec", "-s", cid, "ip", "-4", "addr", "show", "eth0")
    proc = subprocess.run(cri.crictl_argv("exec", "-s", cid, "sh", "-c", "echo oops >&2; exit 3"),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "exited with 3: oops" in proc.stderr
    assert cid[:13] in cri.crictl("stats", "--id", cid)
    cri.crictl("stop", "--timeout", "10", cid)  # sh ignores TERM as pid 1: KILL after the timeout... or TERM
    st = state(cri, cid)
    assert st["state"] == "CONTAINER_EXITED" and st["exitCode"] in (137, 143) and st["reason"] == "Error"
    cri.crictl("rm", cid)
    cri.crictl("stopp", pod)
    cri.crictl("stopp", pod)  # idempotent
    cri.crictl("rmp", pod)
    nothing_left(cri)


def test_completed_container_reports_its_exit(cri):
    pod_file = pod_config(cri, "done")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "job", command=["sh", "-c", "exit 0"])
    wait_for(lambda: state(cri, cid)["state"] == "CONTAINER_EXITED", "the job's exit")
    st = state(cri, cid)
    assert st["exitCode"] == 0 and st["reason"] == "Completed" and st["finishedAt"] >= st["startedAt"]
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_pods_talk_over_the_bridge_and_a_host_port(cri):
    web_file = pod_config(cri, "web", port_mappings=[{"container_port": 80, "host_port": 18080}])
    web = cri.crictl("runp", web_file)
    run_container(cri, web, web_file, "httpd", image=HTTPD)
    web_ip = cri.inspect("inspectp", web)["status"]["network"]["ip"]
    client_file = pod_config(cri, "client")
    client = cri.crictl("runp", client_file)
    cid = run_container(cri, client, client_file, "sleeper", command=["sleep", "1000"])

    def fetch() -> bool:
        proc = subprocess.run(cri.crictl_argv("exec", "-s", cid, "wget", "-qO-", f"http://{web_ip}/"),
                              capture_output=True, text=True)
        return "hello from busybox httpd" in proc.stdout
    wait_for(fetch, "pod to pod over the bridge")
    # the host port, from the test's namespace (portmap's DNAT there)
    probe = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:18080/', timeout=5).read().decode())"
    wait_for(lambda: "hello" in subprocess.run(cri.netns.cmd("python3", "-c", probe), capture_output=True,
                                               text=True).stdout, "the host port")
    cri.crictl("rmp", "-f", web, client)
    nothing_left(cri)


def test_shared_pid_namespace_has_the_infra_process_as_pid_1(cri):
    pod_file = pod_config(cri, "shared")  # namespace_options.pid unset: POD, shared by the pod's containers
    pod = cri.crictl("runp", pod_file)
    a = run_container(cri, pod, pod_file, "a", command=["sleep", "1001"])
    b = run_container(cri, pod, pod_file, "b", command=["sleep", "1002"])
    out = cri.crictl("exec", "-s", b, "ps", "-o", "pid,args")
    assert "sleep 1001" in out and "1 /bin/sleep 2147483647" in " ".join(out.split())
    del a
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_restart_keeps_every_pod_container_and_exit_status(cri):
    pod_file = pod_config(cri, "restart")
    pod = cri.crictl("runp", pod_file)
    done = run_container(cri, pod, pod_file, "done", command=["sh", "-c", "exit 7"])
    alive = run_container(cri, pod, pod_file, "alive", command=["sh", "-c", "trap 'exit 5' TERM; sleep 1000 & wait"])
    wait_for(lambda: state(cri, done)["state"] == "CONTAINER_EXITED", "the first container's exit")
    cri.kill()
    # while the adapter is gone, the running container goes on (its conmon outlives the adapter)
    assert len(cri.conmons()) >= 2
    cri.start()
    assert state(cri, done)["exitCode"] == 7 and state(cri, alive)["state"] == "CONTAINER_RUNNING"
    assert cri.inspect("inspectp", pod)["status"]["state"] == "SANDBOX_READY"
    cri.crictl("stop", "--timeout", "30", alive)
    assert state(cri, alive)["exitCode"] == 5
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_adapter_killed_during_creates_leaves_nothing_half_made(cri):
    """SIGKILL while pods and containers are being made; a restart undoes the half-made ones."""
    procs = []
    for i in range(4):
        pod_file = pod_config(cri, f"storm{i}")
        ctr = container_config(cri, f"c{i}", command=["sleep", "1000"])
        procs.append(subprocess.Popen(["sh", "-c", " ".join(cri.crictl_argv("run", ctr, pod_file))],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(lambda: os.listdir(os.path.join(cri.dir, "root", "pods")), "a pod under way")
    os.kill(cri.proc.pid, signal.SIGKILL)
    cri.proc.wait()
    cri.log.close()
    for p in procs:
        p.wait(60)
    cri.start()
    pods = cri.crictl("pods", "-q").split()
    for pod in pods:  # what survived is whole: ready pods with their namespaces pinned
        assert cri.inspect("inspectp", pod)["status"]["state"] == "SANDBOX_READY"
    for cid in cri.crictl("ps", "-aq").split():
        assert state(cri, cid)["state"] in ("CONTAINER_CREATED", "CONTAINER_RUNNING")
    for pod in pods:
        cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


@pytest.mark.parametrize("case", ["no-pod", "duplicate", "host-path", "no-command", "big-annotation", "no-id"])
def test_bad_requests_get_the_right_code_and_leave_nothing(cri, case):
    pod_file = pod_config(cri, f"bad-{case}")
    pod = cri.crictl("runp", pod_file)
    args = {"no-pod": ("create", "0" * 64, container_config(cri, "x"), pod_file),
            "duplicate": ("create", pod, container_config(cri, "twin"), pod_file),
            "host-path": ("create", pod, container_config(cri, "hp", mounts=[
                {"container_path": "/data", "host_path": "/nonexistent/pyruntime"}]), pod_file),
            "no-command": ("create", pod, container_config(cri, "nc", command=["/no/such/program"]), pod_file),
            "big-annotation": ("create", pod, container_config(cri, "big", annotations={"a": "x" * (2 << 20)}),
                               pod_file),
            "no-id": ("inspect", "f" * 64)}[case]
    if case == "duplicate":
        cri.crictl(*args)
    proc = subprocess.run(cri.crictl_argv(*args), capture_output=True, text=True)
    code = {"no-pod": "NotFound", "duplicate": "AlreadyExists", "host-path": "InvalidArgument",
            "no-command": "InvalidArgument", "big-annotation": "InvalidArgument", "no-id": "NotFound"}[case]
    assert proc.returncode != 0 and f"code = {code}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(cri.crictl("ps", "-aq").split()) == (1 if case == "duplicate" else 0)
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)
