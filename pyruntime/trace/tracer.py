"""The ptrace loop of `pyruntime trace`, on python-ptrace's bindings (its ptrace() call and its
per-architecture system call tables).

The traced run's seccomp filter returns SECCOMP_RET_TRACE where the profile would allow (all
calls, for a config without a profile; see verb_trace): each such call stops once, at the
filter, as a PTRACE_EVENT_SECCOMP that names its architecture and number (an int 0x80 call of
a 64-bit program is i386's), and calls made before the filter is loaded (the runtime's own,
hooks) never stop: what is counted is exactly what the profile will govern, one stop per call.

The tracer is the container init's parent (a child subreaper, as `run` is). It seizes the init
while the init waits for start, with every thread and child followed (fork, vfork, clone) and
killed should the tracer die (PTRACE_O_EXITKILL): a container cannot detach from it, and a
traced program calling ptrace itself gets EPERM. Signals go on to the tracee; job control's
stops do not hold it.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import sys
import time

from ptrace.binding.func import ptrace
from ptrace.syscall.linux import i386, x86_64

from pyruntime.trace.profile import ARCHS, Observations

PTRACE_CONT, PTRACE_GETEVENTMSG = 7, 0x4201
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_GET_SYSCALL_INFO = 0x4206, 0x4207, 0x420E
# FORK, VFORK, CLONE, EXEC, SECCOMP, EXITKILL
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10 | 0x80 | 0x100000
EVENT_SECCOMP, EVENT_STOP = 7, 128
INFO_SECCOMP = 3
WALL = 0x40000000  # os.__WALL, which a name inside a class cannot spell
X32_BIT = 0x40000000
NAMES = {0xC000003E: x86_64.SYSCALL_NAMES, 0x40000003: i386.SYSCALL_NAMES}


class SyscallInfo(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 3), ("arch", ctypes.c_uint32),
                ("instruction_pointer", ctypes.c_uint64), ("stack_pointer", ctypes.c_uint64),
                ("nr", ctypes.c_uint64), ("args", ctypes.c_uint64 * 6), ("ret_data", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32)]


def _resume(pid: int, sig: int = 0) -> None:
    try:
        ptrace(PTRACE_CONT, pid, 0, sig)
    except Exception as exc:  # python-ptrace's PtraceError: the tracee died meanwhile
        if getattr(exc, "errno", None) != errno.ESRCH:
            raise


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f"{f.read().strip()}[{pid}]"
    except OSError:
        return f"?[{pid}]"


class Tracer:
    def __init__(self, init_pid: int, progress: bool = False):
        self.init = init_pid
        self.obs = Observations()
        self.live: set[int] = set()
        self.calls = 0
        self.starter_status = 0
        self.progress = progress
        self.shown = 0.0

    def seize(self) -> None:
        """Attach to the init (waiting for start: nothing of the program has run yet)."""
        ptrace(PTRACE_SEIZE, self.init, 0, OPTIONS)
        ptrace(PTRACE_INTERRUPT, self.init, 0, 0)
        self.live.add(self.init)

    def run(self, starter: int = 0) -> int:
        """Trace until the init has exited and no tracee is left; the init's wait status. ``starter``:
        the child process doing `start` (a failure kills the init; its status is kept)."""
        status_of_init = None
        forward = lambda signum, _frame: _kill(self.init, signum)  # noqa: E731
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                       signal.SIGUSR2):
            signal.signal(signum, forward)
        while status_of_init is None or self.live:
            try:
                pid, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                break
            if pid == starter:
                self.starter_status = status
                if status:
                    _kill(self.init, signal.SIGKILL)
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self.live.discard(pid)
                if pid == self.init:
                    status_of_init = status
                continue
            if os.WIFSTOPPED(status):
                self.live.add(pid)  # new tasks are attached from birth
                self._stopped(pid, os.WSTOPSIG(status), status >> 16)
        self._show(force=True)
        return status_of_init if status_of_init is not None else 0

    def _stopped(self, pid: int, sig: int, event: int) -> None:
        if sig == signal.SIGTRAP and event == EVENT_SECCOMP:
            self._syscall(pid)
            _resume(pid)
        elif sig == signal.SIGTRAP and event or event == EVENT_STOP:
            _resume(pid)  # fork, clone, exec; a first stop, an interrupt, job control's stop: go on
        else:
            _resume(pid, sig)  # a signal for the tracee: delivered

    def _syscall(self, pid: int) -> None:
        info = SyscallInfo()
        try:
            ptrace(PTRACE_GET_SYSCALL_INFO, pid, ctypes.sizeof(info), ctypes.addressof(info))
        except Exception:
            return
        if info.op != INFO_SECCOMP:
            return
        arch = ARCHS.get(info.arch, f"0x{info.arch:x}")
        nr = info.nr
        if info.arch == 0xC000003E and nr & X32_BIT:
            arch, nr = "SCMP_ARCH_X32", nr & ~X32_BIT
        name = NAMES.get(info.arch, {}).get(nr)
        self.calls += 1
        if name is None:
            self.obs.unknown.add((arch, nr))
        else:
            self.obs.add(arch, name, info.args, _comm(pid) if (arch, name) not in self.obs.first else "")
        if self.progress:
            self._show()

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.progress and (force or now - self.shown > 0.5):
            self.shown = now
            sys.stderr.write(f"\rtrace: {self.calls} system calls, {len(self.obs.counts)} distinct, "
                             f"{len(self.live)} tasks traced{chr(10) if force else ''}")
            sys.stderr.flush()


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
