"""pyruntime-cri: the daemon. Reads its config, rebuilds its state from disk, serves CRI on a unix socket.

    pyruntime-cri [--config FILE] [--socket PATH] [--root DIR] [--state DIR] [--log-level LEVEL]
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from . import config as config_mod
from .errors import CRIError


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pyruntime-cri", description="A Kubernetes CRI runtime on pyruntime.")
    p.add_argument("--config", help="TOML file (every key has a default)")
    p.add_argument("--socket", help="the CRI endpoint (default /run/pyruntime-cri/cri.sock)")
    p.add_argument("--root", help="records, images and bundles (default /var/lib/pyruntime-cri)")
    p.add_argument("--state", help="exit files and namespace pins (default /run/pyruntime-cri)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    return p.parse_args(argv)


def without_openssl() -> None:
    """Keep OpenSSL out of the daemon: libcrypto and libssl cost ~4.5 MB of RSS for its whole
    life, and it speaks no TLS of its own unless streaming TLS is configured (gRPC carries its
    own, registries are the pull worker's). asyncio imports ssl only to offer TLS transports
    and does without it when the module is missing, as hashlib does without OpenSSL's
    digests (the built-in sha1 serves the WebSocket handshake). Called before asyncio is
    imported; a None entry makes any later import of these fail loudly rather than load them.
    """
    for name in ("ssl", "_ssl", "_hashlib"):
        sys.modules.setdefault(name, None)


async def serve(config) -> None:
    import asyncio

    import grpc

    from ._proto import cri_pb2_grpc
    from .core import Adapter
    from .image_service import ImageService
    from .runtime_service import RuntimeService

    from .recover import recover
    from .streaming import handlers
    from .streaming.server import Server

    # a TERM from the moment the socket exists is a clean stop
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    adapter = Adapter(config)
    await recover(adapter)
    tls = (config.stream_tls_cert, config.stream_tls_key) if config.stream_tls_cert else None
    streaming = Server(config.stream_address, config.stream_port, handlers.make(adapter), tls)
    await streaming.start()
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 << 20),
                                      ("grpc.max_send_message_length", 16 << 20)])
    cri_pb2_grpc.add_RuntimeServiceServicer_to_server(RuntimeService(adapter, streaming), server)
    cri_pb2_grpc.add_ImageServiceServicer_to_server(ImageService(adapter), server)
    os.makedirs(os.path.dirname(config.socket), 0o700, exist_ok=True)
    if os.path.exists(config.socket):
        os.unlink(config.socket)  # a stale socket of an earlier run
    server.add_insecure_port(f"unix://{config.socket}")
    os.chmod(os.path.dirname(config.socket), 0o700)
    await server.start()
    logging.getLogger("pyruntime-cri").info("serving CRI on %s", config.socket)
    await stop.wait()
    await server.stop(5)
    await streaming.close()
    await adapter.images.close()
    if os.path.exists(config.socket):  # grpc may have removed it already
        os.unlink(config.socket)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = config_mod.load(args.config, {"socket": args.socket, "root": args.root, "state": args.state,
                                               "log_level": args.log_level})
    except CRIError as exc:
        print(f"pyruntime-cri: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyruntime-cri").setLevel(config.log_level.upper())  # grpc's and httpx's stay quiet
    if not config.stream_tls_cert:
        without_openssl()
    import asyncio
    try:
        asyncio.run(serve(config))
    except CRIError as exc:
        print(f"pyruntime-cri: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
