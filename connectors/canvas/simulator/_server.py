"""Running the simulator: `run_in_thread()` for tests and `main()` for a command line (the lead
registers it as `lmsync canvas-sim`)."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from engine.api import listening_socket

from ._app import create_app
from ._tokens import ADMIN_TOKEN, RESTRICTED_TOKEN

__all__ = ["run_in_thread", "main"]


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, http=http,
                          lifespan="off", timeout_keep_alive=30, server_header=False)


@contextlib.contextmanager
def run_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *,
                  startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yields the base URL, stops on exit."""
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, bound))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="canvas-simulator")
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"Canvas simulator did not start on {host}:{bound}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog or "python -m connectors.canvas.simulator",
                                     description="Faithful Canvas LMS REST API simulator",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8790, help="TCP port to listen on")
    parser.add_argument("--users", type=int, default=200, help="generated users")
    parser.add_argument("--courses", type=int, default=20, help="generated courses")
    parser.add_argument("--enrolments-per-course", type=int, default=10, help="generated enrollments per course")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the generated site")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added delay per request (milliseconds)")
    parser.add_argument("--no-throttle", action="store_true", help="never answer 403 Rate Limit Exceeded")
    parser.add_argument("--tiny", action="store_true", help="serve tiny_canvas_site() instead of a generated site")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Command-line entry: build a site, print the URL and tokens, serve until interrupted."""
    from ._site import CanvasSite
    from ._tiny import tiny_canvas_site
    args = _parser(prog).parse_args(argv)
    site = tiny_canvas_site() if args.tiny else CanvasSite.generate(
        seed=args.seed, users=args.users, courses=args.courses, enrolments_per_course=args.enrolments_per_course)
    site.throttle.enabled = not args.no_throttle
    app = create_app(site, latency_ms=args.latency_ms)
    print(f"Canvas simulator: http://{args.host}:{args.port}/api/v1", flush=True)
    print(f"admin token: {ADMIN_TOKEN}", flush=True)
    print(f"restricted token: {RESTRICTED_TOKEN}", flush=True)
    uvicorn.Server(_config(app, args.host, args.port)).run(sockets=[listening_socket(args.host, args.port)])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
