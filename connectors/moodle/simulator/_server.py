"""Running the simulator: `run_in_thread()` for tests and `main()` for the command line."""

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

from ._app import MoodleApp, create_app
from ._control import SimControl
from ._tokens import ADMIN_TOKEN

__all__ = ["run_in_thread", "main", "http_impl"]


def http_impl() -> str:
    """The fastest uvicorn HTTP implementation installed (httptools, else h11)."""
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          http=http_impl(), lifespan="off", timeout_keep_alive=30)


@contextlib.contextmanager
def run_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *,
                  startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yields the base URL, stops on exit.

    When `app` is a `MoodleApp`, its site's wwwroot is set to the base URL (like a real site).
    """
    sock = listening_socket(host, port)  # TCP_NODELAY on accepted connections
    base = f"http://{host}:{sock.getsockname()[1]}"
    if isinstance(app, MoodleApp):
        app.site.wwwroot = base
    server = uvicorn.Server(_config(app, host, sock.getsockname()[1]))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="moodle-simulator")
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("Moodle simulator did not start")
        time.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog or "python -m connectors.moodle.simulator",
                                     description="Faithful Moodle 5.0 REST web-service simulator",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8780, help="TCP port to listen on")
    parser.add_argument("--users", type=int, default=200, help="generated users")
    parser.add_argument("--courses", type=int, default=20, help="generated courses")
    parser.add_argument("--enrolments-per-course", type=int, default=10, help="generated enrolments per course")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the generated site")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added delay per request (milliseconds)")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault (0..1)")
    parser.add_argument("--debug", action="store_true", help="site debugging on (debuginfo in errors)")
    parser.add_argument("--tiny", action="store_true", help="serve tiny_site() instead of a generated site")
    parser.add_argument("--report", action="store_true",
                        help="add a sorted 'Course participants' custom report with the sync columns")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Command-line entry: generate a site, print URL and admin token, serve until interrupted."""
    from ._site import MoodleSite
    from ._tiny import tiny_site
    args = _parser(prog).parse_args(argv)
    site = tiny_site() if args.tiny else MoodleSite.generate(
        seed=args.seed, users=args.users, courses=args.courses,
        enrolments_per_course=args.enrolments_per_course)
    if args.report:
        from ._reportbuilder import SYNC_FILTERS, SYNC_SORTING, add_participants_report
        report = add_participants_report(site, sorting=SYNC_SORTING, filters=SYNC_FILTERS)
        print(f"report id: {report.id}", flush=True)
    control = SimControl(latency_ms=args.latency_ms, fault_rate=args.fault_rate, seed=args.seed)
    app = create_app(site, control, debug=args.debug)
    base = f"http://{args.host}:{args.port}"
    site.wwwroot = base
    print(f"Moodle simulator: {base}/webservice/rest/server.php", flush=True)
    print(f"admin token: {ADMIN_TOKEN}", flush=True)
    uvicorn.Server(_config(app, args.host, args.port)).run(sockets=[listening_socket(args.host, args.port)])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
