"""End to end on a sync whose calls are few (the report route): lmsync vs the raw-fetch limit.

    .venv/bin/python bench/e2e_bench.py [--size large] [--code DIR ...] [--rounds 2]

One simulator process serves a generated site with a sorted "Course participants" report
(``enrolment_report_id`` set: course_progressions comes from ~10 report pages, users and courses
from one call each). Each phase runs in its own child process (peak RSS, CPU time are its own):

* **sync**: ``SyncEngine(store).sync(...)`` of users, courses, course_revisions and
  course_progressions into a fresh SQLite file, every HTTP request recorded;
* **raw**: the recorded requests replayed with plain httpx, each answer parsed with orjson,
  nothing else (the raw-fetch limit of the same sync).

``--code DIR`` runs a sync phase with ``PYTHONPATH=DIR`` (e.g. a copy of the tree before a change),
so code versions are compared within one run on the same simulator; phases alternate per round,
after one warm-up sync (the simulator builds its report rows on the first read).
``E2E_MODELS=users,courses`` syncs only those models; ``E2E_PROFILE=file.prof`` dumps a cProfile
of each sync phase (main thread only); ``E2E_PROFILE=file.txt`` writes a pyinstrument sampling profile.
Figures: wall s and CPU s (``time.process_time``) of the sync itself, records/s over CPU and
over wall, peak RSS of the phase process, CPU relative to the raw phase.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("E2E_CODE", str(ROOT)))  # a phase runs the code under test

IID = "moodle:E2EBenchIntegration0000000000"
MODELS = ("users", "courses", "course_revisions", "course_progressions")
SORTING = ("course:courseshortnamewithlink", "user:username")


# ------------------------------------------------------------------------------- simulator
def _serve(size: str, port_out: Any, report_out: Any, ready: Any) -> None:
    import uvicorn

    from bench._sim import SIZES
    from connectors.moodle.simulator import SimControl, create_app
    from connectors.moodle.simulator import MoodleSite
    from connectors.moodle.simulator._reportbuilder import add_participants_report
    from connectors.moodle.simulator._server import http_impl
    from engine.api import listening_socket

    site = MoodleSite.generate(seed=1, **SIZES[size])
    report = add_participants_report(site, sorting=SORTING)
    sock = listening_socket("127.0.0.1", 0)
    sock.listen(128)
    port = sock.getsockname()[1]
    site.wwwroot = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(create_app(site, SimControl(latency_ms=0)), log_level="warning", access_log=False,
                            http=http_impl(), lifespan="off", timeout_keep_alive=60)
    port_out.value, report_out.value = port, report.id
    ready.set()
    uvicorn.Server(config).run(sockets=[sock])


# ------------------------------------------------------------------------------- phases
def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024}


def phase_sync(base_url: str, report_id: int, requests_out: str) -> dict[str, Any]:
    """A full sync of MODELS into a fresh SQLite store; the requests it made go to *requests_out*."""
    import httpx

    from connectors.moodle.simulator import ADMIN_TOKEN
    from engine.store import open_store
    from engine.store.base import Integration
    from engine.sync import SyncEngine

    recorded: list[list[Any]] = []

    def record(request: httpx.Request) -> None:
        recorded.append([request.method, str(request.url), request.content.decode("latin-1"),
                         dict(request.headers)])

    tmp = tempfile.mkdtemp()
    store = open_store(f"sqlite://{tmp}/e2e.sqlite3")
    store.migrate()
    store.add_integration(Integration(id=IID, connector="moodle", base_url=base_url, credentials={"token": ADMIN_TOKEN},
                                      settings={"enrolment_report_id": report_id}))
    engine = SyncEngine(store, client_factory=lambda: httpx.Client(timeout=120, event_hooks={"request": [record]}))
    profile = os.environ.get("E2E_PROFILE")
    prof = None
    if profile and profile.endswith(".txt"):  # a sampling profile (pyinstrument), less distorted
        from pyinstrument import Profiler
        prof = Profiler(interval=0.0005)
        prof.start()
    elif profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run = engine.sync(IID, "FULL", models=os.environ.get("E2E_MODELS", ",".join(MODELS)).split(","))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if prof is not None and profile.endswith(".txt"):
        prof.stop()
        with open(profile, "w") as fh:
            fh.write(prof.output_text(unicode=False, color=False, show_all=False))
    elif prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    store.close()
    if run.status != "succeeded":
        raise SystemExit(f"sync failed: {run.error}")
    with open(requests_out, "w") as fh:
        json.dump(recorded, fh)
    stats = run.stats
    return {"wall_s": wall, "sync_cpu_s": cpu, "calls": sum(s["calls"] for s in stats.values()),
            "records": sum(s["created"] + s["updated"] + s["unchanged"] for s in stats.values()),
            "invalid": sum(s["invalid"] for s in stats.values()),
            "seconds": {m: s["seconds"] for m, s in stats.items()}, **_usage()}


def phase_raw(requests_in: str) -> dict[str, Any]:
    """The recorded requests replayed in order with plain httpx, answers parsed with orjson."""
    import httpx
    import orjson

    with open(requests_in) as fh:
        recorded = json.load(fh)
    client = httpx.Client(timeout=120)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    records = 0
    for method, url, content, headers in recorded:
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")}
        answer = orjson.loads(client.request(method, url, content=content.encode("latin-1"), headers=headers).content)
        if isinstance(answer, list):
            records += len(answer)
        elif isinstance(answer, dict) and isinstance(answer.get("data"), dict):
            records += len(answer["data"].get("rows") or [])
        elif isinstance(answer, dict) and isinstance(answer.get("users"), list):
            records += len(answer["users"])
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"wall_s": wall, "sync_cpu_s": cpu, "calls": len(recorded), "records": records, **_usage()}


def _child(kind: str, code: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code), "E2E_CODE": str(code)}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "e2e_bench.py"), "--phase", kind, *args],
                         cwd=str(code), env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"phase {kind} ({code}) failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--code", action="append", default=[], help="another source tree to sync with (repeatable)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.phase == "sync":
        print(json.dumps(phase_sync(opts.args[0], int(opts.args[1]), opts.args[2])))
        return 0
    if opts.phase == "raw":
        print(json.dumps(phase_raw(opts.args[0])))
        return 0
    ctx = mp.get_context("fork")
    port, report, ready = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Event()
    sim = ctx.Process(target=_serve, args=(opts.size, port, report, ready), daemon=True)
    started = time.perf_counter()
    sim.start()
    try:
        if not ready.wait(600):
            raise SystemExit("simulator did not start")
        print(f"size={opts.size} report route, models {', '.join(MODELS)}; site generated in {time.perf_counter() - started:.1f} s")
        base = f"http://127.0.0.1:{port.value}"
        time.sleep(0.3)
        codes = [ROOT, *(Path(c).resolve() for c in opts.code)]
        reqs = tempfile.mktemp(suffix=".json")
        print(f"{'phase':<34} {'wall s':>7} {'CPU s':>7} {'records':>8} {'calls':>6} {'rec/s CPU':>10} {'rec/s wall':>10} {'RSS MB':>7}  x raw CPU")
        _child("sync", ROOT, base, str(report.value), reqs)  # warm-up: the simulator builds its report rows once
        for _ in range(opts.rounds):
            results = [(f"lmsync {c}", _child("sync", c, base, str(report.value), reqs)) for c in codes]
            raw = _child("raw", ROOT, reqs)
            for name, r in [("raw (httpx + orjson)", raw), *results]:
                ratio = r["sync_cpu_s"] / raw["sync_cpu_s"]
                print(f"{name[-34:]:<34} {r['wall_s']:7.2f} {r['sync_cpu_s']:7.2f} {r['records']:8d} {r['calls']:6d}"
                      f" {r['records'] / r['sync_cpu_s']:10,.0f} {r['records'] / r['wall_s']:10,.0f} {r['max_rss_mb']:7.0f}  {ratio:.2f}")
            for name, r in results:
                print(f"  {name}: seconds per model " + ", ".join(f"{m} {s:.2f}" for m, s in r["seconds"].items()))
    finally:
        os.kill(sim.pid, signal.SIGTERM)
        sim.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
