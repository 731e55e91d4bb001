"""What a remote command talks to: an exec'd process (pipes, or a pty the runtime hands over
through --console-socket), or a running container's stdio through conmon's attach socket.

Each offers the same calls: read(name) for "stdout"/"stderr" (b"" at the end), write_stdin,
close_stdin, resize, wait() for the exit code (None when there is none, as for attach).
"""
from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import struct
import tempfile
import termios


class Piped:
    """`<runtime> exec` with pipes (no tty)."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @classmethod
    async def start(cls, argv: list[str], stdin: bool) -> "Piped":
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(proc)

    async def read(self, name: str) -> bytes:
        return await getattr(self.proc, name).read(65536)

    def write_stdin(self, data: bytes) -> None:
        if self.proc.stdin and not self.proc.stdin.is_closing():
            self.proc.stdin.write(data)

    def close_stdin(self) -> None:
        if self.proc.stdin and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    def resize(self, width: int, height: int) -> None:
        pass

    async def wait(self) -> int | None:
        return await self.proc.wait()

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


class Terminal:
    """`<runtime> exec --tty`: the runtime sends the pty's master over a unix socket (runc's protocol)."""

    def __init__(self, proc, master: int):
        self.proc, self.master = proc, master
        self.output: asyncio.Queue = asyncio.Queue()
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._readable)

    @classmethod
    async def start(cls, argv_for) -> "Terminal":
        """``argv_for(console_socket)``: the runtime's command line."""
        # a short path (a unix socket's is at most 107 bytes), in a directory only root can enter
        tmp = tempfile.mkdtemp(prefix="pyruntime-cri-console-")
        path = os.path.join(tmp, "sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            listener.bind(path)
            listener.listen(1)
            listener.setblocking(False)
            proc = await asyncio.create_subprocess_exec(*argv_for(path), stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.PIPE)
            loop = asyncio.get_running_loop()
            accept = asyncio.ensure_future(loop.sock_accept(listener))
            exited = asyncio.ensure_future(proc.wait())
            await asyncio.wait({accept, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not accept.done():
                accept.cancel()
                err = (await proc.stderr.read()).decode(errors="replace").strip()
                raise OSError(err.splitlines()[-1] if err else "the runtime sent no terminal")
            exited.cancel()
            conn, _ = accept.result()
            with conn:
                conn.setblocking(True)
                _, fds, _, _ = await loop.run_in_executor(None, socket.recv_fds, conn, 4096, 1)
            if not fds:
                raise OSError("the runtime sent no terminal")
            return cls(proc, fds[0])
        finally:
            listener.close()
            os.unlink(path) if os.path.exists(path) else None
            os.rmdir(tmp)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the last process holding the pty's other side is gone
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self.output.put_nowait(data)

    async def read(self, name: str) -> bytes:
        return await self.output.get() if name == "stdout" else b""

    def write_stdin(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except OSError:
            pass

    def close_stdin(self) -> None:
        self.write_stdin(b"\x04")  # a terminal's end of input is ^D

    def resize(self, width: int, height: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int | None:
        code = await self.proc.wait()
        return code

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    def release(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.master)
        except (ValueError, RuntimeError):
            pass
        os.close(self.master)


class Attached:
    """A running container's stdio through conmon's attach socket (SOCK_SEQPACKET): each packet
    from conmon starts with its pipe (2 stdout, 3 stderr); what we send is the container's stdin."""

    STDOUT, STDERR = 2, 3

    def __init__(self, sock: socket.socket, bundle: str):
        self.sock, self.bundle = sock, bundle
        self.queues = {"stdout": asyncio.Queue(), "stderr": asyncio.Queue()}
        self.done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    @classmethod
    async def start(cls, bundle: str) -> "Attached":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sock.setblocking(False)
        # a bundle's path may be longer than a socket address can be: reach it through an fd
        directory = os.open(bundle, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            await asyncio.get_running_loop().sock_connect(sock, f"/proc/self/fd/{directory}/attach")
        except OSError:
            sock.close()
            raise
        finally:
            os.close(directory)
        return cls(sock, bundle)

    def _readable(self) -> None:
        try:
            packet = self.sock.recv(8193)
        except BlockingIOError:
            return
        except OSError:
            packet = b""
        if not packet:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            for q in self.queues.values():
                q.put_nowait(b"")
            if not self.done.done():
                self.done.set_result(None)
            return
        name = "stdout" if packet[0] == self.STDOUT else "stderr" if packet[0] == self.STDERR else None
        if name and len(packet) > 1:
            self.queues[name].put_nowait(packet[1:])

    async def read(self, name: str) -> bytes:
        return await self.queues[name].get()

    def write_stdin(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError:
            pass

    def close_stdin(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def resize(self, width: int, height: int) -> None:
        try:
            fd = os.open(os.path.join(self.bundle, "ctl"), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.write(fd, f"1 {height} {width}\n".encode())  # conmon's resize message
        finally:
            os.close(fd)

    async def wait(self) -> int | None:
        await self.done
        return None

    def kill(self) -> None:
        self.release()

    def release(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        except (ValueError, RuntimeError):
            pass
        self.sock.close()
