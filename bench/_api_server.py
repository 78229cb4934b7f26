"""The lmsync API over one store, served by uvicorn in this process (a child of api_bench.py).

``python -m bench._api_server STORE_URL`` prints ``PORT`` on its first line, then serves until
terminated. The listening socket comes from ``engine.api.listening_socket`` (TCP_NODELAY).
"""

from __future__ import annotations

import sys

import uvicorn

from engine.api import listening_socket
from engine.api._server import server_config
from engine.cli._sync import api_app
from engine.store import open_store
from engine.sync import SyncEngine


def main(store_url: str) -> None:
    """Serve the API of *store_url* on a free loopback port."""
    store = open_store(store_url)
    store.migrate()  # as `lmsync serve` does (a store synced by an older version gains new tables)
    app = api_app(store, SyncEngine(store))
    sock = listening_socket("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    try:
        uvicorn.Server(server_config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])
    finally:
        store.close()


if __name__ == "__main__":
    main(sys.argv[1])
