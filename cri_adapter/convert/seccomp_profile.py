"""The built-in RuntimeDefault seccomp profile, and Localhost profiles read as OCI or Docker JSON.

RuntimeDefault refuses (EPERM) what Docker's and containerd's default profiles refuse
to a container without extra capabilities: kernel modules, keyrings, mounts, new
namespaces, reboot, clock changes, tracing other processes, kexec, bpf and perf, and
the new mount API. It is written as a short deny list over an allowing default, so it
reads in one screen; the syscalls a capability unlocks (mount with CAP_SYS_ADMIN,
ptrace with CAP_SYS_PTRACE...) are allowed again when the container is given that
capability, as Docker's profile does. clone3 answers ENOSYS so that libc falls back to
clone, whose namespace flags can be inspected.
"""
from __future__ import annotations

import json

from ..errors import InvalidArgument

# syscalls refused unless the container holds the capability on the left ("" = never)
_DENIED = {
    "": ("add_key", "keyctl", "request_key", "kexec_file_load", "kexec_load", "create_module",
         "get_kernel_syms", "query_module", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
         "userfaultfd", "vm86", "vm86old", "lookup_dcookie"),
    "CAP_SYS_ADMIN": ("mount", "umount", "umount2", "pivot_root", "setns", "unshare", "fsopen",
                      "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
                      "quotactl", "quotactl_fd", "swapon", "swapoff", "name_to_handle_at",
                      "bpf", "perf_event_open", "fanotify_init", "setdomainname", "sethostname",
                      "iopl", "ioperm", "get_mempolicy", "set_mempolicy", "mbind", "move_pages"),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex",
                     "clock_adjtime", "clock_adjtime64"),
    "CAP_SYS_PTRACE": ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
}
# clone flags that make namespaces (CLONE_NEWNS ... CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME)
_NS_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)
EPERM, ENOSYS = 1, 38


def runtime_default(capabilities: set[str]) -> dict:
    denied = sorted(name for cap, names in _DENIED.items() if not cap or cap not in capabilities for name in names)
    rules = [{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}]
    if "CAP_SYS_ADMIN" not in capabilities:
        # one rule per flag: refused when the flag is set (MASKED_EQ: value is the mask, valueTwo the datum)
        rules += [{"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM,
                   "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}]}
                  for flag in _NS_FLAGS]
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": rules}


_DOCKER_ARCHES = {"x86_64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "x32": "SCMP_ARCH_X32",
                  "aarch64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM"}


def localhost(text: str, where: str) -> dict:
    """An OCI linux.seccomp object from a profile file: OCI form, or Docker's (archMap, names)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{where}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or "defaultAction" not in doc:
        raise InvalidArgument(f"{where}: not a seccomp profile (no defaultAction)")
    profile = {k: doc[k] for k in ("defaultAction", "defaultErrnoRet", "architectures", "flags",
                                   "listenerPath", "listenerMetadata") if k in doc}
    if "archMap" in doc and "architectures" not in doc:
        profile["architectures"] = [a["architecture"] for a in doc["archMap"]]
    syscalls = []
    for rule in doc.get("syscalls") or ():
        rule = {k: v for k, v in rule.items() if k in ("names", "name", "action", "errnoRet", "args")}
        if "name" in rule:  # Docker's older one-name form
            rule["names"] = [rule.pop("name")]
        syscalls.append(rule)
    if syscalls:
        profile["syscalls"] = syscalls
    return profile
