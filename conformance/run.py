#!/usr/bin/env python3
"""The opencontainers runtime-tools validation suite, pyruntime and runc side by side.

    sudo conformance/run [--only create,kill,...] [--runtimes pyruntime,runc] [-v]

Builds the validation programs and runtimetest once (cached in
/var/cache/pyruntime-conformance, keyed by the pinned version), then runs every
program under each runtime, in turn, from a directory holding the suite's
rootfs tarball and runtimetest. Prints one row per program (ok / not ok /
skip, with assertion counts) and ends with `N passed, M failed` for pyruntime,
counting assertions. Output of failing programs is kept under the cache's
logs/ directory. The exit status is 0 when pyruntime does no program worse than
the reference runtime (it fails none the reference passes, and passes no fewer
of a program's assertions: the target is that whatever runc passes on this
machine, pyruntime passes too).

The suite's cgroup tests use cgroupsPath /testdir/cgrouptest/container; runc
never removes the parents it made, so directories of that tree that this run
created are removed at the end, as are the runtimes' default state
directories (/run/runc, /run/pyruntime) when this run made them and left them empty.
A runtime that leaves mounts behind (runc does, for a container without a
mount namespace: linux_ns_itype) has them unmounted after the program, and
the count is shown in its row.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

MODULE = "github.com/opencontainers/runtime-tools"
# the newest commit of the default branch the Go module proxy serves (2026-03-16)
VERSION = "v0.9.1-0.20260316125833-8a4db579f5c8"
CACHE = os.environ.get("CONFORMANCE_CACHE", "/var/cache/pyruntime-conformance")
HERE = os.path.dirname(os.path.abspath(__file__))
TAP = re.compile(r"^(not ok|ok)\s+\d+(.*)$")


def build() -> tuple[str, str]:
    """(bin dir, work dir), building only when the pinned version is not cached yet."""
    root = os.path.join(CACHE, VERSION)
    bindir, work = os.path.join(root, "bin"), os.path.join(root, "work")
    stamp = os.path.join(root, "built")
    if not os.path.exists(stamp):
        os.makedirs(bindir, exist_ok=True)
        env = dict(os.environ, GOBIN=bindir, GOFLAGS="-mod=mod")
        print(f"conformance: building {MODULE}@{VERSION} (once)", file=sys.stderr)
        subprocess.run(["go", "install", f"{MODULE}/validation/...@{VERSION}"], env=env, check=True)
        subprocess.run(["go", "install", f"{MODULE}/cmd/runtimetest@{VERSION}"],
                       env=dict(env, CGO_ENABLED="0"), check=True)
        moddir = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", f"{MODULE}@{VERSION}"],
                                env=env, capture_output=True, text=True, check=True).stdout.strip()
        os.makedirs(work, exist_ok=True)
        shutil.copy(os.path.join(moddir, "rootfs-amd64.tar.gz"), work)
        shutil.copy(os.path.join(bindir, "runtimetest"), work)
        open(stamp, "w").write(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return bindir, work


def bundle_mounts() -> set[str]:
    """Mount points under the suite's bundle directories (/tmp/ocitest*)."""
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f if line.split()[4].startswith("/tmp/ocitest")}


def clean_up_after(mounts_before: set[str], bundles_before: set[str]) -> int:
    """Unmount what the runtime left mounted, remove the bundles the program left; the mount count."""
    left = sorted(bundle_mounts() - mounts_before, key=len, reverse=True)
    for point in left:
        subprocess.run(["umount", "-l", point], check=False)
    for bundle in set(glob.glob("/tmp/ocitest*")) - bundles_before:
        shutil.rmtree(bundle, ignore_errors=True)
    return len(left)


def run_program(bindir: str, work: str, program: str, runtime: str, timeout: int) -> dict:
    env = dict(os.environ, RUNTIME=runtime)
    mounts_before, bundles_before = bundle_mounts(), set(glob.glob("/tmp/ocitest*"))
    try:
        proc = subprocess.run([os.path.join(bindir, program)], cwd=work, env=env, capture_output=True,
                              text=True, timeout=timeout)
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, code = (exc.stdout or b"").decode() + f"\n(timed out after {timeout}s)", -1
    counts = {"ok": 0, "not ok": 0, "skip": 0}
    failures = []
    for line in out.splitlines():
        m = TAP.match(line)
        if not m:
            continue
        if "# skip" in m.group(2).lower():
            counts["skip"] += 1
        else:
            counts[m.group(1)] += 1
            if m.group(1) == "not ok":
                failures.append(m.group(2).strip(" -"))
    if code not in (0,) and not counts["not ok"]:
        counts["not ok"] += 1
        failures.append(f"exited with status {code}")
    verdict = "not ok" if counts["not ok"] else ("skip" if counts["skip"] and not counts["ok"] else "ok")
    leaked = clean_up_after(mounts_before, bundles_before)
    return {"verdict": verdict, **counts, "leaked_mounts": leaked, "failures": failures, "output": out}


