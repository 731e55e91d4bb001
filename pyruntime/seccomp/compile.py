"""A seccomp profile to a BPF program, once, in the parent (before fork).

libseccomp builds the filter; we export it as raw BPF so the child needs no
library, only the seccomp(2) call, as close to execve as possible. Rules
follow runc: syscall names this kernel/arch does not know are skipped, a
rule whose action equals the default is dropped, and conditions on the same
argument index become separate rules (libseccomp cannot AND them).
"""
from __future__ import annotations

import errno
import os
from pyruntime.startup.dataclass import dataclass

from pyruntime.errors import ConfigError, PyruntimeError, describe_errno
from pyruntime.linux import SECCOMP_FILTER_FLAGS as FILTER_FLAGS, SECCOMP_OPS as OPS
from pyruntime.model.seccomp import Seccomp, SyscallRule

FLAG_NEW_LISTENER = 8


@dataclass(frozen=True)
class Program:
    """The exported filter and how to load it."""
    bpf: bytes
    flags: int
    notify: bool
    skipped: tuple[str, ...] = ()   # syscall names unknown here, skipped as runc does


def action_value(name: str, errno_ret: int | None, lib) -> int:
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return lib.SCMP_ACT_KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return lib.SCMP_ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return lib.SCMP_ACT_TRAP
    if name == "SCMP_ACT_ERRNO":
        return 0x00050000 | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return 0x7FF00000 | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_ALLOW":
        return lib.SCMP_ACT_ALLOW
    if name == "SCMP_ACT_LOG":
        return lib.SCMP_ACT_LOG
    if name == "SCMP_ACT_NOTIFY":
        return lib.SCMP_ACT_NOTIFY
    raise ConfigError([f"linux.seccomp: unknown action {name!r}"])


def arg_groups(rule: SyscallRule) -> list[list]:
    """AND of all conditions, unless two share an index: then one rule each (OR)."""
    indexes = [a.index for a in rule.args]
    if len(set(indexes)) != len(indexes):
        return [[a] for a in rule.args]
    return [list(rule.args)]


def compile_profile(profile: Seccomp) -> Program:
    from pyruntime._seccomp import ffi, lib
    default = action_value(profile.default_action, profile.default_errno_ret, lib)
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise PyruntimeError("linux.seccomp.defaultAction: libseccomp refused it")
    skipped: list[str] = []
    try:
        lib.seccomp_attr_set(ctx, lib.SCMP_FLTATR_CTL_NNP, 0)  # we set no_new_privs ourselves
        for i, arch in enumerate(profile.architectures):
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                skipped.append(arch)
                continue
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -errno.EEXIST:
                raise PyruntimeError(f"linux.seccomp.architectures[{i}]: {arch}: {describe_errno(-rc)}")
        notify = False
        for i, rule in enumerate(profile.syscalls):
            act = action_value(rule.action, rule.errno_ret, lib)
            if act == default:
                continue  # libseccomp refuses a rule that repeats the default action
            notify = notify or rule.action == "SCMP_ACT_NOTIFY"
            for name in rule.names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == lib.__NR_SCMP_ERROR:
                    skipped.append(name)
                    continue
                for group in arg_groups(rule):
                    cmps = ffi.new("struct scmp_arg_cmp[]", len(group) or 1)
                    for j, a in enumerate(group):
                        cmps[j].arg, cmps[j].op = a.index, OPS[a.op]
                        cmps[j].datum_a, cmps[j].datum_b = a.value, a.value_two
                    rc = lib.seccomp_rule_add_array(ctx, act, nr, len(group), cmps)
                    if rc < 0:
                        raise PyruntimeError(
                            f"linux.seccomp.syscalls[{i}]: {name}: libseccomp: {describe_errno(-rc)}")
        bpf = _export(ctx, lib)
    finally:
        lib.seccomp_release(ctx)
    flags = 0
    for name in profile.flags:
        flags |= FILTER_FLAGS[name]
    if notify:
        flags |= FLAG_NEW_LISTENER
    return Program(bpf, flags, notify, tuple(skipped))


def _export(ctx, lib) -> bytes:
    from pyruntime.kernel import fd as kfd
    memfd = kfd.memfd_create("pyruntime-seccomp")
    try:
        rc = lib.seccomp_export_bpf(ctx, memfd)
        if rc < 0:
            raise PyruntimeError(f"linux.seccomp: exporting the filter: {describe_errno(-rc)}")
        size = os.lseek(memfd, 0, os.SEEK_END)
        return os.pread(memfd, size, 0)
    finally:
        os.close(memfd)
