"""Kubernetes' view: containerd's CRI plugin with pyruntime as the `pyruntime` runtime handler, driven by crictl.

The image comes from a registry on the test namespace's loopback, the pod gets
its address from the CNI bridge plugin inside that namespace, and every
sandbox and container is created, started, exec'd into, updated and deleted
by pyruntime (its log.json entries in the shim's bundle say so).
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from clients import runtime_class

IMAGE = "127.0.0.1:5055/busybox:latest"
# the README's RuntimeClass: its handler name and its example pod's command
HANDLER, POD_COMMAND = runtime_class()


@pytest.fixture(scope="module")
def cri(containerd, registry):
    containerd.crictl("pull", IMAGE)
    return containerd


@pytest.fixture
def pod(cri, workdir):
    name = f"pod-{uuid.uuid4().hex[:6]}"
    config = os.path.join(workdir, f"{name}.json")
    with open(config, "w") as f:
        # pid namespace per container (mode CONTAINER), as kubelet asks unless shareProcessNamespace
        json.dump({"metadata": {"name": name, "namespace": "default", "uid": name},
                   "log_directory": os.path.join(workdir, "logs", name),
                   "linux": {"security_context": {"namespace_options": {"pid": 1}}}}, f)
    pod_id = cri.crictl("runp", "--runtime", HANDLER, config)
    yield pod_id, config
    cri.crictl("stopp", pod_id, check=False)
    cri.crictl("rmp", "-f", pod_id, check=False)


def create_container(cri, workdir, pod_id, pod_config, command) -> str:
    name = f"c-{uuid.uuid4().hex[:6]}"
    config = os.path.join(workdir, f"{name}.json")
    with open(config, "w") as f:
        json.dump({"metadata": {"name": name}, "image": {"image": IMAGE}, "command": command,
                   "log_path": f"{name}.log", "linux": {"security_context": {"namespace_options": {"pid": 1}}},
                   }, f)
    cid = cri.crictl("create", pod_id, config, pod_config)
    cri.crictl("start", cid)
    return cid


def bundle_log(cri, cid: str) -> list[str]:
    path = os.path.join(cri.workdir, "state", "io.containerd.runtime.v2.task", "k8s.io", cid, "log.json")
    with open(path) as f:
        return [json.loads(line)["msg"] for line in f if line.strip()]


def host_cgroup(pid: int, controller: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controller in controllers.split(",") or controllers == "":
                root = "/sys/fs/cgroup" if controllers == "" else f"/sys/fs/cgroup/{controller}"
                return root + path
    raise AssertionError(f"no {controller} cgroup for {pid}")


def test_pod_lifecycle(cri, workdir, pod):
    pod_id, pod_config = pod
    inspect = json.loads(cri.crictl("inspectp", pod_id))
    assert inspect["status"]["state"] == "SANDBOX_READY"
    assert inspect["info"]["runtimeHandler"] == HANDLER == "pyruntime"
    ip = inspect["status"]["network"]["ip"]
    assert ip.startswith("10.222.0.")
    assert any(m.startswith("pyruntime ") and "created container" in m for m in bundle_log(cri, pod_id))

    cid = create_container(cri, workdir, pod_id, pod_config, POD_COMMAND)
    msgs = bundle_log(cri, cid)
    assert f"started container {cid}" in msgs

    # the container shares the sandbox's network namespace: it sees the pod's address
    assert f"inet {ip}/24" in cri.crictl("exec", cid, "ip", "-4", "addr", "show", "eth0")
    assert cri.crictl("exec", cid, "sh", "-c", "echo hi from $$").startswith("hi from ")
    proc = subprocess.run(cri.crictl_argv("exec", cid, "sh", "-c", "exit 4"), capture_output=True, timeout=60)
    assert b"command terminated with exit code 4" in proc.stderr  # crictl's own exit status is 1
    assert any(m.startswith(f"exec in container {cid}") for m in bundle_log(cri, cid))

    logs = cri.crictl("logs", cid)
    assert logs == "hello from pyruntime"

    stats = cri.crictl("stats", "-o", "json", "--id", cid)
    entry = json.loads(stats)["stats"][0]
    assert entry["attributes"]["id"] == cid
    assert int(entry["memory"]["workingSetBytes"]["value"]) > 0

    cri.crictl("update", "--memory", str(64 << 20), "--cpu-quota", "20000", cid)
    pid = json.loads(cri.crictl("inspect", cid))["info"]["pid"]
    with open(os.path.join(host_cgroup(pid, "memory"), "memory.limit_in_bytes")) as f:
        assert int(f.read()) == 64 << 20
    with open(os.path.join(host_cgroup(pid, "cpu"), "cpu.cfs_quota_us")) as f:
        assert int(f.read()) == 20000

    cri.crictl("stop", "-t", "2", cid)
    state = json.loads(cri.crictl("inspect", cid))["status"]
    # sh as pid 1 has no TERM handler, so TERM does nothing: containerd escalates to KILL
    assert state["state"] == "CONTAINER_EXITED" and state["exitCode"] == 137
    cri.crictl("rm", cid)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
    assert cri.crictl("pods", "-q") == ""
    assert cri.crictl("ps", "-a", "-q") == ""
    # pyruntime's own view: no containers left in the shim's --root
    root = os.path.join(workdir, "runtime-state", "k8s.io")
    assert not os.path.exists(root) or os.listdir(root) == []


def test_exec_with_tty(cri, workdir, pod):
    pod_id, pod_config = pod
    cid = create_container(cri, workdir, pod_id, pod_config, ["sleep", "1000"])
    # crictl exec -it wants a terminal of its own: script(1) gives it one
    argv = cri.crictl_argv("exec", "-it", cid, "sh", "-c", "tty; exit 6")
    proc = subprocess.run(["script", "-qec", " ".join(argv), "/dev/null"], capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout.decode()
    assert "/dev/pts/" in out, out
    assert proc.returncode == 6, out
