"""Opening, joining and creating namespaces (the kernel-facing half of the plan)."""
from __future__ import annotations

import fcntl
import os

from pyruntime.errors import ConfigError, SyscallError, describe_errno
from pyruntime.fileio import write_once
from pyruntime.kernel import ns as k
from pyruntime.namespaces.plan import FLAGS, PROC_NAMES, NamespacePlan

NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3)


def open_joined(plan: NamespacePlan) -> list[tuple[str, int]]:
    """Open every namespace to join, checking each is a namespace of the stated type.

    Done in the parent before anything is created, so a wrong path is an
    error about the config, and the child gets fds (no path races later).
    """
    opened = []
    try:
        for (kind, path), field in zip(plan.join, plan.join_fields):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise ConfigError([f"{field}: cannot open {path}: {describe_errno(exc.errno)}"]) from None
            opened.append((kind, fd))
            try:
                actual = fcntl.ioctl(fd, NS_GET_NSTYPE)
            except OSError:
                raise ConfigError([f"{field}: {path} is not a namespace"]) from None
            if actual != FLAGS[kind]:
                raise ConfigError([f"{field}: {path} is not a {kind} namespace"])
        return opened
    except BaseException:
        for _, fd in opened:
            os.close(fd)
        raise


def split_cgroup(opened: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], int]:
    """(the others, the cgroup namespace fd or -1).

    A cgroup namespace is joined by the process that will live in it, once it
    is in its cgroup: clone3(CLONE_INTO_CGROUP) refuses a target outside the
    caller's cgroup namespace (ENOENT), so stage 1 must not join it first.
    """
    others = [(kind, fd) for kind, fd in opened if kind != "cgroup"]
    cgroup = [fd for kind, fd in opened if kind == "cgroup"]
    return others, (cgroup[0] if cgroup else -1)


def join(opened: list[tuple[str, int]]) -> None:
    for kind, fd in opened:
        try:
            k.setns(fd, FLAGS[kind])
        except SyscallError as exc:
            raise exc.within(f"joining the {kind} namespace") from None
        os.close(fd)


def open_of_process(pid: int, kinds) -> list[tuple[str, int]]:
    """fds of /proc/<pid>/ns/* for exec, skipping namespaces the process shares with us."""
    opened = []
    for kind in kinds:
        name = PROC_NAMES[kind]
        path = f"/proc/{pid}/ns/{name}"
        try:
            if os.stat(path).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                continue
            opened.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
        except FileNotFoundError:
            continue
    return opened


def write_id_maps(pid: int, uid_map: str, gid_map: str) -> None:
    """Written by the parent. Root outside may map any ranges; an unprivileged parent
    only its own ids, and the kernel wants setgroups denied before its gid_map."""
    privileged = os.geteuid() == 0
    steps = [("uid_map", uid_map), ("gid_map", gid_map)]
    if not privileged:
        steps.insert(1, ("setgroups", "deny"))
    for name, text in steps:
        path = f"/proc/{pid}/{name}"
        try:
            write_once(path, text.encode())
        except OSError as exc:
            hint = ("check linux.uidMappings/gidMappings ranges" if privileged else
                    "an unprivileged runtime can map only its own uid and gid, once each")
            raise SyscallError("write", exc.errno, path, hint=hint) from None


def write_time_offsets(text: str) -> None:
    """Offsets of the time namespace our children will enter (before any has)."""
    try:
        fd = os.open("/proc/self/timens_offsets", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise SyscallError("write", exc.errno, "/proc/self/timens_offsets") from None
