"""CVE-2019-5736 class: a container must not reach the runtime's executable.

While `pyruntime exec` joins a container, its processes are visible in the
container's pid namespace; their /proc/<pid>/exe is the host's Python. The
runtime turns non-dumpable before it joins, so the container (root, without
CAP_SYS_PTRACE) can neither read those links nor open them for writing.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time

WATCHER = r"""
end=$(( $(date +%s) + 6 ))
while [ $(date +%s) -lt $end ]; do
  for e in /proc/[0-9]*/exe; do
    t=$(readlink $e 2>/dev/null) || continue
    case "$t" in /bin/*|/usr/bin/env) ;; *) echo "LEAK $e -> $t"; echo pwned 2>/dev/null >> $e && echo "WROTE $e";; esac
  done
done
echo watcher-done
"""


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_exec_joining_runtime_is_not_reachable(runtime, bundle, tmp_path):
    interpreter = os.path.realpath(sys.executable)
    before = sha256(interpreter)
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    runtime.run("exec", "-d", cid, "sh", "-c", f"{{ {WATCHER} }} > /watcher.out 2>&1", check=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        runtime.run("exec", cid, "true", check=True)
    report_path = os.path.join(bundle.rootfs, "watcher.out")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.exists(report_path) and "watcher-done" in open(report_path).read():
            break
        time.sleep(0.2)
    report = open(report_path).read()
    assert "watcher-done" in report
    assert "LEAK" not in report and "WROTE" not in report, report
    assert sha256(interpreter) == before


def test_created_init_is_not_dumpable(runtime, bundle):
    """Before start the init is a forked runtime: pid 1 of the container, and closed to it."""
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("create", "--bundle", bundle.path, cid, check=True)
    out = runtime.output("exec", cid, "sh", "-c",
                         "readlink /proc/1/exe || echo exe-denied; readlink /proc/1/fd/0 || echo fd-denied; "
                         "cat /proc/1/environ >/dev/null 2>&1 || echo environ-denied")
    assert out.split() == ["exe-denied", "fd-denied", "environ-denied"]
