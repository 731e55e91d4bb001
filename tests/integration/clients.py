"""Real clients for the integration tests: a busybox OCI image, a network namespace,
a local registry and containerd, all private to the test run.

Everything networked runs inside a network namespace the tests create (the
registry on its 127.0.0.1, containerd and its CNI bridge), so no interface of
the machine is touched. containerd keeps its root, state, socket and the runc
shim's state under a temporary directory; teardown stops every task and pod
and unmounts whatever containerd left mounted there.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

from helpers import PYRUNTIME, REPO

SNIPPETS = os.path.join(REPO, "tests", "integration", "data", "snippets")
CRICTL_VERSION = "v1.37.0"
TOOLS = "/var/cache/pyruntime-tools"
REGISTRY_PORT = 5055
FAKE_REGISTRY_PORT = 5056  # tests/integration/data/fake_registry.py: a registry that misbehaves


def runtime_class() -> tuple[str, list[str]]:
    """(handler, the example pod's command) from the README's RuntimeClass snippet."""
    with open(os.path.join(SNIPPETS, "runtimeclass.yaml")) as f:
        text = f.read()
    handler = re.search(r"^handler: (\S+)$", text, re.M).group(1)
    command = json.loads(re.search(r"^\s+command: (\[.*\])$", text, re.M).group(1))
    return handler, command


def need(*commands: str) -> None:
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: ./run-tests installs them (apt)")


def build_image(rootfs: str, workdir: str) -> str:
    """An OCI image layout of the busybox rootfs; returns 'layout' with tags busybox, httpd and pause."""
    need("umoci", "skopeo")
    layout = os.path.join(workdir, "oci")
    unpacked = os.path.join(workdir, "unpacked")
    subprocess.run(["umoci", "init", "--layout", layout], check=True)
    subprocess.run(["umoci", "new", "--image", f"{layout}:busybox"], check=True)
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:busybox", unpacked], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["cp", "-a", f"{rootfs}/.", os.path.join(unpacked, "rootfs")], check=True)
    os.makedirs(os.path.join(unpacked, "rootfs", "www"), exist_ok=True)
    with open(os.path.join(unpacked, "rootfs", "www", "index.html"), "w") as f:
        f.write("hello from busybox httpd\n")
    subprocess.run(["umoci", "repack", "--image", f"{layout}:busybox", unpacked], check=True)
    subprocess.run(["umoci", "config", "--image", f"{layout}:busybox", "--config.cmd", "sh",
                    "--config.env", "PATH=/bin:/sbin:/usr/bin:/usr/sbin"], check=True)
    # a web server: busybox httpd serving /www
    subprocess.run(["umoci", "config", "--image", f"{layout}:busybox", "--tag", "httpd", "--clear", "config.cmd",
                    "--config.entrypoint", "/bin/httpd", "--config.cmd", "-f", "--config.cmd", "-p",
                    "--config.cmd", "80", "--config.cmd", "-h", "--config.cmd", "/www"], check=True)
    # the sandbox ("pause") image: sleeps until killed
    subprocess.run(["umoci", "config", "--image", f"{layout}:busybox", "--tag", "pause", "--clear", "config.cmd",
                    "--config.entrypoint", "/bin/sleep", "--config.cmd", "2147483647"], check=True)
    shutil.rmtree(unpacked)
    return layout


class NetNS:
    """A network namespace of the test's own, with lo up, pinned on a file in the test's directory.

    Not `ip netns add`: that would turn /run/netns into a shared mount the run leaves behind.
    """

    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, "netns")
        open(self.path, "w").close()
        subprocess.run(["unshare", f"--net={self.path}", "true"], check=True)
        subprocess.run(self.cmd("ip", "link", "set", "lo", "up"), check=True)

    def cmd(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net={self.path}", *argv]

    def close(self) -> None:
        # containerd's teardown may have unmounted it already with the rest of the directory
        subprocess.run(["umount", self.path], check=False, stderr=subprocess.DEVNULL)
        os.unlink(self.path)


class Registry:
    """Debian's docker-registry on 127.0.0.1 inside the namespace, filled with our images."""

    TAGS = ("busybox", "pause", "httpd")

    def __init__(self, netns: NetNS, workdir: str, layout: str):
        need("docker-registry")
        self.netns = netns
        self.address = f"127.0.0.1:{REGISTRY_PORT}"
        config = os.path.join(workdir, "registry.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {workdir}/registry\n"
                    f"http:\n  addr: {self.address}\n")
        self.proc = subprocess.Popen(netns.cmd("docker-registry", "serve", config),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # listening, seen from inside the namespace (skopeo exits 1 for a refused
            # connection and for an unknown repository alike)
            probe = f"import socket; socket.create_connection(('127.0.0.1', {REGISTRY_PORT}), 1).close()"
            wait_for(lambda: subprocess.run(netns.cmd(sys.executable, "-c", probe),
                                            capture_output=True).returncode == 0, "registry")
            for tag in self.TAGS:
                self.push(layout, tag, f"{tag}:latest")
        except BaseException:
            self.close()  # a fixture that fails to set up gets no teardown
            raise

    def push(self, layout: str, tag: str, name: str, *flags: str, address: str = "") -> None:
        """The layout's image ``tag`` into this registry (or the one at ``address``) as ``name``
        (repository:tag); ``flags``: skopeo copy's (--all for every image of an index)."""
        subprocess.run(self.netns.cmd("skopeo", "copy", "-q", "--dest-tls-verify=false", *flags, f"oci:{layout}:{tag}",
                                      f"docker://{address or self.address}/{name}"), check=True)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextlib.contextmanager
def removed_if_new(path: str):
    """Remove path after the block if it did not exist before it (a client's fixed-path leftovers)."""
    existed = os.path.exists(path)
    try:
        yield
    finally:
        if not existed:
            shutil.rmtree(path, ignore_errors=True)


def stop(proc: subprocess.Popen, grace: float) -> None:
    """TERM a daemon, KILL it if it lingers past ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(check, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout}s")


def registry_hosts(workdir: str, mirrors: tuple[str, ...] = ()) -> str:
    """The hosts.toml directory (containerd's layout) that containerd and pyruntime-cri share: the
    test registries over plain HTTP, and ``mirrors`` (hosts served by the local registry)."""
    path = os.path.join(workdir, "certs.d")
    for host in (f"127.0.0.1:{REGISTRY_PORT}", f"127.0.0.1:{FAKE_REGISTRY_PORT}") + mirrors:
        os.makedirs(os.path.join(path, host), exist_ok=True)
        with open(os.path.join(path, host, "hosts.toml"), "w") as f:
            if host in mirrors:
                f.write(f'[host."http://127.0.0.1:{REGISTRY_PORT}"]\ncapabilities = ["pull", "resolve"]\n')
            else:
                f.write(f'server = "http://{host}"\n')
    return path


def containerd_config(workdir: str, systemd_cgroup: bool = False) -> str:
    """Our private containerd config: the README's runtime-handler snippet, plus test plumbing;
    ``systemd_cgroup``: the runc shim runs pyruntime with --systemd-cgroup (SystemdCgroup = true)."""
    with open(os.path.join(SNIPPETS, "containerd-v2.toml")) as f:
        handler = f.read().replace("/usr/local/bin/pyruntime", PYRUNTIME)
    # the runc shim's --root for our containers, kept with the rest of this containerd
    handler = handler.replace("  BinaryName = ", f'  Root = "{workdir}/runtime-state"\n  BinaryName = ')
    if systemd_cgroup:
        handler = handler.replace("  BinaryName = ", "  SystemdCgroup = true\n  BinaryName = ")
    # top-level keys before any table, or TOML files them under the last one
    return f'''root = "{workdir}/root"
state = "{workdir}/state"
''' + handler + SHIM_HANDLER + f'''
[grpc]
  address = "{workdir}/containerd.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "{workdir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  # pod network namespaces pinned under our state directory, not /run/netns
  netns_mounts_under_state_dir = true
  # no CAP_SYS_RESOURCE on this machine: OOM scores may only be raised
  restrict_oom_score_adj = true
  disable_apparmor = true
  sandbox_image = "127.0.0.1:{REGISTRY_PORT}/pause:latest"

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "pyruntime"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{workdir}/cni"

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "{registry_hosts(workdir)}"
'''


CNI = '''{"cniVersion": "0.4.0", "name": "pyruntime-test", "plugins": [
  {"type": "bridge", "bridge": "pyrt0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.222.0.0/24"}]], "dataDir": "%s"}},
  {"type": "loopback"}]}'''
# containerd's runc handler beside pyruntime, for side-by-side runs (critest, bench/cri)
RUNC_HANDLER = '''
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "{runc}"
  Root = "{workdir}/runc-state"
'''
# containerd-shim-pyruntime-v2 (containerd_shim/): pyruntime in containerd's shim itself, beside the
# runc shim's handler that runs pyruntime's CLI (the README's snippet)
with open(os.path.join(SNIPPETS, "containerd-shim.toml")) as _f:
    SHIM_HANDLER = "\n" + _f.read()
# the bridge, plus portmap for host ports (its iptables rules live in the test's namespace only)
CNI_PORTMAP = '''{"cniVersion": "0.4.0", "name": "pyruntime-test", "plugins": [
  {"type": "bridge", "bridge": "pyrt0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.222.0.0/24"}]], "dataDir": "%s"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}'''


class CriEndpoint:
    """crictl pointed at a CRI socket (``self.socket``) from inside the test's namespace (``self.netns``)."""

    def crictl_argv(self, *args: str) -> list[str]:
        return self.netns.cmd(crictl(), "-c", "/dev/null", "--runtime-endpoint", f"unix://{self.socket}",
                              "--image-endpoint", f"unix://{self.socket}", "--timeout", "60s", *args)

    def crictl(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        proc = subprocess.run(self.crictl_argv(*args), capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"crictl {' '.join(args)}: {proc.returncode}: {proc.stderr.decode()}")
        return proc.stdout.decode().strip()

    def remove_pods(self) -> None:
        """Stop and remove every pod the daemon knows (what a failed test left)."""
        for pod in self.crictl("pods", "-q", check=False).split():
            self.crictl("stopp", pod, check=False)
            self.crictl("rmp", "-f", pod, check=False)

    def stop_daemon(self) -> None:
        stop(self.proc, 15)


class Containerd(CriEndpoint):
    """containerd 1.x in the namespace; ctr and crictl pointed at it."""

    def __init__(self, netns: NetNS, workdir: str, launch: tuple[str, ...] = (), extra_config: str = "",
                 cni: str = "", systemd_cgroup: bool = False):
        """``launch``: a command prefix for containerd (bench/ starts it in a mount namespace of its own);
        ``extra_config``: TOML added to the config (more runtime handlers); ``cni``: another CNI
        conflist template (``%s``: the IPAM data directory)."""
        need("containerd", "ctr", "containerd-shim-runc-v2")
        self.netns, self.workdir = netns, workdir
        self.socket = os.path.join(workdir, "containerd.sock")
        # fixed paths whatever the config says: containerd 1.6's shim sockets in
        # /run/containerd/s, libcni's result cache in /var/lib/cni
        self.fixed_paths = contextlib.ExitStack()
        for path in ("/run/containerd", "/var/lib/cni"):
            self.fixed_paths.enter_context(removed_if_new(path))
        os.makedirs(os.path.join(workdir, "cni"))
        with open(os.path.join(workdir, "cni", "10-pyruntime-test.conflist"), "w") as f:
            f.write((cni or CNI) % os.path.join(workdir, "ipam"))
        config = os.path.join(workdir, "config.toml")
        with open(config, "w") as f:
            f.write(containerd_config(workdir, systemd_cgroup) + extra_config)
        self.log = open(os.path.join(workdir, "containerd.log"), "w")
        self.argv = netns.cmd(*launch, "containerd", "--config", config)
        try:
            self._start()
        except BaseException:
            self.close()  # a fixture that fails to set up gets no teardown
            raise

    def _start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: subprocess.run(["ctr", "-a", self.socket, "version"],
                                        capture_output=True).returncode == 0, "containerd", timeout=60)

    def restart(self) -> None:
        """Stop containerd and start it again on the same config; its shims live on, and it finds
        them again by the address files in their bundles."""
        self.stop_daemon()
        self._start()

    def ctr(self, *args: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        argv = ["ctr", "-a", self.socket, "-n", "pyrt", *args]
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: {proc.returncode}: {proc.stderr.decode()}")
        return proc

    def shim_logs(self) -> str:
        """Every log.json the runc shim gave pyruntime (--log), concatenated."""
        out = []
        for root, _, files in os.walk(os.path.join(self.workdir, "state")):
            out += [open(os.path.join(root, f)).read() for f in files if f == "log.json"]
        return "".join(out)

    def close(self) -> None:
        self.remove_pods()
        tasks = self.ctr("task", "ls", "-q", check=False).stdout.decode().split()
        for task in tasks:
            self.ctr("task", "delete", "-f", task, check=False)  # -f: killed (and waited for) first
        for container in self.ctr("container", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("container", "delete", container, check=False)
        self.stop_daemon()
        for shim in ("containerd-shim-runc-v2", "containerd-shim-pyruntime-v2"):
            subprocess.run(["pkill", "-f", f"{shim} .*-address {self.socket}"], check=False)
        self.log.close()
        unmount_below(self.workdir)
        self.fixed_paths.close()


class CriAdapter(CriEndpoint):
    """pyruntime-cri in the namespace (its own root, state and socket under ``workdir``); crictl pointed at it.

    The registry's images are pulled over plain HTTP, the sandbox image is the registry's pause,
    and the CNI chain (``cni``) comes from ``workdir``. Containers' cgroups go under a parent
    of this run's own, removed at the end.
    """

    def __init__(self, netns: NetNS, workdir: str, cni: str = "", name: str = "cri", extra: str = ""):
        """``extra``: top-level TOML keys added to the config (before its tables)."""
        need("conmon", "unshare", "pyruntime-cri")
        self.netns, self.dir = netns, os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "cni"))
        with open(os.path.join(self.dir, "cni", "10-pyruntime-test.conflist"), "w") as f:
            f.write((cni or CNI) % os.path.join(self.dir, "ipam"))
        self.socket = os.path.join(self.dir, "cri.sock")
        self.cgroup_parent = f"/pyruntime-cri-test-{os.getpid()}-{name}"
        self.config = os.path.join(self.dir, "cri.toml")
        with open(self.config, "w") as f:
            f.write(f'''socket = "{self.socket}"
root = "{self.dir}/root"
state = "{self.dir}/state"
sandbox_image = "127.0.0.1:{REGISTRY_PORT}/pause:latest"
cgroup_parent = "{self.cgroup_parent}"
log_level = "info"
registry_timeout = 5
registry_config_path = "{registry_hosts(workdir)}"
registry_auth_file = "{self.dir}/auth.json"
{extra}

[runtimes.pyruntime]
path = "{PYRUNTIME}"

[runtimes.runc]
path = "{shutil.which("runc") or "runc"}"

[cni]
conf_dir = "{self.dir}/cni"
''')
        self.proc = None
        self.start()

    def start(self) -> None:
        self.log = open(os.path.join(self.dir, "adapter.log"), "a")
        self.proc = subprocess.Popen(self.netns.cmd("pyruntime-cri", "--config", self.config), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: subprocess.run(self.crictl_argv("version"), capture_output=True).returncode == 0,
                     "pyruntime-cri")
        except BaseException:
            self.close()
            raise

    def kill(self) -> None:
        """SIGKILL the adapter (its conmons and containers live on)."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def inspect(self, verb: str, *args: str) -> dict:
        return json.loads(self.crictl(verb, "-o", "json", *args))

    def conmons(self) -> list[str]:
        """pids of conmon processes working for this adapter."""
        out = subprocess.run(["pgrep", "-f", f"conmon .*{self.dir}/"], capture_output=True, text=True).stdout
        return out.split()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.remove_pods()
            self.stop_daemon()
        self.log.close()
        for pid in self.conmons():  # what a failed test left running
            subprocess.run(["kill", "-9", pid], check=False)
        state = os.path.join(self.dir, "state", "runtimes", "pyruntime")
        for cid in subprocess.run([PYRUNTIME, "--root", state, "list", "-q"], capture_output=True,
                                  text=True).stdout.split():
            subprocess.run([PYRUNTIME, "--root", state, "delete", "--force", cid], check=False)
        unmount_below(self.dir)
        for hierarchy in glob.glob("/sys/fs/cgroup/*/") + ["/sys/fs/cgroup/"]:
            path = os.path.join(hierarchy, self.cgroup_parent.lstrip("/"))
            if os.path.isdir(path):
                os.rmdir(path)


class Podman:
    """podman + conmon with storage, run state and config under the test's directory.

    The README's containers.conf snippet names the runtime; conmon runs
    pyruntime exactly as CRI-O's conmon does, so this is our CRI-O row too.
    pyruntime keeps its default --root: podman's exit-command cleanup drops
    --runtime-flag, so a private root would strand state (runc's too).
    """

    def __init__(self, workdir: str, layout: str):
        need("podman", "conmon")
        self.dir = os.path.join(workdir, "podman")
        self.runtime_log = os.path.join(self.dir, "pyruntime.log")
        # podman puts conmon in <parent>/conmon and never removes it: a parent of our own
        self.cgroup_parent = f"/pyruntime-test-podman-{os.getpid()}"
        os.makedirs(self.dir)
        with open(os.path.join(SNIPPETS, "containers.conf")) as f:
            conf = f.read().replace("/usr/local/bin/pyruntime", PYRUNTIME)
        # no CAP_SYS_RESOURCE here: podman's default limits for root (1048576) cannot be set,
        # by runc and crun either
        conf += '\n[containers]\ndefault_ulimits = ["nofile=1024:4096", "nproc=1024:4096"]\n'
        self.conf = os.path.join(self.dir, "containers.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        image_id = self.run("pull", "-q", f"oci:{layout}:busybox").strip()
        self.run("tag", image_id, "localhost/busybox:latest")

    def argv(self, *args: str) -> list[str]:
        d = self.dir
        return ["podman", "--root", f"{d}/storage", "--runroot", f"{d}/run", "--tmpdir", f"{d}/tmp",
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--runtime", "pyruntime", "--runtime-flag", f"log={self.runtime_log}",
                "--runtime-flag", "log-format=json", *args]

    def run_flags(self) -> list[str]:
        """For `podman run`: no network (no CNI on the host's interfaces), our cgroup parent."""
        return ["--network", "none", "--cgroup-parent", self.cgroup_parent]

    @property
    def env(self) -> dict:
        return dict(os.environ, CONTAINERS_CONF=self.conf)

    def proc(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), capture_output=True, timeout=timeout, env=self.env,
                              stdin=subprocess.DEVNULL)

    def run(self, *args: str, timeout: float = 60) -> str:
        proc = self.proc(*args, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {proc.returncode}: {proc.stderr.decode()}")
        return proc.stdout.decode()

    def log_messages(self) -> list[str]:
        with open(self.runtime_log) as f:
            return [json.loads(line)["msg"] for line in f if line.strip()]

    def close(self) -> None:
        self.proc("rm", "--all", "--force", "--time", "0")
        self.proc("rmi", "--all", "--force")
        unmount_below(self.dir)
        for top in glob.glob(f"/sys/fs/cgroup/*{self.cgroup_parent}"):
            for path in sorted((root for root, _, _ in os.walk(top)), key=len, reverse=True):
                with contextlib.suppress(OSError):
                    os.rmdir(path)


def unmount_below(path: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f if line.split()[4].startswith(path)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def crictl() -> str:
    """crictl from the Go module proxy at a pinned version, built once."""
    binary = os.path.join(TOOLS, "crictl")
    stamp = binary + "." + CRICTL_VERSION
    if not os.path.exists(stamp):
        env = dict(os.environ, GOBIN=TOOLS, GOFLAGS="-mod=mod")
        subprocess.run(["go", "install", f"sigs.k8s.io/cri-tools/cmd/crictl@{CRICTL_VERSION}"], env=env, check=True)
        open(stamp, "w").close()
    return binary


class Kubelet:
    """Kubernetes' kubelet (tools/kubelet-build), standalone: no API server, pods from manifests in a
    directory (static pods), pyruntime-cri as its container runtime, in the test's namespace, with
    its root, pod logs and cgroup root of its own. It sets kernel sysctls and cgroup roots as it
    sees fit, so it runs in the throw-away guest (tests/vm) only."""

    def __init__(self, netns: NetNS, workdir: str, cri: CriAdapter):
        binary = subprocess.run([os.path.join(REPO, "tools", "kubelet-build")], capture_output=True, text=True,
                                check=True).stdout.strip()
        self.dir = os.path.join(workdir, "kubelet")
        self.manifests = os.path.join(self.dir, "manifests")
        self.pod_logs = os.path.join(self.dir, "pod-logs")
        os.makedirs(self.manifests)
        self.cgroup_root = f"/pyruntime-kubelet-{os.getpid()}"
        root = f"/sys/fs/cgroup{self.cgroup_root}"  # kubelet wants its cgroup root to exist (cgroup v2)
        os.mkdir(root)
        with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
            enabled = f.read().split()
        with open(f"{root}/cgroup.subtree_control", "w") as f:
            f.write(" ".join(f"+{c}" for c in enabled))
        config = os.path.join(self.dir, "config.yaml")
        with open(config, "w") as f:
            json.dump({  # YAML's JSON form
                "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
                "staticPodPath": self.manifests, "fileCheckFrequency": "1s", "syncFrequency": "2s",
                "containerRuntimeEndpoint": f"unix://{cri.socket}", "podLogsDir": self.pod_logs,
                "cgroupDriver": "cgroupfs", "cgroupRoot": self.cgroup_root, "failSwapOn": False,
                "address": "127.0.0.1", "readOnlyPort": 0, "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
                "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
                "authorization": {"mode": "AlwaysAllow"}, "resolvConf": "",
                "evictionHard": {"memory.available": "0%", "nodefs.available": "0%", "imagefs.available": "0%"},
                "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
                "localStorageCapacityIsolation": False}, f)
        self.netns = netns
        self.log = open(os.path.join(self.dir, "kubelet.log"), "w")
        self.proc = subprocess.Popen(netns.cmd(binary, f"--config={config}", f"--root-dir={self.dir}/root",
                                               "--hostname-override=node1", "--v=2"),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        probe = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10248/healthz', timeout=2)"

        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubelet exited with {self.proc.returncode}")
            return subprocess.run(netns.cmd(sys.executable, "-c", probe), capture_output=True).returncode == 0
        try:
            wait_for(healthy, "kubelet's healthz", timeout=300)
        except BaseException as exc:
            self.close()
            with open(os.path.join(self.dir, "kubelet.log")) as f:
                raise RuntimeError(f"{exc}; kubelet's log ends:\n{''.join(f.readlines()[-40:])}") from None

    def api(self, path: str, method: str = "GET") -> str:
        """kubelet's own HTTPS API (anonymous, self-signed), asked from inside the test's namespace."""
        probe = ("import ssl, sys, urllib.request; sys.stdout.write(urllib.request.urlopen(urllib.request.Request("
                 f"'https://127.0.0.1:10250{path}', method='{method}'), timeout=60, "
                 "context=ssl._create_unverified_context()).read().decode())")
        return subprocess.run(self.netns.cmd(sys.executable, "-c", probe), capture_output=True, text=True,
                              check=True, timeout=90).stdout

    def pod(self, name: str, spec: dict) -> str:
        """Write (or rewrite) a static pod's manifest; kubelet picks it up within a second."""
        path = os.path.join(self.manifests, f"{name}.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                       "spec": spec}, f)
        os.rename(path + ".tmp", path)
        return path

    def close(self) -> None:
        stop(self.proc, 30)
        self.log.close()
        unmount_below(self.dir)
        root = self.cgroup_root.lstrip("/")
        made = glob.glob(f"/sys/fs/cgroup/{root}/**/", recursive=True) + \
            glob.glob(f"/sys/fs/cgroup/*/{root}/**/", recursive=True)
        for directory in sorted(made, reverse=True):  # the deepest first
            with contextlib.suppress(OSError):
                os.rmdir(directory)
