"""Running the app with uvicorn: in the foreground, or in a thread on loopback for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

__all__ = ["listening_socket", "run_server", "serve_in_thread"]


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn. It is created with ``IPPROTO_TCP`` because only then does
    asyncio set TCP_NODELAY on accepted connections; without it a keep-alive response can wait
    ~40 ms for the client's delayed ACK (Nagle)."""
    family, _, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def run_server(app: Starlette, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve *app* with uvicorn until interrupted."""
    sock = listening_socket(host, port)
    config = uvicorn.Config(app, log_level="info", server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def serve_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve *app* with a real uvicorn server in a daemon thread; yield its base URL.

    ``port=0`` picks a free port. The server is shut down when the block exits.
    """
    sock = listening_socket(host, port)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="lmsync-api")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
