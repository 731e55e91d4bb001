#!/usr/bin/env python3
"""The cost of `pyruntime trace`: the same container run plain and traced, interleaved, medians.

    sudo bench/trace [--rounds N]

Two workloads in a busybox bundle: a shell script that forks a few busybox programs (the
kind of run one traces to learn a profile), and a system-call-heavy loop (2,000 redirections
in one shell: open, dup2, write, close each time; every call the profile would govern stops
the program once, at the seccomp filter, and is read by the tracer).
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

HERE = os.path.dirname(os.path.abspath(__file__))
PYRUNTIME = shutil.which("pyruntime") or "/usr/local/bin/pyruntime"
WORKLOADS = {
    "busybox script": ["sh", "-c", "echo hi; ls / > /dev/null; cat /etc/passwd | wc -l > /dev/null; "
                                   "(head -1 /etc/group) > /dev/null & wait"],
    "syscall-heavy loop": ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo $i > /dev/null; i=$((i+1)); done"],
}


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pyruntime-bench-trace-")
    try:
        bundle = os.path.join(work, "bundle")
        subprocess.run([os.path.join(HERE, "..", "tools", "busybox-bundle.sh"), bundle], check=True,
                       stdout=subprocess.DEVNULL)
        root = os.path.join(work, "state")
        base = [PYRUNTIME, "--root", root]
        print(f"{'workload (median ms)':22} {'run':>9} {'trace run':>10} {'ratio':>7}")
        for name, argv in WORKLOADS.items():
            with open(os.path.join(bundle, "config.json")) as f:
                config = json.load(f)
            config["process"].update(args=argv, terminal=False)
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(config, f)
            plain, traced = [], []
            for i in range(args.rounds):  # interleaved: the machine's noise hits both alike
                plain.append(timed(base + ["run", "--bundle", bundle, f"plain{i}"]))
                traced.append(timed(base + ["trace", "--output", os.path.join(work, "p.json"), "run",
                                            "--bundle", bundle, f"traced{i}"]))
            p, t = statistics.median(plain) * 1000, statistics.median(traced) * 1000
            print(f"{name:22} {p:9.1f} {t:10.1f} {t / p:6.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
