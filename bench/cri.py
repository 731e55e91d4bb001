#!/usr/bin/env python3
"""pyruntime-cri against containerd 1.6 (with runc, and with pyruntime), through the CRI itself.

    sudo bench/cri [--rounds N] [--pods 0,10,50] [--json FILE]

All three serve the same network namespace, registry and CNI bridge (the tests' client
harness). One gRPC client (the adapter's generated stubs) times, in interleaved rounds:
pod start (RunPodSandbox + CreateContainer + StartContainer, the pod as kubelet makes it:
its own pid namespace per container) and ExecSync of `true`; PullImage of a 50 MB image
(busybox and a 48 MB layer of random bytes, so compression cannot shrink it) from the
registry, removed after each pull so that every pull fetches and unpacks it all; then the
daemon's memory with 0, 10 and 50 running pods: the daemon's RSS alone, and with its
per-container monitors (conmon for the adapter, containerd-shim-runc-v2 for containerd).
The daemon's figure includes its child processes (the adapter's pull worker, while one lives).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests"), os.path.join(HERE, "..", "tests", "integration")]

import clients  # noqa: E402
import grpc  # noqa: E402

from cri_adapter._proto import cri_pb2 as pb  # noqa: E402
from cri_adapter._proto import cri_pb2_grpc  # noqa: E402

IMAGE = f"127.0.0.1:{clients.REGISTRY_PORT}/busybox:latest"
BIG_IMAGE = f"127.0.0.1:{clients.REGISTRY_PORT}/big:latest"
BIG_LAYER = 48 << 20
RUNC_HANDLER = clients.RUNC_HANDLER


class Target:
    def __init__(self, name: str, server, handler: str, monitor: str):
        self.name, self.server, self.handler, self.monitor = name, server, handler, monitor
        channel = grpc.insecure_channel(f"unix://{server.socket}")
        self.rt = cri_pb2_grpc.RuntimeServiceStub(channel)
        self.img = cri_pb2_grpc.ImageServiceStub(channel)

    def pod_start(self, workdir: str) -> tuple[float, str, str]:
        name = uuid.uuid4().hex[:8]
        pod = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name=name, namespace="bench", uid=name),
                                  log_directory=os.path.join(workdir, "logs", name))
        pod.linux.security_context.namespace_options.pid = pb.CONTAINER
        ctr = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image=IMAGE),
                                 command=["sleep", "100000"], log_path="c.log")
        ctr.linux.security_context.namespace_options.pid = pb.CONTAINER
        t0 = time.perf_counter()
        pod_id = self.rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pod, runtime_handler=self.handler)).pod_sandbox_id
        cid = self.rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=ctr,
                                                                sandbox_config=pod)).container_id
        self.rt.StartContainer(pb.StartContainerRequest(container_id=cid))
        return time.perf_counter() - t0, pod_id, cid

    def exec_sync(self, cid: str) -> float:
        t0 = time.perf_counter()
        reply = self.rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["true"], timeout=10))
        assert reply.exit_code == 0
        return time.perf_counter() - t0

    def pull(self) -> float:
        t0 = time.perf_counter()
        self.img.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=BIG_IMAGE)))
        took = time.perf_counter() - t0
        self.img.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=BIG_IMAGE)))
        return took

    def remove(self, pod_id: str) -> None:
        self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))
        self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))

    def memory(self) -> tuple[int, int]:
        """(daemon RSS, daemon + its monitors' RSS) in KiB; the adapter's pull worker, when one is
        running, counts as the daemon's."""
        pid = self.server.proc.pid if self.name == "pyruntime-cri" else daemon_pid(self.server)
        daemon = rss(pid) + sum(rss(int(p)) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                                     text=True).stdout.split())
        monitors = sum(rss(int(p)) for p in subprocess.run(["pgrep", "-f", self.monitor], capture_output=True,
                                                            text=True).stdout.split())
        return daemon, daemon + monitors


