"""process.terminal with --console-socket: the pty master arrives over SCM_RIGHTS."""
from __future__ import annotations

import array
import os
import socket
import threading
import time


class ConsoleReceiver:
    """What go-runc's console socket does: accept one connection, take the fd."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.master = None
        self.name = ""
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            fds = array.array("i")
            msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:fds.itemsize])
            self.master = fds[0]
            self.name = msg.decode()

    def read_all(self, timeout: float = 10.0) -> bytes:
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the slave side is closed, the program exited
                break
            if not chunk:
                break
            out += chunk
        return out

    def close(self) -> None:
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


def test_console_socket(runtime, bundle, tmp_path):
    bundle.edit(lambda c: c["process"].update(terminal=True, consoleSize={"height": 33, "width": 101}))
    bundle.set_args("sh", "-c", "tty; stty size; ls -l /dev/console | cut -c1; echo done")
    receiver = ConsoleReceiver(str(tmp_path / "console.sock"))
    try:
        cid = runtime.new_id()
        runtime.run("create", "--bundle", bundle.path, "--console-socket", receiver.path, cid, check=True)
        receiver.thread.join(5)
        assert receiver.master is not None, "no pty master received"
        assert receiver.name.startswith("/dev/pts/")
        runtime.run("start", cid, check=True)
        text = receiver.read_all().decode().replace("\r", "")
        lines = text.split("\n")
        assert lines[0] == receiver.name
        assert lines[1] == "33 101"
        assert lines[2] == "c" and "done" in lines
    finally:
        receiver.close()
