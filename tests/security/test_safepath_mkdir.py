"""safepath.mkdir_all: `mkdir -p` inside a rootfs that never creates anything outside it, and
open_in_root, which never resolves outside it.

Mount targets are made with it before pivot_root, while a hostile image's
symlinks could point anywhere on the host (the CVE-2021-30465 class). Every test
runs twice: with openat2(RESOLVE_IN_ROOT), and with the checked component walk a
kernel without openat2 gets (the plan says which: HostFacts.openat2).
"""
from __future__ import annotations

import errno
import os

import pytest

from pyruntime.errors import SyscallError
from pyruntime.safefs import safepath
from pyruntime.safefs.safepath import mkdir_all, open_in_root


@pytest.fixture(params=["openat2", "walk"])
def root(tmp_path, request):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY)
    safepath.use_openat2(request.param == "openat2")
    yield rootfs, fd
    safepath.use_openat2(safepath.probe_openat2())
    os.close(fd)


def made(root, path: str) -> str:
    """The real path of the directory mkdir_all returned."""
    _, fd = root
    got = mkdir_all(fd, path)
    try:
        return os.readlink(f"/proc/self/fd/{got}")
    finally:
        os.close(got)


def test_nested_and_existing(root):
    rootfs, _ = root
    assert made(root, "/a/b/c") == str(rootfs / "a/b/c")
    assert made(root, "/a/b/c") == str(rootfs / "a/b/c")  # again: opened, not an error
    assert made(root, "/") == str(rootfs)


def test_an_absolute_symlink_resolves_inside_the_root(root, tmp_path):
    rootfs, _ = root
    outside = tmp_path / "outside"
    outside.mkdir()
    (rootfs / "link").symlink_to(outside)  # what the host path would be
    assert made(root, "/link/x") == str(rootfs / outside.relative_to("/") / "x")
    assert not (outside / "x").exists()


def test_a_dangling_symlink_gets_its_target_made_inside(root, tmp_path):
    rootfs, _ = root
    (rootfs / "d").symlink_to("../../../missing/dir")
    assert made(root, "/d/sub") == str(rootfs / "missing/dir/sub")
    assert not (tmp_path / "missing").exists()


def test_a_symlink_loop_is_an_error(root):
    rootfs, fd = root
    (rootfs / "loop").symlink_to("/loop")
    with pytest.raises(SyscallError) as err:
        mkdir_all(fd, "/loop/x")
    assert err.value.errno == errno.ELOOP


def test_a_file_in_the_way_is_an_error(root):
    rootfs, fd = root
    (rootfs / "file").write_text("")
    with pytest.raises(SyscallError) as err:
        mkdir_all(fd, "/file/x")
    assert err.value.errno == errno.ENOTDIR


@pytest.mark.parametrize("trap", ["{host}", "..", "/proc/self/root{host}"])
def test_open_in_root_never_leaves_it(root, tmp_path, trap):
    """A symlink to the host directory holding a secret (absolute, climbing, or through a magic
    link) is resolved inside the rootfs, where there is no such file; a plain open would follow
    it to the host's file."""
    rootfs, fd = root
    (tmp_path / "host-secret").write_text("host")
    (rootfs / "escape").symlink_to(trap.format(host=tmp_path))
    assert os.path.exists(rootfs / "escape" / "host-secret")  # what following it would reach
    with pytest.raises(SyscallError) as err:
        os.close(open_in_root(fd, "/escape/host-secret", os.O_RDONLY))
    assert err.value.errno in (errno.ENOENT, errno.ELOOP, errno.EXDEV)
