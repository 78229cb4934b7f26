"""The Kombo-compatible HTTP API of lmsync (Starlette), served under ``/v1``.

``create_app(store, services=ApiServices(...))`` builds the app; ``serve_in_thread`` /
``run_server`` run it with uvicorn; ``create_api_key`` mints keys for the CLI.
"""

from ._app import create_app
from ._errors import ApiError
from ._keys import create_api_key, hash_key, verify_key
from ._routes_actions import record_json, task_json
from ._server import listening_socket, run_server, serve_in_thread
from ._services import ApiServices

__all__ = [
    "create_app",
    "ApiServices",
    "ApiError",
    "create_api_key",
    "hash_key",
    "verify_key",
    "listening_socket",
    "run_server",
    "serve_in_thread",
    "record_json",
    "task_json",
]