def daemon_pid(server) -> int:
    # the Popen is nsenter's, which execs containerd: same pid
    return server.proc.pid


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--execs", type=int, default=5, help="ExecSync calls per round")
    ap.add_argument("--pulls", type=int, default=5, help="pulls of the 50 MB image per daemon")
    ap.add_argument("--pods", default="0,10,50")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="pyruntime-bench-cri-")
    os.chmod(workdir, 0o755)
    parts = []
    try:
        with clients.removed_if_new("/var/lib/containers"):
            rootfs = os.path.join(workdir, "rootfs")
            subprocess.run([os.path.join(HERE, "..", "tools", "busybox-bundle.sh"), rootfs], check=True,
                           stdout=subprocess.DEVNULL)
            layout = clients.build_image(os.path.join(rootfs, "rootfs"), os.path.join(workdir, "image"))
            netns = clients.NetNS(workdir)
            parts.append(netns)
            registry = clients.Registry(netns, workdir, layout)
            parts.append(registry)
            big_image(layout, workdir)
            registry.push(layout, "big", "big:latest")
            containerd = clients.Containerd(netns, workdir, extra_config=RUNC_HANDLER.format(
                runc=shutil.which("runc"), workdir=workdir))
            parts.append(containerd)
            adapter = clients.CriAdapter(netns, workdir)
            parts.append(adapter)
            targets = [Target("pyruntime-cri", adapter, "", f"conmon .*{adapter.dir}/"),
                       Target("containerd+runc", containerd, "runc", f"containerd-shim-runc-v2 .*{workdir}"),
                       Target("containerd+pyruntime", containerd, "pyruntime",
                              f"containerd-shim-runc-v2 .*{workdir}")]
            for t in targets:
                t.img.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=IMAGE)))
                _, pod_id, _ = t.pod_start(workdir)  # warm-up: caches, the first CNI call
                t.remove(pod_id)
            results = measure(targets, workdir, args)
            report(results)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
    finally:
        for part in reversed(parts):
            part.close()
        clients.unmount_below(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def big_image(layout: str, workdir: str) -> None:
    """Tag "big" in the layout: busybox with a layer of BIG_LAYER random bytes."""
    unpacked = os.path.join(workdir, "unpacked-big")
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:busybox", unpacked], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(unpacked, "rootfs", "big"), "wb") as f:
        f.write(os.urandom(BIG_LAYER))
    subprocess.run(["umoci", "repack", "--image", f"{layout}:big", unpacked], check=True)
    shutil.rmtree(unpacked)


def measure(targets, workdir: str, args) -> dict:
    pulls = {t.name: [] for t in targets if t.name != "containerd+pyruntime"}  # one image service
    for _ in range(args.pulls):
        for t in targets:
            if t.name in pulls:
                pulls[t.name].append(t.pull())
    starts = {t.name: [] for t in targets}
    execs = {t.name: [] for t in targets}
    for _ in range(args.rounds):
        for t in targets:  # interleaved: machine noise hits each alike
            took, pod_id, cid = t.pod_start(workdir)
            starts[t.name].append(took)
            execs[t.name] += [t.exec_sync(cid) for _ in range(args.execs)]
            t.remove(pod_id)
    memory = {t.name: {} for t in targets if t.name != "containerd+pyruntime"}
    for t in targets:
        if t.name == "containerd+pyruntime":
            continue  # the same daemon as containerd+runc
        running: list[str] = []
        for count in sorted(int(n) for n in args.pods.split(",")):
            while len(running) < count:
                running.append(t.pod_start(workdir)[1])
            memory[t.name][count] = t.memory()
        for pod_id in running:
            t.remove(pod_id)
    return {"pull_50mb_ms": {k: statistics.median(v) * 1000 for k, v in pulls.items()},
            "pod_start_ms": {k: statistics.median(v) * 1000 for k, v in starts.items()},
            "exec_sync_ms": {k: statistics.median(v) * 1000 for k, v in execs.items()},
            "memory_kib": memory}


def report(results: dict) -> None:
    ref = "containerd+runc"
    for metric in ("pull_50mb_ms", "pod_start_ms", "exec_sync_ms"):
        print(f"{metric} (median)")
        for name, value in results[metric].items():
            print(f"  {name:22} {value:8.1f}   {value / results[metric][ref]:5.2f}x containerd+runc")
    print("memory, KiB: daemon / daemon + monitors")
    for name, by_count in results["memory_kib"].items():
        print(f"  {name:22} " + "   ".join(f"{n} pods: {d} / {t}" for n, (d, t) in by_count.items()))


if __name__ == "__main__":
    sys.exit(main())
