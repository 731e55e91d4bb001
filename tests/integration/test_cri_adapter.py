"""pyruntime-cri driven by crictl, as kubelet would drive it: pods on a CNI bridge in the test's
network namespace, images from the registry there, containers watched by conmon and run by
pyruntime. Every flow ends with nothing of it left: no conmon, mount, pin or runtime state."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid

import pytest

from clients import REGISTRY_PORT, CriAdapter, wait_for

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
    # conmon writes the exit file, then drains the container's output and exits: a moment later
    wait_for(lambda: cri.conmons() == [], "every conmon to exit")
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
                {"container_path": "/data", "host_path": "/etc/hostname/cannot-be-made"}]), pod_file),
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


def test_a_missing_host_path_is_made_as_a_directory(cri, tmp_path):
    """As containerd and CRI-O do (kubelet's hostPath types "" and DirectoryOrCreate rely on it)."""
    source = tmp_path / "made" / "by" / "adapter"
    pod_file = pod_config(cri, "made")
    pod = cri.crictl("runp", pod_file)
    try:
        run_container(cri, pod, pod_file, "writer", command=["sh", "-c", "echo hi > /data/out; sleep 600"],
                      mounts=[{"container_path": "/data", "host_path": str(source)}])
        wait_for(lambda: (source / "out").exists() and (source / "out").read_text() == "hi\n",
                 "the container's file in the directory made for it")
        assert oct(source.stat().st_mode & 0o777) == "0o755"
    finally:
        cri.crictl("rmp", "-f", pod)


# streaming: exec, attach, port-forward through the adapter's streaming server (SPDY) ------------------

def running_pod(cri, name: str, **container) -> tuple[str, str]:
    pod_file = pod_config(cri, name)
    pod = cri.crictl("runp", pod_file)
    return pod, run_container(cri, pod, pod_file, "main", **container)


def test_exec_streams_stdin_stdout_stderr_and_the_exit_code(cri):
    pod, cid = running_pod(cri, "exec", command=["sleep", "1000"])
    proc = subprocess.run(cri.crictl_argv("exec", "-i", cid, "sh", "-c", "read x; echo got $x; echo e >&2; exit 3"),
                          input="hello\n", capture_output=True, text=True, timeout=60)
    assert proc.stdout == "got hello\n" and "e\n" in proc.stderr
    assert proc.returncode == 1 and "exit code 3" in proc.stderr  # crictl's way of reporting it
    proc = subprocess.run(cri.crictl_argv("exec", cid, "no-such-program"), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "'no-such-program' not found" in proc.stderr, proc.stderr
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_exec_with_a_terminal_and_its_size(cri):
    pod, cid = running_pod(cri, "tty", command=["sleep", "1000"])
    # script(1) lends crictl a terminal, as a person's would be, 33 rows by 77 columns; crictl sends
    # that size as a resize event, which must reach the container's pty before the command asks
    command = " ".join(cri.crictl_argv("exec", "-it", cid, "sh", "-c",
                                       "tty; test -t 0 && echo term; for i in 1 2 3 4 5 6 7 8 9 10; do "
                                       "stty size | grep -q '33 77' && break; sleep 0.2; done; stty size"))
    proc = subprocess.run(["script", "-qec", f"stty rows 33 cols 77; {command}", "/dev/null"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "/dev/pts/" in proc.stdout and "term" in proc.stdout and "33 77" in proc.stdout, proc.stdout
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_attach_to_a_container_with_stdin(cri):
    pod_file = pod_config(cri, "attach")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "main", stdin=True, stdin_once=True,
                        command=["sh", "-c", "read line; echo got $line; echo bye >&2"])
    proc = subprocess.run(cri.crictl_argv("attach", "-i", cid), input="ping\n", capture_output=True, text=True,
                          timeout=60)
    assert "got ping" in proc.stdout and "bye" in proc.stderr
    wait_for(lambda: state(cri, cid)["state"] == "CONTAINER_EXITED", "the attached container's exit")
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


@pytest.mark.parametrize("transport", ["spdy", "websocket"])
def test_port_forward_into_the_pod(cri, transport):
    pod_file = pod_config(cri, "pf")
    pod = cri.crictl("runp", pod_file)
    run_container(cri, pod, pod_file, "httpd", image=HTTPD)
    run_container(cri, pod, pod_file, "httpd2", image=HTTPD, args=["-f", "-p", "8080", "-h", "/www"])
    forward = subprocess.Popen(cri.crictl_argv("port-forward", "--transport", transport, pod, "18181:80",
                                               "18183:8080"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "Forwarding from" in forward.stdout.readline()
        # both ports at once, several connections each, through one session
        probe = ("import urllib.request, concurrent.futures as cf\n"
                 "urls = ['http://127.0.0.1:18181/', 'http://127.0.0.1:18183/'] * 3\n"
                 "with cf.ThreadPoolExecutor(6) as pool:\n"
                 "    print(sum('hello from busybox httpd' in r for r in pool.map("
                 "lambda u: urllib.request.urlopen(u, timeout=10).read().decode(), urls)))")
        out = subprocess.run(cri.netns.cmd("python3", "-c", probe), capture_output=True, text=True, timeout=30)
        if out.stdout.strip() != "6":
            forward.terminate()
            raise AssertionError(f"{out.stderr[-300:]}\ncrictl: {forward.communicate()[0]}")
    finally:
        forward.terminate()
        forward.wait()
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_twenty_execs_at_once(cri):
    pod, cid = running_pod(cri, "many", command=["sleep", "1000"])
    procs = [subprocess.Popen(cri.crictl_argv("exec", cid, "sh", "-c", f"echo {i}"), stdout=subprocess.PIPE,
                              text=True) for i in range(20)]
    assert sorted(int(p.communicate(timeout=120)[0]) for p in procs) == list(range(20))
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_a_client_that_vanishes_leaves_no_process_in_the_container(cri):
    pod, cid = running_pod(cri, "vanish", command=["sleep", "1000"])
    fds = len(os.listdir(f"/proc/{cri.proc.pid}/fd"))
    client = subprocess.Popen(cri.crictl_argv("exec", cid, "sleep", "4242"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    wait_for(lambda: "sleep 4242" in cri.crictl("exec", "-s", cid, "ps", "-o", "args"), "the exec'd program")
    client.kill()  # no goodbye: the connection just drops
    client.wait()
    wait_for(lambda: "sleep 4242" not in cri.crictl("exec", "-s", cid, "ps", "-o", "args"),
             "the exec'd program to be killed")
    # and the adapter holds no more descriptors than before (no connection, pipe or pidfd left)
    wait_for(lambda: len(os.listdir(f"/proc/{cri.proc.pid}/fd")) <= fds, "the adapter's descriptors")
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_streaming_urls_are_single_use_and_bad_requests_are_refused(cri):
    import grpc
    import http.client

    from cri_adapter._proto import cri_pb2 as pb
    from cri_adapter._proto import cri_pb2_grpc
    pod, cid = running_pod(cri, "urls", command=["sleep", "1000"])
    stub = cri_pb2_grpc.RuntimeServiceStub(grpc.insecure_channel(f"unix://{cri.socket}"))
    url = stub.Exec(pb.ExecRequest(container_id=cid, cmd=["true"], stdout=True)).url
    url2 = stub.Exec(pb.ExecRequest(container_id=cid, cmd=["true"], stdout=True)).url
    # the streaming server listens in the adapter's namespace: ask from there
    probe = f"""
import http.client, urllib.parse, socket
u = urllib.parse.urlparse({url!r})
u2 = urllib.parse.urlparse({url2!r})
def post(path, headers):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", path, headers=headers)
    return c.getresponse().status
spdy = {{"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io"}}
print(post(u.path, {{}}))                      # not an upgrade: 400 (and the token is not spent)
print(post(u.path, spdy))                      # 101
print(post(u.path, spdy))                      # the same token again: 404
print(post("/exec/forged", spdy))              # 404
s = socket.create_connection((u.hostname, u.port)); s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nX: " + b"a" * 100000 + b"\\r\\n\\r\\n")
print(len(s.recv(100)) >= 0)
# upgraded with a fresh token, then a SPDY frame whose length is a lie: the connection is dropped
s = socket.create_connection((u.hostname, u.port), timeout=10)
s.sendall(f"POST {{u2.path}} HTTP/1.1\\r\\nHost: x\\r\\nConnection: Upgrade\\r\\nUpgrade: SPDY/3.1\\r\\n"
          "X-Stream-Protocol-Version: v4.channel.k8s.io\\r\\n\\r\\n".encode())
head = b""
while b"\\r\\n\\r\\n" not in head:
    head += s.recv(1000)
s.sendall(b"\\x80\\x03\\x00\\x06\\x00\\x00\\x00\\x05hello")  # a PING of 5 bytes
rest = b""
while chunk := s.recv(1000):
    rest += chunk
print(head.split()[1].decode(), "closed")
"""
    out = subprocess.run(cri.netns.cmd("python3", "-c", probe), capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["400", "101", "404", "404", "True", "101", "closed"], out.stderr
    assert stub.Version(pb.VersionRequest()).runtime_name == "pyruntime-cri"  # the server lives on
    del http.client
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_a_runtime_class_handler_picks_the_oci_runtime(cri):
    """The same conversion, run by runc for the `runc` handler: its state lists the container, pyruntime's not."""
    pod_file = pod_config(cri, "handler")
    pod = cri.crictl("runp", "--runtime", "runc", pod_file)
    cid = run_container(cri, pod, pod_file, "main", command=["sleep", "1000"])
    assert cri.inspect("inspectp", pod)["status"]["runtimeHandler"] == "runc"
    runc_state = os.path.join(cri.dir, "state", "runtimes", "runc")
    listed = subprocess.run(["runc", "--root", runc_state, "list", "-q"], capture_output=True, text=True).stdout
    assert cid in listed.split()
    assert cri.crictl("exec", "-s", cid, "echo", "hi") == "hi"
    cri.crictl("rmp", "-f", pod)
    assert subprocess.run(["runc", "--root", runc_state, "list", "-q"], capture_output=True, text=True).stdout == ""
    nothing_left(cri)


def test_container_events_stream(cri):
    import grpc

    from cri_adapter._proto import cri_pb2 as pb
    from cri_adapter._proto import cri_pb2_grpc
    stub = cri_pb2_grpc.RuntimeServiceStub(grpc.insecure_channel(f"unix://{cri.socket}"))
    events = stub.GetContainerEvents(pb.GetEventsRequest())
    pod, cid = running_pod(cri, "events", command=["sleep", "1000"])
    cri.crictl("stop", cid)
    cri.crictl("rm", cid)
    seen = []
    for event in events:
        if event.container_id == cid:
            seen.append(pb.ContainerEventType.Name(event.container_event_type))
        if len(seen) == 4:
            break
    events.cancel()
    assert seen == ["CONTAINER_CREATED_EVENT", "CONTAINER_STARTED_EVENT", "CONTAINER_STOPPED_EVENT",
                    "CONTAINER_DELETED_EVENT"]
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_exec_and_attach_over_websocket(cri):
    pod_file = pod_config(cri, "ws")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "main", command=["sleep", "1000"])
    proc = subprocess.run(cri.crictl_argv("exec", "--transport", "websocket", "-i", cid, "sh", "-c",
                                          "read x; echo got $x; echo e >&2; exit 3"),
                          input="hello\n", capture_output=True, text=True, timeout=60)
    assert proc.stdout == "got hello\n" and "e\n" in proc.stderr and "exit code 3" in proc.stderr
    tty = subprocess.run(["script", "-qec", " ".join(cri.crictl_argv("exec", "--transport", "websocket", "-it",
                                                                       cid, "tty")), "/dev/null"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "/dev/pts/" in tty.stdout
    attached = run_container(cri, pod, pod_file, "att", stdin=True, stdin_once=True,
                             command=["sh", "-c", "read line; echo got $line"])
    proc = subprocess.run(cri.crictl_argv("attach", "--transport", "websocket", "-i", attached), input="ping\n",
                          capture_output=True, text=True, timeout=60)
    assert "got ping" in proc.stdout, proc.stderr
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_two_clients_attached_at_once_both_see_the_output(cri):
    pod_file = pod_config(cri, "attach2")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "main", stdin=True,
                        command=["sh", "-c", "while read line; do echo got $line; done"])
    watcher = subprocess.Popen(cri.crictl_argv("attach", cid), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    talker = subprocess.Popen(cri.crictl_argv("attach", "-i", cid), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        # until the watcher is attached it misses lines: say hello until it hears one
        heard = []
        reader = threading.Thread(target=lambda: heard.append(watcher.stdout.readline()), daemon=True)
        reader.start()
        while not heard:
            talker.stdin.write("hello\n")
            talker.stdin.flush()
            reader.join(0.2)
        assert heard == ["got hello\n"] and talker.stdout.readline() == "got hello\n"
    finally:
        for proc in (talker, watcher):
            proc.kill()
            proc.wait()
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_port_forward_to_a_closed_port_says_so(cri):
    pod_file = pod_config(cri, "pfclosed")
    pod = cri.crictl("runp", pod_file)
    run_container(cri, pod, pod_file, "main", command=["sleep", "1000"])
    forward = subprocess.Popen(cri.crictl_argv("port-forward", pod, "18182:81"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert "Forwarding from" in forward.stdout.readline()
        probe = "import socket; s = socket.create_connection(('127.0.0.1', 18182), 5); print(s.recv(10))"
        subprocess.run(cri.netns.cmd("python3", "-c", probe), capture_output=True, timeout=30)
        out = ""
        while "refused" not in out:
            out += forward.stdout.readline()
        assert "an error occurred forwarding 81 -> 81" in out and "refused" in out
    finally:
        forward.terminate()
        forward.wait()
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_streaming_over_tls(netns, workdir, registry, tmp_path):
    """With stream_tls_cert/key the URLs are https: crictl trusting that certificate execs; plain HTTP is refused."""
    cert, key = tmp_path / "stream.crt", tmp_path / "stream.key"
    client_cert, client_key = tmp_path / "client.crt", tmp_path / "client.key"  # crictl insists on presenting one
    for c, k, name in ((cert, key, "pyruntime-cri"), (client_cert, client_key, "crictl")):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(k), "-out", str(c)],
                       check=True, capture_output=True)
    flags = ["--tls-cert", str(client_cert), "--tls-key", str(client_key)]
    tls = CriAdapter(netns, workdir, name="tls", extra=f'stream_tls_cert = "{cert}"\nstream_tls_key = "{key}"')
    try:
        tls.crictl("pull", BUSYBOX)
        pod_file = pod_config(tls, "tls")
        pod = tls.crictl("runp", pod_file)
        cid = run_container(tls, pod, pod_file, "main", command=["sleep", "1000"])
        proc = subprocess.run(tls.crictl_argv("exec", *flags, "--tls-ca", str(cert), cid, "echo", "over tls"),
                              capture_output=True, text=True, timeout=60)
        assert proc.stdout == "over tls\n", proc.stderr
        proc = subprocess.run(tls.crictl_argv("exec", *flags, "--tls-ca", str(client_cert), cid, "true"),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and "certificate" in proc.stderr  # the server's is not the one trusted
        tls.crictl("rmp", "-f", pod)
        nothing_left(tls)
    finally:
        tls.close()


def test_attach_to_a_container_with_a_terminal(cri):
    pod_file = pod_config(cri, "attachtty")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "main", stdin=True, tty=True,
                        command=["sh", "-c", "read line; echo got $line; tty"])
    proc = subprocess.run(["script", "-qec", " ".join(cri.crictl_argv("attach", "-i", "-t", cid)), "/dev/null"],
                          input="ping\n", capture_output=True, text=True, timeout=60)
    assert "got ping" in proc.stdout and "/dev/pts/" in proc.stdout, proc.stdout + proc.stderr
    wait_for(lambda: state(cri, cid)["state"] == "CONTAINER_EXITED", "the attached container's exit")
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_a_pods_containers_share_dev_shm(cri):
    pod_file = pod_config(cri, "shm")
    pod = cri.crictl("runp", pod_file)
    a = run_container(cri, pod, pod_file, "a", command=["sleep", "1000"])
    b = run_container(cri, pod, pod_file, "b", command=["sleep", "1000"])
    cri.crictl("exec", "-s", a, "sh", "-c", "echo shared > /dev/shm/note")
    assert cri.crictl("exec", "-s", b, "cat", "/dev/shm/note") == "shared"
    other_file = pod_config(cri, "other")
    other = cri.crictl("runp", other_file)
    c = run_container(cri, other, other_file, "c", command=["sleep", "1000"])
    assert subprocess.run(cri.crictl_argv("exec", "-s", c, "cat", "/dev/shm/note"), capture_output=True).returncode
    cri.crictl("rmp", "-f", pod, other)
    nothing_left(cri)


def test_a_container_killed_for_memory_says_oomkilled(cri):
    pod_file = pod_config(cri, "oom")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "hog", command=["sh", "-c", "x=$(yes | head -c 200000000); echo $x"],
                        linux={"resources": {"memory_limit_in_bytes": 32 << 20}})
    wait_for(lambda: state(cri, cid)["state"] == "CONTAINER_EXITED", "the memory hog's end", timeout=60)
    st = state(cri, cid)
    assert st["reason"] == "OOMKilled" and st["exitCode"] == 137, st
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_update_resources_reaches_the_cgroup_and_the_status(cri):
    pod, cid = running_pod(cri, "update", command=["sleep", "1000"],
                           linux={"resources": {"memory_limit_in_bytes": 64 << 20}})
    assert state(cri, cid)["resources"]["linux"]["memoryLimitInBytes"] == str(64 << 20)
    cri.crictl("update", "--memory", str(96 << 20), cid)
    assert state(cri, cid)["resources"]["linux"]["memoryLimitInBytes"] == str(96 << 20)
    limit = cri.crictl("exec", "-s", cid, "sh", "-c",
                       "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert limit == str(96 << 20)
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


def test_an_image_mounted_as_a_read_only_volume(cri):
    """A mount of an image (Kubernetes' image volumes): its files, read-only, whole or one sub path;
    the image cannot be removed while a container mounts it; nothing is mounted after removal."""
    pod_file = pod_config(cri, "imagevol")
    pod = cri.crictl("runp", pod_file)
    cid = run_container(cri, pod, pod_file, "main", command=["sleep", "1000"], mounts=[
        {"container_path": "/image", "image": {"image": BUSYBOX}, "readonly": True},
        {"container_path": "/etc-of-image", "image": {"image": BUSYBOX}, "readonly": True,
         "image_sub_path": "etc"}])
    out = cri.crictl("exec", cid, "sh", "-c", "ls /image/bin/busybox /etc-of-image/passwd; "
                                             "touch /image/x 2>&1; touch /etc-of-image/y 2>&1; true")
    assert "/image/bin/busybox" in out and "/etc-of-image/passwd" in out, out
    assert out.count("Read-only file system") == 2, out
    mounts = {m["containerPath"]: m for m in state(cri, cid)["mounts"]}
    assert mounts["/image"]["image"]["image"] == BUSYBOX
    assert mounts["/image"]["image"]["imageRef"] == cri.crictl("images", "-q", BUSYBOX)
    proc = subprocess.run(cri.crictl_argv("rmi", BUSYBOX), capture_output=True, text=True)
    assert proc.returncode != 0 and "code = FailedPrecondition" in proc.stderr and "in use" in proc.stderr
    for mount, problem in (({"readonly": False}, "read-only"), ({"image_sub_path": "no/such"}, "does not exist")):
        proc = subprocess.run(cri.crictl_argv("create", pod, container_config(
            cri, "bad", command=["true"], mounts=[dict({"container_path": "/image", "image": {"image": BUSYBOX},
                                                       "readonly": True}, **mount)]), pod_file),
            capture_output=True, text=True)
        assert proc.returncode != 0 and problem in proc.stderr, proc.stderr
    cri.crictl("rmp", "-f", pod)
    nothing_left(cri)


CNI_IP_RANGES = '''{"cniVersion": "0.4.0", "name": "pyruntime-cidr", "plugins": [
  {"type": "bridge", "bridge": "pyrtcidr", "isGateway": true, "ipMasq": false, "capabilities": {"ipRanges": true},
   "ipam": {"type": "host-local", "dataDir": "%s"}},
  {"type": "loopback"}]}'''  # no ranges of its own: the node's pod CIDR is the range


def test_the_pod_cidr_from_update_runtime_config_reaches_cni(netns, workdir, registry):
    """kubelet tells the runtime the node's pod CIDR (UpdateRuntimeConfig): pods get addresses from it,
    through the ipRanges capability of the CNI conventions (host-local)."""
    import grpc

    from cri_adapter._proto import cri_pb2 as pb
    from cri_adapter._proto import cri_pb2_grpc
    adapter = CriAdapter(netns, workdir, cni=CNI_IP_RANGES, name="cidr")
    try:
        adapter.crictl("pull", f"127.0.0.1:{REGISTRY_PORT}/pause:latest")
        stub = cri_pb2_grpc.RuntimeServiceStub(grpc.insecure_channel(f"unix://{adapter.socket}"))
        stub.UpdateRuntimeConfig(pb.UpdateRuntimeConfigRequest(runtime_config=pb.RuntimeConfig(
            network_config=pb.NetworkConfig(pod_cidr="10.224.7.0/24"))))
        pod = adapter.crictl("runp", pod_config(adapter, "cidr"))
        assert adapter.inspect("inspectp", pod)["status"]["network"]["ip"].startswith("10.224.7.")
        adapter.crictl("rmp", "-f", pod)
    finally:
        adapter.close()


def test_cri_metrics_of_a_running_pod(cri):
    """crictl metricdescs and metricsp: cadvisor's container_* metrics from the container's cgroup and
    processes, and the pod's network counters, each with the labels its descriptor names."""
    pod, cid = running_pod(cri, "metrics", command=["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
                           linux={"resources": {"memory_limit_in_bytes": 64 << 20, "cpu_shares": 512}})
    descs = {d["name"]: d for d in json.loads(cri.crictl("metricdescs", "-o", "json"))["descriptors"]}
    assert "container_memory_working_set_bytes" in descs and descs["container_network_receive_bytes_total"]["labelKeys"]
    found = next(p for p in json.loads(cri.crictl("metricsp", "-o", "json"))["podMetrics"] if p["podSandboxId"] == pod)
    ours = next(c for c in found["containerMetrics"] if c["containerId"] == cid)["metrics"]
    values = {m["name"]: int(m["value"]["value"]) for m in ours if "value" in m and "value" in m["value"]}
    assert values["container_processes"] == 3 and values["container_threads"] == 3  # sh and its two sleeps
    assert values["container_spec_memory_limit_bytes"] == 64 << 20 and values["container_spec_cpu_shares"] == 512
    assert values["container_memory_usage_bytes"] > 0 and values["container_file_descriptors"] > 0
    assert all(len(m["labelValues"]) == len(descs[m["name"]]["labelKeys"]) for m in ours + found["metrics"])
    assert {m["labelValues"][3] for m in found["metrics"]} == {"eth0"}  # the pod's interface, not lo
