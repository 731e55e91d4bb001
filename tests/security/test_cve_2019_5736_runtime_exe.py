"""CVE-2019-5736 class: a container must not reach the runtime's executable.

The runtime's processes are in or next to the container: the init before it
execs, and `exec`'s process joining it. Two ways in are tested:
- the original technique: the image's program is ``#!/proc/self/exe`` and the
  image ships its own ELF interpreter, so the kernel runs the runtime's own
  executable inside the container with the image's code as its loader. That
  code holds /proc/self/exe; the executable must be a private copy (never the
  host's shared Python) on a read-only mount that nothing can remount: the
  launcher (tools/launcher.c) runs it from a detached read-only clone.
- /proc/<pid>/exe of a runtime process seen from the container: closed,
  because the runtime turns non-dumpable before it joins.
"""
from __future__ import annotations

import errno
import glob
import hashlib
import os
import shutil
import subprocess

import pytest

from helpers import execs_under_watch

DATA = os.path.join(os.path.dirname(__file__), "data")
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


def host_pythons() -> set[tuple[int, int]]:
    """(dev, ino) of every shared interpreter on the host."""
    out = set()
    for path in glob.glob("/usr/bin/python3*") + glob.glob("/usr/local/bin/python3*"):
        st = os.stat(path)
        out.add((st.st_dev, st.st_ino))
    return out


@pytest.fixture(scope="module")
def evil_loader(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("evil") / "ld.so")
    subprocess.run(["gcc", "-static-pie", "-nostdlib", "-fno-stack-protector", "-O2", "-o", out,
                    os.path.join(DATA, "evil_loader.c")], check=True)
    return out


def plant(bundle, loader: str) -> str:
    """The hostile image: its /lib64 loader is ours, /bin/evil runs the runtime's exe."""
    lib64 = os.path.join(bundle.rootfs, "lib64")
    os.makedirs(lib64, exist_ok=True)
    shutil.copy(loader, os.path.join(lib64, "ld-linux-x86-64.so.2"))
    with open(os.path.join(bundle.rootfs, "bin", "evil"), "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(os.path.join(bundle.rootfs, "bin", "evil"), 0o755)
    return os.path.join(bundle.rootfs, "exe-report")


def check_report(report_path: str) -> None:
    with open(report_path) as f:
        fields = dict(item.split("=") for item in f.read().split())
    assert (int(fields["dev"]), int(fields["ino"])) not in host_pythons(), \
        "the container's /proc/self/exe is the host's shared interpreter"
    assert fields["readonly"] == "1", f"the runtime's executable is on a writable mount: {fields}"
    assert int(fields["write_errno"]) in (errno.EROFS, errno.ETXTBSY), fields


def test_proc_self_exe_as_the_first_program(runtime, bundle, evil_loader):
    report = plant(bundle, evil_loader)
    bundle.set_args("/bin/evil")
    cid = runtime.new_id()
    proc = runtime.run("run", "--bundle", bundle.path, cid)
    assert os.path.exists(report), f"the hostile loader did not run: {proc.stderr.decode()}"
    check_report(report)
    assert proc.returncode == 0


def test_proc_self_exe_through_exec(runtime, bundle, evil_loader):
    report = plant(bundle, evil_loader)
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    proc = runtime.run("exec", cid, "/bin/evil")
    assert os.path.exists(report), f"the hostile loader did not run: {proc.stderr.decode()}"
    check_report(report)
    assert proc.returncode == 0


def test_exec_joining_runtime_is_not_reachable(runtime, bundle, tmp_path):
    interpreter = os.path.realpath("/opt/pyruntime/venv/bin/python3")
    before = sha256(interpreter)
    bundle.set_args("sleep", "600")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    _, report = execs_under_watch(runtime, bundle, cid, WATCHER, 5)
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
