"""The Moodle simulator for benchmarks: one generated site served by N forked uvicorn workers.

The site is generated once, then the listening socket is shared by ``workers`` forked
processes (copy-on-write: the dataset is not copied). Each worker adds the requests it served
and the seconds it spent inside the app to a shared array, so the bench can report the
simulator's own throughput.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import time
from typing import Any

import uvicorn

from connectors.moodle.simulator import ADMIN_TOKEN, BASE_TIME, MoodleSite, SimControl, create_app
from engine.api import listening_socket
from connectors.moodle.simulator._reportbuilder import SYNC_FILTERS, SYNC_SORTING, add_participants_report
from connectors.moodle.simulator._server import http_impl

__all__ = ["SIZES", "SimProcess", "ADMIN_TOKEN"]

# users, courses, enrolments per course, frameworks, competencies per framework
SIZES: dict[str, dict[str, int]] = {
    "small": {"users": 1_000, "courses": 100, "enrolments_per_course": 20, "frameworks": 2, "competencies_per_framework": 50},
    "medium": {"users": 10_000, "courses": 400, "enrolments_per_course": 50, "frameworks": 3, "competencies_per_framework": 500},
    "large": {"users": 50_000, "courses": 2_000, "enrolments_per_course": 50, "frameworks": 5, "competencies_per_framework": 1_200},
}


_STATS = 3  # per worker: requests, seconds inside the app, estimated Moodle PHP milliseconds


class _Counting:
    """ASGI wrapper: counts requests, the time spent serving them and the simulator's estimate
    of the PHP time a real Moodle would have spent (``site.php_cost``) into a shared array."""

    def __init__(self, app: Any, site: MoodleSite, stats: Any, slot: int) -> None:
        self.app, self.site, self.stats, self.slot = app, site, stats, slot

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        cost_before = self.site.php_cost.total_ms
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            busy = time.perf_counter() - started
            with self.stats.get_lock():
                self.stats[_STATS * self.slot] += 1
                self.stats[_STATS * self.slot + 1] += busy
                self.stats[_STATS * self.slot + 2] += self.site.php_cost.total_ms - cost_before


def change_progress(site: MoodleSite, share: float = 0.01) -> int:
    """Complete every criteria activity of ``share`` of the active, not completed enrolments
    (deterministically: every 1/share-th), then run the completion cron; the number changed."""
    step = max(int(round(1 / share)), 1)
    pairs = [(c, u) for c in sorted(site.course_enrolments) if c != 1 for u in sorted(site.course_enrolments[c])
             if site.is_active_in(c, u) and (c, u) not in site.course_completions]
    chosen = pairs[::step]
    for course, user in chosen:
        for cmid in site.courses[course].criteria_cmids:
            site.set_activity_state(cmid, user, 1)
    site.run_cron()
    return len(chosen)


def _worker(app: Any, site: MoodleSite, sock: socket.socket, stats: Any, slot: int, changed: Any) -> None:
    def on_change(*_: Any) -> None:  # SIGUSR1 between phases: 1 % of enrolments make progress
        count = change_progress(site)
        with changed.get_lock():
            changed.value += count + 1_000_000_000  # +1e9 per worker done: the parent waits for all

    signal.signal(signal.SIGUSR1, on_change)
    config = uvicorn.Config(_Counting(app, site, stats, slot), log_level="warning", access_log=False,
                            http=http_impl(), lifespan="off", timeout_keep_alive=60)
    uvicorn.Server(config).run(sockets=[sock])


def _serve(size: dict[str, int], latency_ms: float, workers: int, port_out: Any, stats: Any, pids: Any,
           ready: Any, report_out: Any, changed: Any) -> None:
    site = MoodleSite.generate(seed=1, **size)
    # a real site's completion cron has run long before a sync: aggregate what is ready, dated in the past
    site.fixed_now = BASE_TIME + 400 * 86_400
    site.run_cron()
    site.fixed_now = None
    # the report route's custom report, as an admin sets it up (sorted by course, then username)
    report_out.value = add_participants_report(site, sorting=SYNC_SORTING, filters=SYNC_FILTERS).id
    sock = listening_socket("127.0.0.1", 0)  # TCP_NODELAY on accepted connections
    sock.listen(1024)
    port = sock.getsockname()[1]
    site.wwwroot = f"http://127.0.0.1:{port}"
    app = create_app(site, SimControl(latency_ms=latency_ms))
    children = []
    for slot in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                _worker(app, site, sock, stats, slot, changed)
            finally:
                os._exit(0)
        pids[slot] = pid
        children.append(pid)
    port_out.value = port
    ready.set()

    def stop(*_: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            os.waitpid(pid, 0)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        signal.pause()


class SimProcess:
    """Start/stop the simulator in its own process tree; read its served-request counters."""

    def __init__(self, size: dict[str, int], latency_ms: float, workers: int) -> None:
        ctx = mp.get_context("fork")
        self.workers = workers
        self._stats = ctx.Array("d", _STATS * workers)
        self._port = ctx.Value("i", 0)
        self._report = ctx.Value("i", 0)
        self._pids = ctx.Array("i", workers)
        self._ready = ctx.Event()
        self._changed = ctx.Value("q", 0)
        self._proc = ctx.Process(target=_serve, args=(size, latency_ms, workers, self._port, self._stats,
                                                              self._pids, self._ready, self._report, self._changed),
                                 daemon=False, name="moodle-sim")

    def __enter__(self) -> "SimProcess":
        started = time.perf_counter()
        self._proc.start()
        if not self._ready.wait(600):
            raise RuntimeError("simulator did not start")
        self.generate_s = time.perf_counter() - started
        self.base_url = f"http://127.0.0.1:{self._port.value}"
        self.report_id = self._report.value
        time.sleep(0.3)  # let the workers reach accept()
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(30)

    def change_progress(self, timeout_s: float = 120) -> int:
        """Make 1 % of the enrolments progress on every worker's copy of the site (``change_progress``);
        the number of enrolments changed (per copy)."""
        self._changed.value = 0
        for pid in self._pids:
            os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while self._changed.value < 1_000_000_000 * self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not apply the change")
            time.sleep(0.05)
        return (self._changed.value - 1_000_000_000 * self.workers) // self.workers

    def counters(self) -> tuple[int, float, float, float]:
        """(requests served, seconds spent inside the app, CPU seconds, estimated Moodle PHP
        seconds), summed over workers. The seconds inside the app include the simulated latency;
        the CPU seconds do not."""
        with self._stats.get_lock():
            values = list(self._stats)
        return (int(sum(values[0::_STATS])), sum(values[1::_STATS]), sum(_cpu_seconds(pid) for pid in self._pids),
                sum(values[2::_STATS]) / 1000)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of *pid* from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
