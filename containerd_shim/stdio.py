"""A task process's stdio: containerd's fifos, handed to the process, or a pty the shim relays.

Without a terminal the process writes straight into containerd's stdout and stderr fifos (the
runc shim copies through pipes instead; nothing is gained by a copy here). The shim keeps a
reader of each fifo open so that a containerd restart does not break the process's writes, and
drops its own writer once the process has it, so containerd sees end-of-file exactly when the
process and what it left behind are done with them. Stdin goes through a pipe the shim feeds
from the fifo, so that CloseIO can end it. With a terminal, pyruntime sends the pty master over
a console socket and the shim relays between it and the fifos.
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import termios
import threading

from .ttrpc import INVALID_ARGUMENT, RpcError


def _fifo_path(uri: str) -> str:
    if uri.startswith("fifo://"):
        uri = uri[len("fifo://"):]
    if "://" in uri:
        raise RpcError(INVALID_ARGUMENT, f"stdio {uri!r}: only fifos are supported")
    return uri


def _pump(src: int, dst: int, stop: int = -1) -> None:
    """Copy ``src`` to ``dst`` until end-of-file, an error, or ``stop`` becoming readable; then
    close both (the only owner of each)."""
    poller = select.poll()
    poller.register(src, select.POLLIN)
    if stop >= 0:
        poller.register(stop, select.POLLIN)
    try:
        while True:
            ready = dict(poller.poll())
            if stop in ready:
                break
            if ready.get(src, 0) & select.POLLIN:
                try:
                    data = os.read(src, 32768)
                except BlockingIOError:
                    continue
                if not data:
                    break
                view = memoryview(data)
                while view:
                    view = view[os.write(dst, view):]
            elif ready.get(src):
                break  # hung up: a fifo's last writer, or a pty's last slave, closed
    except OSError:
        pass  # EIO: the pty's last slave closed; EPIPE: the reader went away
    finally:
        os.close(src)
        os.close(dst)


def _fifo_reader(uri: str) -> int:
    """A reader that does not wait for containerd to open the writer (poll waits instead)."""
    return os.open(_fifo_path(uri), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


class ProcessIO:
    def __init__(self, stdin: str, stdout: str, stderr: str, terminal: bool):
        self.stdin, self.stdout, self.stderr, self.terminal = stdin, stdout, stderr, terminal
        self.keep: list[int] = []  # the shim's readers of the output fifos
        self.child: list[int] = []  # fds 0-2 of `pyruntime create/exec`
        self.stop_stdin = -1  # written to by CloseIO: the stdin feed ends
        self.lock = threading.Lock()
        self.master = -1
        self.console: socket.socket | None = None
        self.console_dir = ""
        null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        if terminal:
            self.child = [null, null, null]
            self.console_dir = f"/tmp/pyruntime-shim-{os.urandom(8).hex()}"  # tempfile costs 4 ms to import
            os.mkdir(self.console_dir, 0o700)
            self.console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            self.console.bind(self.console_path)
            self.console.listen(1)
            return
        self.child = [self._stdin_pipe(null), self._writer(stdout, null), self._writer(stderr, null)]

    @property
    def console_path(self) -> str:
        return os.path.join(self.console_dir, "console.sock")

    def _writer(self, uri: str, null: int) -> int:
        if not uri:
            return null
        path = _fifo_path(uri)
        self.keep.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)

    def _stdin_pipe(self, null: int) -> int:
        if not self.stdin:
            return null
        reader, writer = os.pipe2(os.O_CLOEXEC)
        self._feed_stdin(writer)
        return reader

    def _feed_stdin(self, dst: int) -> None:
        """Copy the stdin fifo into ``dst`` until containerd closes it or CloseIO stops it."""
        stop_reader, self.stop_stdin = os.pipe2(os.O_CLOEXEC)
        src = _fifo_reader(self.stdin)

        def feed():
            try:
                _pump(src, dst, stop_reader)
            finally:
                os.close(stop_reader)
        threading.Thread(target=feed, daemon=True).start()

    def spawned(self) -> None:
        """The process has its fds (or failed): the shim's copies go, and a pty master is taken."""
        for fd in set(self.child):
            os.close(fd)
        self.child = []
        if self.console is None:
            return
        try:
            self.console.settimeout(0)  # pyruntime sent the master before it exited, or never will
            conn, _ = self.console.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
            self.master = fds[0]
        except (BlockingIOError, OSError, IndexError):
            pass
        finally:
            self.console.close()
            self.console = None
            os.unlink(self.console_path)
            os.rmdir(self.console_dir)
        if self.master >= 0:
            self._relay()

    def _relay(self) -> None:
        if self.stdout:
            out = os.open(_fifo_path(self.stdout), os.O_RDWR | os.O_CLOEXEC)  # never blocks, never EPIPEs
            threading.Thread(target=_pump, args=(os.dup(self.master), out), daemon=True).start()
        if self.stdin:
            self._feed_stdin(os.dup(self.master))

    def resize(self, width: int, height: int) -> None:
        if self.master >= 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def close_stdin(self) -> None:
        with self.lock:
            if self.stop_stdin < 0:
                return
            try:
                os.write(self.stop_stdin, b"x")
            except BrokenPipeError:
                pass  # the feed had ended (containerd closed the fifo, or the process its stdin)
            os.close(self.stop_stdin)
            self.stop_stdin = -1

    def close(self) -> None:
        self.close_stdin()
        for fd in self.keep:
            os.close(fd)
        self.keep = []
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
