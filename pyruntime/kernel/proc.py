"""Process attributes: prctl, capabilities, identity, scheduling, seccomp load."""
from __future__ import annotations

from pyruntime.kernel import check, cstr, ffi, lib

PR_SET_PDEATHSIG = lib.PR_SET_PDEATHSIG
PR_SET_DUMPABLE = lib.PR_SET_DUMPABLE
PR_GET_DUMPABLE = lib.PR_GET_DUMPABLE
PR_SET_KEEPCAPS = lib.PR_SET_KEEPCAPS
PR_SET_NO_NEW_PRIVS = lib.PR_SET_NO_NEW_PRIVS
PR_GET_NO_NEW_PRIVS = lib.PR_GET_NO_NEW_PRIVS
PR_CAPBSET_READ = lib.PR_CAPBSET_READ
PR_CAPBSET_DROP = lib.PR_CAPBSET_DROP
PR_CAP_AMBIENT = lib.PR_CAP_AMBIENT
PR_CAP_AMBIENT_RAISE = lib.PR_CAP_AMBIENT_RAISE
PR_CAP_AMBIENT_CLEAR_ALL = lib.PR_CAP_AMBIENT_CLEAR_ALL
PR_SET_CHILD_SUBREAPER = lib.PR_SET_CHILD_SUBREAPER
PR_SET_NAME = lib.PR_SET_NAME
PR_GET_SECCOMP = lib.PR_GET_SECCOMP

PRCTL_NAMES = {
    PR_SET_PDEATHSIG: "prctl(PR_SET_PDEATHSIG)", PR_SET_DUMPABLE: "prctl(PR_SET_DUMPABLE)",
    PR_SET_KEEPCAPS: "prctl(PR_SET_KEEPCAPS)", PR_SET_NO_NEW_PRIVS: "prctl(PR_SET_NO_NEW_PRIVS)",
    PR_CAPBSET_DROP: "prctl(PR_CAPBSET_DROP)", PR_CAP_AMBIENT: "prctl(PR_CAP_AMBIENT)",
    PR_SET_CHILD_SUBREAPER: "prctl(PR_SET_CHILD_SUBREAPER)",
}


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    rc = lib.prctl(option, arg2, arg3, arg4, arg5)
    return check(rc, PRCTL_NAMES.get(option, f"prctl({option})"))


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) as 64-bit masks."""
    data = ffi.new("unsigned int[6]")
    check(lib.pyrt_capget(pid, data), "capget")
    return (data[0] | data[1] << 32, data[2] | data[3] << 32, data[4] | data[5] << 32)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    data = ffi.new("unsigned int[6]", [
        effective & 0xFFFFFFFF, effective >> 32, permitted & 0xFFFFFFFF, permitted >> 32,
        inheritable & 0xFFFFFFFF, inheritable >> 32])
    check(lib.pyrt_capset(0, data), "capset")


def sethostname(name: str) -> None:
    raw = name.encode()
    check(lib.sethostname(raw, len(raw)), "sethostname", name)


def setdomainname(name: str) -> None:
    raw = name.encode()
    check(lib.setdomainname(raw, len(raw)), "setdomainname", name)


def personality(persona: int) -> int:
    return check(lib.personality(persona), "personality")


def sched_setattr(policy: int, flags: int = 0, nice: int = 0, priority: int = 0,
                  runtime: int = 0, deadline: int = 0, period: int = 0, pid: int = 0) -> None:
    rc = lib.pyrt_sched_setattr(pid, policy, flags, nice, priority, runtime, deadline, period)
    check(rc, "sched_setattr")


def ioprio_set(ioprio: int, who: int = 0, which: int = 1) -> None:
    """which=1 is IOPRIO_WHO_PROCESS; who=0 is the calling thread."""
    check(lib.pyrt_ioprio_set(which, who, ioprio), "ioprio_set")


def ioprio_get(who: int = 0, which: int = 1) -> int:
    return check(lib.pyrt_ioprio_get(which, who), "ioprio_get")


def seccomp_load(program: bytes, flags: int = 0) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER) with a BPF program exported by libseccomp.

    Returns the notify listener fd when flags ask for one (NEW_LISTENER), otherwise 0.
    """
    rc = lib.pyrt_seccomp_load(flags, ffi.from_buffer(program), len(program) // 8)
    return check(rc, "seccomp(SECCOMP_SET_MODE_FILTER)")


def set_mempolicy(mode: int, nodes: list[int]) -> None:
    maxnode = max(nodes, default=0) + 2
    words = (maxnode + 63) // 64
    mask = ffi.new("unsigned long[]", max(words, 1))
    for node in nodes:
        mask[node // 64] |= 1 << (node % 64)
    check(lib.pyrt_set_mempolicy(mode, mask if nodes else ffi.NULL, maxnode if nodes else 0),
          "set_mempolicy")


def get_mempolicy() -> int:
    mode = ffi.new("int *")
    check(lib.pyrt_get_mempolicy(mode, ffi.NULL, 0, ffi.NULL, 0), "get_mempolicy")
    return mode[0]


def keyctl_join_session(name: str) -> int:
    return check(lib.pyrt_keyctl_join_session(cstr(name)), "keyctl(KEYCTL_JOIN_SESSION_KEYRING)", name)


RLIM_INFINITY = 2 ** 64 - 1


def prlimit(resource: int, limits: tuple[int, int] | None = None) -> tuple[int, int]:
    """Our (soft, hard) limit of ``resource`` before the call; sets ``limits`` when given.

    Values are the kernel's: RLIM_INFINITY is 2**64-1. (The resource module
    would cost every container start its import.)
    """
    old = ffi.new("unsigned long long[2]")
    soft, hard = limits if limits is not None else (0, 0)
    check(lib.pyrt_prlimit(resource, limits is not None, soft, hard, old), "prlimit")
    return old[0], old[1]
