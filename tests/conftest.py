"""Shared fixtures: the installed pyruntime binary, busybox bundles, a private --root.

Integration tests drive the real binary (as containerd would) and look at the
result from inside the container with busybox tools. Every container a test
makes is force-deleted at teardown, and every test gets its own state root,
so a failing test cannot leave containers behind for the next one.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRUNTIME = os.environ.get("PYRUNTIME", shutil.which("pyruntime") or "/usr/local/bin/pyruntime")
BUNDLE_SCRIPT = os.path.join(REPO, "tools", "busybox-bundle.sh")


def pytest_collection_modifyitems(config, items):
    """Tests under tests/integration and tests/security need root and the installed binary."""
    for item in items:
        path = str(item.fspath)
        if "/integration/" in path or "/security/" in path:
            item.add_marker(pytest.mark.needs_root)


@pytest.fixture(scope="session")
def rootfs_template(tmp_path_factory) -> str:
    """One busybox rootfs per session; bundles copy it (cp -a is fast)."""
    base = tmp_path_factory.mktemp("template")
    os.chmod(base, 0o755)
    subprocess.run([BUNDLE_SCRIPT, str(base)], check=True, env=dict(os.environ, PYRUNTIME=PYRUNTIME))
    return str(base)


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


@pytest.fixture
def bundle(tmp_path, rootfs_template) -> Bundle:
    path = tmp_path / "bundle"
    subprocess.run(["cp", "-a", rootfs_template, str(path)], check=True)
    # a container root mapped to another uid must reach the rootfs: every parent searchable
    for parent in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        os.chmod(parent, os.stat(parent).st_mode | 0o111)
    return Bundle(str(path))


class Runtime:
    """The pyruntime binary with a private --root; remembers containers to clean up."""

    def __init__(self, root: str, log: str):
        self.root = root
        self.log = log
        self.created: set[str] = set()

    def new_id(self, prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def cmd(self, *args: str, log_format: str = "json") -> list[str]:
        return [PYRUNTIME, "--root", self.root, "--log", self.log, "--log-format", log_format, *args]

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

    def cleanup(self) -> None:
        for cid in self.created:
            subprocess.run(self.cmd("delete", "--force", cid), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)


@pytest.fixture
def runtime(tmp_path):
    root = tmp_path / "state"
    rt = Runtime(str(root), str(tmp_path / "pyruntime.log"))
    yield rt
    rt.cleanup()
    if root.exists():
        leftovers = os.listdir(root)
        shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"state dirs left behind: {leftovers}"


def run_container(runtime: Runtime, bundle: Bundle, *args: str, timeout: float = 30):
    """`run` a container in the foreground and return (exit code, stdout, stderr)."""
    if args:
        bundle.set_args(*args)
    cid = runtime.new_id()
    proc = runtime.run("run", "--bundle", bundle.path, cid, timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def host_ns(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{kind}").st_ino
