"""Shared fixtures: the installed pyruntime binary, busybox bundles, a private --root.

Integration tests drive the real binary (as containerd would) and look at the
result from inside the container with busybox tools. Every container a test
makes is force-deleted at teardown, and every test gets its own state root,
so a failing test cannot leave containers behind for the next one.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from helpers import BUNDLE_SCRIPT, PYRUNTIME, Bundle, Runtime


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


@pytest.fixture
def bundle(tmp_path, rootfs_template) -> Bundle:
    path = tmp_path / "bundle"
    subprocess.run(["cp", "-a", rootfs_template, str(path)], check=True)
    # a container root mapped to another uid must reach the rootfs: every parent searchable
    for parent in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        os.chmod(parent, os.stat(parent).st_mode | 0o111)
    return Bundle(str(path))


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