def new_cgroup_leftovers(before: set[str]) -> list[str]:
    return [d for d in glob.glob("/sys/fs/cgroup/*/testdir") if d not in before]


def remove_cgroup_tree(top: str) -> None:
    for path in sorted((root for root, _, _ in os.walk(top)), key=len, reverse=True):
        try:
            os.rmdir(path)
        except OSError:
            pass  # still in use: leave it for the report


def _worse(a: dict, b: dict) -> bool:
    """Whether result ``a`` is worse than ``b`` for one program: it fails a program ``b``
    passes, or passes fewer of its assertions (a runtime that refuses a config at create
    fails one assertion; one that runs it and falls short on a few has still done more),
    or, with as many passed, fails more."""
    if a["verdict"] == "not ok" and b["verdict"] == "ok":
        return True
    if a["ok"] != b["ok"]:
        return a["ok"] < b["ok"]
    return a["not ok"] > b["not ok"]


def main() -> int:
    ap = argparse.ArgumentParser(description="runtime-tools validation, pyruntime vs runc")
    ap.add_argument("--only", default="")
    ap.add_argument("--runtimes", default="pyruntime,runc")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--json", default="")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()
    bindir, work = build()
    programs = sorted(p for p in os.listdir(bindir) if p != "runtimetest")
    if opts.only:
        programs = [p for p in programs if p in opts.only.split(",")]
    runtimes = [shutil.which(r) or r for r in opts.runtimes.split(",")]
    names = [os.path.basename(r) for r in runtimes]
    logs = os.path.join(CACHE, "logs")
    os.makedirs(logs, exist_ok=True)
    results: dict[str, dict] = {}
    cgroups_before = set(glob.glob("/sys/fs/cgroup/*/testdir"))
    new_state_roots = [f"/run/{name}" for name in names if not os.path.exists(f"/run/{name}")]
    print(f"{'test':34s}" + "".join(f"{n:>27s}" for n in names))
    for program in programs:
        row = results[program] = {}
        for name, runtime in zip(names, runtimes):
            row[name] = run_program(bindir, work, program, runtime, opts.timeout)
            if row[name]["verdict"] == "not ok":
                with open(os.path.join(logs, f"{program}.{name}.tap"), "w") as f:
                    f.write(row[name]["output"])
        cells = "".join(f"{r['verdict']:>8s} {r['ok']:3d}/{r['ok'] + r['not ok']:<3d}{'s' + str(r['skip']) if r['skip'] else '':>7s}"
                        f"{'' if not r['leaked_mounts'] else ' +%dm' % r['leaked_mounts']:>5s}"
                        for r in row.values())
        print(f"{program:34s}{cells}", flush=True)
        if opts.verbose:
            for name, r in row.items():
                for failure in r["failures"]:
                    print(f"    {name}: not ok - {failure}")
    for leftover in new_cgroup_leftovers(cgroups_before):
        remove_cgroup_tree(leftover)
    for root in new_state_roots:
        try:
            os.rmdir(root)
        except OSError:
            pass  # not empty: a container was left behind, leakcheck will say which
    mine = names[0]
    print()
    worse_anywhere = False
    for other in names[1:]:
        worse = [p for p, r in results.items() if _worse(r[mine], r[other])]
        better = [p for p, r in results.items() if _worse(r[other], r[mine])]
        print(f"{other}: {sum(r[other]['ok'] for r in results.values())} passed, "
              f"{sum(r[other]['not ok'] for r in results.values())} failed")
        print(f"programs where {mine} does worse than {other}: {', '.join(worse) or 'none'}")
        worse_anywhere = worse_anywhere or bool(worse)
        print(f"programs where {mine} does better than {other}: {', '.join(better) or 'none'}")
    passed = sum(r[mine]["ok"] for r in results.values())
    failed = sum(r[mine]["not ok"] for r in results.values())
    print(f"{passed} passed, {failed} failed")
    if opts.json:
        slim = {p: {n: {k: v for k, v in r.items() if k != "output"} for n, r in row.items()}
                for p, row in results.items()}
        with open(opts.json, "w") as f:
            json.dump(slim, f, indent=2)
    if len(names) == 1:
        return 0 if failed == 0 else 1
    return 1 if worse_anywhere else 0


if __name__ == "__main__":
    sys.exit(main())
