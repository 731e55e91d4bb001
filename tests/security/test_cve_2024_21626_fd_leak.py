"""CVE-2024-21626 class: no runtime fd reaches the container, and cwd cannot
escape through one (/proc/self/fd/N)."""
from __future__ import annotations

import os
import subprocess

import pytest


def run_with_inherited_fd(runtime, bundle, *extra):
    """The runtime is started by a careless caller that leaks an fd to a host directory."""
    fd = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        cid = runtime.new_id()
        runtime.created.add(cid)
        proc = subprocess.run(runtime.cmd("run", "--bundle", bundle.path, *extra, cid), pass_fds=(fd,),
                              capture_output=True, timeout=30)
        return fd, proc
    finally:
        os.close(fd)


def test_only_stdio_reaches_the_container(runtime, bundle):
    bundle.set_args("sh", "-c", "ls /proc/$$/fd; true")  # `; true`: sh must not exec ls itself
    fd, proc = run_with_inherited_fd(runtime, bundle)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().split() == ["0", "1", "2"], (fd, proc.stdout)


def test_preserved_fds_do_reach_it(runtime, bundle):
    bundle.set_args("sh", "-c", "ls /proc/$$/fd; true")
    fd = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)  # only to learn the number the next one gets
    os.close(fd)
    fd, proc = run_with_inherited_fd(runtime, bundle, "--preserve-fds", str(fd - 2))  # fds 3..fd
    assert str(fd) in proc.stdout.decode().split()


@pytest.mark.parametrize("cwd", ["/proc/self/fd/{fd}", "/proc/1/cwd", "/proc/self/cwd/.."])
def test_cwd_through_magic_link_is_refused(runtime, bundle, cwd):
    bundle.set_args("pwd")
    fd_probe = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd_probe)
    bundle.edit(lambda c: c["process"].update(cwd=cwd.format(fd=fd_probe)))
    fd, proc = run_with_inherited_fd(runtime, bundle)
    assert proc.returncode == 1, proc.stdout
    err = proc.stderr.decode()
    assert err.startswith("pyruntime: process.cwd:") and err.count("\n") == 1, err


def test_cwd_symlink_to_magic_link_is_refused(runtime, bundle):
    os.symlink("/proc/self/fd/3", os.path.join(bundle.rootfs, "evil"))
    bundle.set_args("pwd")
    bundle.edit(lambda c: c["process"].update(cwd="/evil"))
    fd, proc = run_with_inherited_fd(runtime, bundle)
    assert proc.returncode == 1 and proc.stderr.decode().startswith("pyruntime: process.cwd:")


def test_exec_cwd_through_magic_link_is_refused(runtime, bundle):
    bundle.set_args("sleep", "60")
    cid = runtime.new_id()
    runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
    proc = runtime.run("exec", "--cwd", "/proc/self/fd/3", cid, "pwd")
    assert proc.returncode == 255 and proc.stderr.decode().startswith("pyruntime: exec failed: process.cwd:")
