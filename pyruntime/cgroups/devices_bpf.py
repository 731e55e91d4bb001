"""The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program.

cgroup v2 has no devices.allow/deny; the kernel runs an eBPF program on
every device open or mknod instead. We assemble it here, as runc's
devicefilter does: the rules are checked last to first (a later rule
overrides an earlier one), the first match returns allow (1) or deny (0),
and no match denies. Then bpf(2) loads it and attaches it to the
container's cgroup.

The program's context is struct bpf_cgroup_dev_ctx { u32 access_type;
u32 major; u32 minor; }, access_type = access << 16 | type.
"""
from __future__ import annotations

import os
import struct

from pyruntime.errors import CgroupError, describe_errno
from pyruntime.model.resources import DeviceRule

DEV_TYPE = {"b": 1, "c": 2}               # BPF_DEVCG_DEV_BLOCK / _CHAR
ACCESS = {"m": 1, "r": 2, "w": 4}         # BPF_DEVCG_ACC_MKNOD / _READ / _WRITE
PROG_TYPE_CGROUP_DEVICE, ATTACH_CGROUP_DEVICE = 15, 6
BPF_PROG_LOAD, BPF_PROG_ATTACH, BPF_PROG_QUERY = 5, 8, 16
F_ALLOW_MULTI = 2

# opcodes used (linux/bpf.h)
LDX_W = 0x61        # dst = *(u32 *)(src + off)
AND32_K = 0x54
RSH32_K = 0x74
MOV32_X = 0xBC
MOV64_K = 0xB7
JNE_K = 0x55        # if dst != imm goto +off
JNE_X = 0x5D        # if dst != src goto +off
EXIT = 0x95


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


PROLOGUE = b"".join((
    insn(LDX_W, 2, 1, 0), insn(AND32_K, 2, imm=0xFFFF),   # r2 = type
    insn(LDX_W, 3, 1, 0), insn(RSH32_K, 3, imm=16),       # r3 = requested access
    insn(LDX_W, 4, 1, 4),                                 # r4 = major
    insn(LDX_W, 5, 1, 8),                                 # r5 = minor
))


def rule_block(rule: DeviceRule) -> bytes:
    """Instructions that return the rule's verdict when the access matches it."""
    checks: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm); jump target filled below
    if rule.type != "a":
        checks.append((JNE_K, 2, 0, DEV_TYPE[rule.type]))
    access = sum(ACCESS[c] for c in set(rule.access))
    if rule.type != "a" and access != 7:
        # requested access must be within the rule's: (r3 & access) == r3
        checks.append(("access", access, 0, 0))
    if rule.type != "a" and rule.major is not None and rule.major >= 0:
        checks.append((JNE_K, 4, 0, rule.major))
    if rule.type != "a" and rule.minor is not None and rule.minor >= 0:
        checks.append((JNE_K, 5, 0, rule.minor))
    verdict = insn(MOV64_K, 0, imm=1 if rule.allow else 0) + insn(EXIT)
    # assemble back to front so each jump knows how far the end of the block is
    body = verdict
    for check in reversed(checks):
        if check[0] == "access":
            skip = len(body) // 8
            body = (insn(MOV32_X, 1, 3) + insn(AND32_K, 1, imm=check[1]) +
                    insn(JNE_X, 1, 3, off=skip)) + body
        else:
            code, dst, _, imm = check
            body = insn(code, dst, off=len(body) // 8, imm=imm) + body
    return body


def assemble(rules) -> bytes:
    """Prologue, one block per rule (last rule first), then deny.

    A rule that matches everything (type "a") ends the program: anything
    after it would be unreachable, which the verifier refuses.
    """
    blocks = []
    for rule in reversed(tuple(rules)):
        blocks.append(rule_block(rule))
        if rule.type == "a":
            return PROLOGUE + b"".join(blocks)
    return PROLOGUE + b"".join(blocks) + insn(MOV64_K, 0, imm=0) + insn(EXIT)


def _bpf(cmd: int, attr: bytes, what: str) -> int:
    from pyruntime.kernel import ffi, lib
    buf = ffi.from_buffer(bytearray(attr))
    rc = lib.pyrt_bpf(cmd, buf, len(attr))
    if rc < 0:
        raise CgroupError(f"bpf({what}): {describe_errno(ffi.errno)}")
    return rc


def load(program: bytes) -> int:
    """BPF_PROG_LOAD; a refusal quotes the verifier's last words."""
    from pyruntime.kernel import ffi
    insns = ffi.from_buffer(program)
    license_ = ffi.new("char[]", b"Apache")
    log = ffi.new("char[]", 65536)

    def attr(level: int) -> bytes:
        return struct.pack("<IIQQIIQII16sII", PROG_TYPE_CGROUP_DEVICE, len(program) // 8,
                           int(ffi.cast("uintptr_t", insns)), int(ffi.cast("uintptr_t", license_)),
                           level, 65536 if level else 0, int(ffi.cast("uintptr_t", log)) if level else 0,
                           0, 0, b"pyruntime_dev", 0, ATTACH_CGROUP_DEVICE)  # name: [A-Za-z0-9_.]
    try:
        return _bpf(BPF_PROG_LOAD, attr(0), "BPF_PROG_LOAD")
    except CgroupError as exc:
        try:
            return _bpf(BPF_PROG_LOAD, attr(1), "BPF_PROG_LOAD")
        except CgroupError:
            words = ffi.string(log).decode(errors="replace").strip().splitlines()
            problem = next((w for w in reversed(words) if not w.startswith('processed ')), '(no log)')
            raise CgroupError(f"{exc}: verifier: {problem}") from None


def attach(cgroup_dir: str, rules) -> None:
    """Load the filter for ``rules`` and attach it to the cgroup v2 directory."""
    prog = load(assemble(rules))
    try:
        dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attr = struct.pack("<IIIII", dirfd, prog, ATTACH_CGROUP_DEVICE, F_ALLOW_MULTI, 0)
            _bpf(BPF_PROG_ATTACH, attr, f"BPF_PROG_ATTACH {cgroup_dir}")
        finally:
            os.close(dirfd)
    finally:
        os.close(prog)


def attached(cgroup_dir: str) -> int:
    """How many device programs are attached directly to the cgroup (BPF_PROG_QUERY)."""
    dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attr = bytearray(struct.pack("<IIIIQI", dirfd, ATTACH_CGROUP_DEVICE, 0, 0, 0, 0))
        from pyruntime.kernel import ffi, lib
        buf = ffi.from_buffer(attr)
        if lib.pyrt_bpf(BPF_PROG_QUERY, buf, len(attr)) < 0:
            raise CgroupError(f"bpf(BPF_PROG_QUERY): {describe_errno(ffi.errno)}")
        return struct.unpack_from("<I", ffi.buffer(buf), 24)[0]
    finally:
        os.close(dirfd)
