"""Running the app with uvicorn: in the foreground, or in a thread on loopback for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

__all__ = ["KEEP_ALIVE_S", "listening_socket", "run_server", "serve_in_thread", "server_config"]

# How long an idle keep-alive connection stays open. uvicorn's default (5 s) equals httpx's
# pool expiry (5 s): a client reusing a connection just as the server closes it gets "Server
# disconnected". 75 s (nginx's default) outlasts the idle expiry of common client pools
# (httpx 5 s, aiohttp 15 s), so the client always gives a connection up first.
KEEP_ALIVE_S = 75


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn. It is created with ``IPPROTO_TCP`` because only then does
    asyncio set TCP_NODELAY on accepted connections; without it a keep-alive response can wait
    ~40 ms for the client's delayed ACK (Nagle)."""
    family, _, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def server_config(app: Starlette, **options) -> uvicorn.Config:
    """The uvicorn configuration every lmsync server uses (*options* override, e.g. log_level)."""
    return uvicorn.Config(app, **{"server_header": False, "timeout_keep_alive": KEEP_ALIVE_S, **options})


def run_server(app: Starlette, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve *app* with uvicorn until interrupted, then close its store (its connections)."""
    sock = listening_socket(host, port)
    try:
        uvicorn.Server(server_config(app, log_level="info")).run(sockets=[sock])
    finally:
        sock.close()
        store = getattr(app.state, "store", None)
        if store is not None:
            store.close()


@contextmanager
def serve_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve *app* with a real uvicorn server in a daemon thread; yield its base URL.

    ``port=0`` picks a free port. The server is shut down when the block exits.
    """
    sock = listening_socket(host, port)
    server = uvicorn.Server(server_config(app, log_level="warning", lifespan="off"))
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
