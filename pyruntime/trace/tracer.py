"""The ptrace loop of `pyruntime trace`, on python-ptrace's bindings (its ptrace() call and its
per-architecture system call tables).

The tracer is the container init's parent (a child subreaper, as `run` is). It seizes the init
while the init waits for start, with every thread and child followed (fork, vfork, clone) and
killed should the tracer die (PTRACE_O_EXITKILL): a container cannot detach from it, and a
traced program calling ptrace itself gets EPERM. Counting starts where the profile will take
effect: at the init's own seccomp() (the filter of this run marks the place) or, failing that,
at its execve of the program; a child counts when its parent did. Each system call is read at
its entry with PTRACE_GET_SYSCALL_INFO, which names the architecture (an int 0x80 call of a
64-bit program is i386's). Signals go on to the tracee; stops of job control do not hold it.
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

PTRACE_SYSCALL, PTRACE_GETEVENTMSG = 24, 0x4201
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_GET_SYSCALL_INFO = 0x4206, 0x4207, 0x420E
OPTIONS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x100000  # SYSGOOD, FORK, VFORK, CLONE, EXEC, EXITKILL
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC, EVENT_STOP = 1, 2, 3, 4, 128
INFO_ENTRY = 1
WALL = 0x40000000  # os.__WALL, which a name inside a class cannot spell
X32_BIT = 0x40000000
NAMES = {0xC000003E: x86_64.SYSCALL_NAMES, 0x40000003: i386.SYSCALL_NAMES}
SECCOMP_SET_MODE_FILTER, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 1, 22, 2


class SyscallInfo(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 3), ("arch", ctypes.c_uint32),
                ("instruction_pointer", ctypes.c_uint64), ("stack_pointer", ctypes.c_uint64),
                ("nr", ctypes.c_uint64), ("args", ctypes.c_uint64 * 6), ("ret_data", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32)]


def _resume(pid: int, sig: int = 0) -> None:
    try:
        ptrace(PTRACE_SYSCALL, pid, 0, sig)
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
        self.counting: set[int] = set()    # tids whose system calls go into the profile
        self.born: dict[int, bool] = {}    # new tid -> counts (from its parent's fork event)
        self.waiting: set[int] = set()     # new tids stopped before their parent's event told us
        self.marker: set[int] = set()      # the init, between its seccomp() entry and exit
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
                self.counting.discard(pid)
                if pid == self.init:
                    status_of_init = status
                continue
            if os.WIFSTOPPED(status):
                self._stopped(pid, os.WSTOPSIG(status), status >> 16)
        self._show(force=True)
        return status_of_init if status_of_init is not None else 0

    def _stopped(self, pid: int, sig: int, event: int) -> None:
        if pid not in self.live:  # a new tracee: counted as its parent is, once we know that
            self.live.add(pid)
            if pid not in self.born:
                self.waiting.add(pid)
                return  # resumed when its parent's fork/clone event arrives
            self._adopt(pid)
        if sig == signal.SIGTRAP | 0x80:
            self._syscall(pid)
            _resume(pid)
        elif sig == signal.SIGTRAP and event in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
            child = ctypes.c_ulong()
            ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(child))
            self.born[child.value] = pid in self.counting
            if child.value in self.waiting:
                self.waiting.discard(child.value)
                self._adopt(child.value)
                _resume(child.value)
            _resume(pid)
        elif sig == signal.SIGTRAP and event == EVENT_EXEC:
            self.counting.add(pid)  # the program itself (the init's, or one it runs)
            _resume(pid)
        elif event == EVENT_STOP:
            _resume(pid)  # the first stop, an interrupt, or job control's group stop: go on
        else:
            _resume(pid, sig)  # a signal for the tracee: delivered

    def _adopt(self, pid: int) -> None:
        if self.born.pop(pid, False):
            self.counting.add(pid)

    def _syscall(self, pid: int) -> None:
        info = SyscallInfo()
        try:
            ptrace(PTRACE_GET_SYSCALL_INFO, pid, ctypes.sizeof(info), ctypes.addressof(info))
        except Exception:
            return
        if info.op != INFO_ENTRY:
            if pid in self.marker:  # the filter is in: what the init does from here counts
                self.marker.discard(pid)
                self.counting.add(pid)
            return
        arch = ARCHS.get(info.arch, f"0x{info.arch:x}")
        nr = info.nr
        if info.arch == 0xC000003E and nr & X32_BIT:
            arch, nr = "SCMP_ARCH_X32", nr & ~X32_BIT
        name = NAMES.get(info.arch, {}).get(nr)
        if pid == self.init and pid not in self.counting and \
                (name == "seccomp" and info.args[0] == SECCOMP_SET_MODE_FILTER
                 or name == "prctl" and info.args[0] == PR_SET_SECCOMP and info.args[1] == SECCOMP_MODE_FILTER):
            self.marker.add(pid)
            return
        if pid not in self.counting:
            return
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
