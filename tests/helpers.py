"""Helpers for the integration and security tests: bundles, the runtime binary, running containers."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRUNTIME = os.environ.get("PYRUNTIME", shutil.which("pyruntime") or "/usr/local/bin/pyruntime")
BUNDLE_SCRIPT = os.path.join(REPO, "tools", "busybox-bundle.sh")

# The host's cgroup layout as the tests know it, apart from pyruntime's own detection (which they
# test): pure v2 has cgroup.controllers at /sys/fs/cgroup; v1 hierarchies are mounted at
# /sys/fs/cgroup/<controller>, and a hybrid host's cgroup2 at /sys/fs/cgroup/unified.
CGROUP_V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
CGROUP_UNIFIED = "/sys/fs/cgroup" if CGROUP_V2 else \
    "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers") else ""


def cgroup_dirs(path: str) -> list[str]:
    """Every directory of cgroup ``path`` (relative to the hierarchies' roots) that exists."""
    import glob
    return sorted(set(glob.glob(f"/sys/fs/cgroup/*{path}") + glob.glob(f"/sys/fs/cgroup{path}")))


class Bundle:
    """A bundle directory whose config.json tests edit as a dict."""

    def __init__(self, path: str):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        with open(os.path.join(path, "config.json")) as f:
            self.config = json.load(f)
        self.config["process"]["args"] = ["true"]
        self.config["root"]["readonly"] = False  # tests write files; test_rootfs covers read-only
        self.save()

    def save(self) -> None:
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)

    def set_args(self, *args: str) -> "Bundle":
        self.config["process"]["args"] = list(args)
        self.save()
        return self

    def edit(self, fn) -> "Bundle":
        fn(self.config)
        self.save()
        return self


class Runtime:
    """A runtime binary (pyruntime unless told) with a private --root; remembers containers to clean up."""

    def __init__(self, root: str, log: str, binary: str = PYRUNTIME):
        self.root = root
        self.log = log
        self.binary = binary
        self.created: set[str] = set()

    def new_id(self, prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def cmd(self, *args: str, log_format: str = "json") -> list[str]:
        return [self.binary, "--root", self.root, "--log", self.log, "--log-format", log_format, *args]

    def run(self, *args: str, check: bool = False, timeout: float = 30, input: bytes | None = None,
            **kw) -> subprocess.CompletedProcess:
        for i, a in enumerate(args):
            if a in ("create", "run") and i + 1 < len(args):
                self.created.add(args[-1])
        # files, not pipes: a created container inherits stdio and keeps pipes open
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run(self.cmd(*args), stdout=out, stderr=err, timeout=timeout,
                                  input=input, **kw)
            out.seek(0)
            err.seek(0)
            proc.stdout, proc.stderr = out.read(), err.read()
        if check and proc.returncode != 0:
            raise AssertionError(f"pyruntime {' '.join(args)} failed ({proc.returncode}): "
                                 f"{proc.stderr.decode(errors='replace')}")
        return proc

    def output(self, *args: str, **kw) -> str:
        return self.run(*args, check=True, **kw).stdout.decode()

    def state(self, cid: str) -> dict:
        return json.loads(self.output("state", cid))

    def edit_record(self, cid: str, change) -> None:
        """Apply ``change`` to the container's state.json (the record later verbs read)."""
        path = os.path.join(self.root, cid, "state.json")
        with open(path) as f:
            record = json.load(f)
        change(record)
        with open(path, "w") as f:
            json.dump(record, f)

    def cleanup(self) -> None:
        for cid in self.created:
            subprocess.run(self.cmd("delete", "--force", cid), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)


def run_container(runtime: Runtime, bundle: Bundle, *args: str, timeout: float = 30):
    """`run` a container in the foreground and return (exit code, stdout, stderr)."""
    if args:
        bundle.set_args(*args)
    cid = runtime.new_id()
    proc = runtime.run("run", "--bundle", bundle.path, cid, timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def execs_under_watch(runtime, bundle, cid: str, watcher: str, seconds: float) -> tuple[int, str]:
    """Run ``watcher`` (a shell loop that ends by printing watcher-done) detached in the
    container, exec `true` into it for ``seconds``, and return (execs made, its report)."""
    runtime.run("exec", "-d", cid, "sh", "-c", f"{{ {watcher}\n}} > /watcher.out 2>&1", check=True)
    deadline = time.monotonic() + seconds
    execs = 0
    while time.monotonic() < deadline:
        runtime.run("exec", cid, "true", check=True)
        execs += 1
    report_path = os.path.join(bundle.rootfs, "watcher.out")
    deadline = time.monotonic() + 20  # the watcher's own end: poll for it, bounded
    while time.monotonic() < deadline:
        if os.path.exists(report_path) and "watcher-done" in open(report_path).read():
            break
        time.sleep(0.2)
    with open(report_path) as f:
        return execs, f.read()


def host_ns(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{kind}").st_ino
