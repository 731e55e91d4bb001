"""A container (default capabilities) cannot undo its own confinement."""
from __future__ import annotations

from helpers import run_container


def test_cannot_remount_or_unmask(runtime, bundle):
    bundle.edit(lambda c: c["root"].update(readonly=True))
    script = ("mount -o remount,rw / 2>/dev/null && echo root-rw; "
              "umount /proc/keys 2>/dev/null && echo unmasked; "
              "mount -o remount,rw /proc/sys 2>/dev/null && echo sys-rw; "
              "mount -t proc proc /tmp 2>/dev/null && echo newproc; "
              "echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq; "
              "touch /probe 2>/dev/null && echo wrote; echo checked")
    code, out, err = run_container(runtime, bundle, "sh", "-c", script)
    assert out.split() == ["checked"], out


def test_cannot_see_host_processes_or_mounts(runtime, bundle):
    code, out, err = run_container(runtime, bundle, "sh", "-c",
                                   "ls -d /proc/[0-9]* | wc -l; readlink /proc/1/root; ls /proc/1/root/tmp/pytest-of-root 2>&1 | head -1")
    lines = out.splitlines()
    assert int(lines[0]) <= 3, out  # sh, ls, wc: nothing of the host
    assert lines[1] == "/"
    assert "No such file" in lines[2]
