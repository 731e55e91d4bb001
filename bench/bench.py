#!/usr/bin/env python3
"""pyruntime against runc and crun, side by side in one run, on the same bundle.

    sudo bench/run [--rounds N] [--only run,create,...] [--json FILE]

Rounds interleave the runtimes (pyruntime, runc, crun, pyruntime, ...) so that
machine noise hits all of them alike. Reported: medians of wall time and of
CPU time (user+sys of the runtime and every process it reaped, from wait4),
ratios against runc and crun, throughput of 100 sequential and 2-way parallel
containers, memory (peak RSS of `create`, RSS of a created container's
init), and the wall time of `ctr run --rm` through containerd's runc shim with
each runtime as its runc binary. Results are also written as JSON for later
comparison.

crun 1.8 refuses this host's hybrid cgroup layout, so its commands run in a
worker that lives in its own mount namespace with a tmpfs over
/sys/fs/cgroup/unified (the host's mounts are untouched). For the containerd
figure, containerd itself runs in such a namespace, for all three runtimes.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RUNTIMES = ("pyruntime", "runc", "crun")
OPS = ("run", "create", "start", "kill", "delete", "exec", "seq100", "par100", "rss", "ctr")
# a mount namespace where /sys/fs/cgroup/unified is an empty tmpfs: what crun needs on a hybrid host
HIDE_UNIFIED = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec "$@"', "sh")


_DEVNULL = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0) for fd in (0, 1, 2)]


def timed(argv: list[str]) -> tuple[float, float, int, int]:
    """(wall s, cpu s, maxrss KiB, exit status) of one command, children included.

    posix_spawn (vfork) rather than fork: a forked copy of this process would
    count its own size into the child's peak RSS.
    """
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=_DEVNULL)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


class Local:
    """Runs a runtime's commands directly."""

    def __init__(self, binary: str, root: str):
        self.binary, self.root = binary, root

    def cmd(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.root, *args]

    def time(self, *args: str):
        return timed(self.cmd(*args))

    def rss_of_created(self, bundle: str) -> tuple[int, int]:
        """(peak RSS KiB of `create`, RSS KiB of the created container's waiting init).

        The peak comes from GNU time: a process spawned from this (large) Python
        would count our own pages into the child's maximum.
        """
        cid = f"rss-{uuid.uuid4().hex[:8]}"
        report = f"/tmp/pyruntime-bench-rss-{os.getpid()}"
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report, *self.cmd("create", "--bundle", bundle, cid)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with open(report) as f:
                peak = int(f.read().split()[-1])
            state = json.loads(subprocess.run(self.cmd("state", cid), capture_output=True, check=True).stdout)
            with open(f"/proc/{state['pid']}/status") as f:
                return peak, int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
        finally:
            os.unlink(report)
            subprocess.run(self.cmd("delete", "--force", cid), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        pass


class Worker(Local):
    """The same, through a helper process in a mount namespace (for crun)."""

    def __init__(self, binary: str, root: str):
        super().__init__(binary, root)
        self.proc = subprocess.Popen([*HIDE_UNIFIED, sys.executable, os.path.abspath(__file__), "--worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lock = threading.Lock()

    def _ask(self, request: dict):
        with self.lock:
            self.proc.stdin.write(json.dumps(request) + "\n")
            return json.loads(self.proc.stdout.readline())

    def time(self, *args: str):
        return tuple(self._ask({"argv": self.cmd(*args)}))

    def rss_of_created(self, bundle: str) -> int:
        return self._ask({"rss": [self.binary, self.root, bundle]})

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def worker_loop() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        if "argv" in req:
            out = timed(req["argv"])
        else:
            out = Local(req["rss"][0], req["rss"][1]).rss_of_created(req["rss"][2])
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


def make_bundle(path: str, args: list[str]) -> str:
    subprocess.run([os.path.join(REPO, "tools", "busybox-bundle.sh"), path, *args], check=True)
    with open(os.path.join(path, "config.json")) as f:
        spec = json.load(f)
    # what runc 1.1 and crun 1.8 accept alike: their spec version, no cgroup namespace
    spec["ociVersion"] = "1.0.2"
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "cgroup"]
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(spec, f)
    return path


def lifecycle_round(rt, bundle_sleep: str, results: dict, name: str, ops: set[str]) -> None:
    cid = f"b-{uuid.uuid4().hex[:8]}"
    wall, cpu, rss, rc = rt.time("create", "--bundle", bundle_sleep, cid)
    if rc != 0:
        raise SystemExit(f"{name} create failed")
    results["create"].append((wall, cpu))
    results["start"].append(rt.time("start", cid)[:2])
    if "exec" in ops:
        r = rt.time("exec", cid, "true")
        if r[3] == 0:
            results["exec"].append(r[:2])
    results["kill"].append(rt.time("kill", cid, "KILL")[:2])
    time.sleep(0.05)
    results["delete"].append(rt.time("delete", "--force", cid)[:2])


def throughput(rt, bundle_true: str, count: int, parallel: int) -> float:
    def worker(n: int) -> None:
        for _ in range(n):
            rt.time("run", "--bundle", bundle_true, f"t-{uuid.uuid4().hex[:8]}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(count // parallel,)) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count / (time.perf_counter() - t0)


def containerd_times(binaries: dict[str, str], rootfs: str, work: str, rounds: int) -> dict[str, list[float]]:
    """Wall seconds of `ctr run --rm busybox /bin/true` per runtime, rounds interleaved.

    The containerd, image and namespace plumbing is the client tests' own
    (tests/integration/clients.py), so the bench measures what the tests check.
    """
    sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "tests", "integration")]
    import clients
    os.makedirs(work)
    times: dict[str, list[float]] = {name: [] for name in binaries}
    # skopeo's blob-info cache lands in /var/lib/containers whatever we ask (see the tests' conftest)
    with clients.removed_if_new("/var/lib/containers"), contextlib.ExitStack() as cleanup:
        netns = clients.NetNS(work)
        cleanup.callback(netns.close)
        daemon = clients.Containerd(netns, work, launch=HIDE_UNIFIED)
        cleanup.callback(daemon.close)
        layout = clients.build_image(rootfs, work)
        tar = os.path.join(work, "busybox.tar")
        subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:busybox", f"docker-archive:{tar}:busybox:latest"],
                       check=True)
        daemon.ctr("images", "import", tar)
        for _ in range(rounds):
            for name, binary in binaries.items():
                argv = [shutil.which("ctr"), "-a", daemon.socket, "-n", "pyrt", "run", "--rm", "--runc-binary", binary,
                        "--runc-root", f"{work}/ctr-root-{name}", "--fifo-dir", f"{work}/fifo",
                        "docker.io/library/busybox:latest", f"c-{uuid.uuid4().hex[:8]}", "/bin/true"]
                wall, _, _, rc = timed(argv)
                if rc == 0:
                    times[name].append(wall)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", default=",".join(OPS))
    ap.add_argument("--json", default="")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.worker:
        worker_loop()
        return 0
    ops = set(opts.only.split(","))
    work = f"/tmp/pyruntime-bench-{os.getpid()}"
    os.makedirs(work)
    os.chmod(work, 0o755)
    runtimes = {}
    try:
        bundle_true = make_bundle(f"{work}/true", ["/bin/true"])
        bundle_sleep = make_bundle(f"{work}/sleep", ["sleep", "1000"])
        for name in RUNTIMES:
            binary = shutil.which(name)
            if binary is None:
                print(f"bench: {name} not installed; skipped", file=sys.stderr)
                continue
            root = f"{work}/root-{name}"
            runtimes[name] = (Worker if name == "crun" else Local)(binary, root)
        results = {n: {k: [] for k in ("run", "create", "start", "exec", "kill", "delete")}
                   for n in runtimes}
        ctr = {}
        if "ctr" in ops:
            ctr = containerd_times({n: rt.binary for n, rt in runtimes.items()},
                                   os.path.join(bundle_true, "rootfs"), f"{work}/containerd", opts.rounds)
        for _ in range(opts.rounds):
            for name, rt in runtimes.items():
                if "run" in ops:
                    wall, cpu, _, rc = rt.time("run", "--bundle", bundle_true, f"r-{uuid.uuid4().hex[:8]}")
                    if rc == 0:
                        results[name]["run"].append((wall, cpu))
                if ops & {"create", "start", "kill", "delete", "exec"}:
                    lifecycle_round(rt, bundle_sleep, results[name], name, ops)
        summary = {}
        for name, rt in runtimes.items():
            r = results[name]
            s = summary[name] = {}
            for op in ("run", "create", "start", "exec", "kill", "delete"):
                if r[op]:
                    s[f"{op}_wall_ms"] = 1000 * statistics.median(w for w, _ in r[op])
                    s[f"{op}_cpu_ms"] = 1000 * statistics.median(c for _, c in r[op])
            if "rss" in ops:
                s["create_peak_rss_kib"], s["created_init_rss_kib"] = rt.rss_of_created(bundle_sleep)
            if "seq100" in ops:
                s["seq100_per_s"] = throughput(rt, bundle_true, 100, 1)
            if "par100" in ops:
                s["par100_per_s"] = throughput(rt, bundle_true, 100, 2)
            if ctr.get(name):
                s["ctr_run_rm_wall_ms"] = 1000 * statistics.median(ctr[name])
        print_table(summary)
        out = opts.json or os.path.join(HERE, "results", time.strftime("%Y%m%d-%H%M%S") + ".json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"rounds": opts.rounds, "host": os.uname().release, "results": summary}, f, indent=2)
        print(f"\nbench: results in {out}")
    finally:
        for rt in runtimes.values():
            rt.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(summary: dict) -> None:
    names = list(summary)
    metrics = sorted({k for s in summary.values() for k in s}, key=lambda k: (k.split("_")[0], k))
    header = f"{'metric':26s}" + "".join(f"{n:>12s}" for n in names)
    ratios = [n for n in names if n != "pyruntime"] if "pyruntime" in names else []
    header += "".join(f"{'py/' + n:>11s}" for n in ratios)
    print(header)
    print("-" * len(header))
    for metric in metrics:
        row = f"{metric:26s}"
        for n in names:
            v = summary[n].get(metric)
            row += f"{v:12.1f}" if v is not None else f"{'-':>12s}"
        for n in ratios:
            a, b = summary["pyruntime"].get(metric), summary[n].get(metric)
            row += f"{a / b:11.2f}" if a and b else f"{'-':>11s}"
        print(row)
    print("\nratios below 1.00 favour pyruntime for times and memory; above 1.00 for per_s throughput")


if __name__ == "__main__":
    sys.exit(main())
