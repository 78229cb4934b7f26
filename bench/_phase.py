"""One bench phase in its own process (so its peak RSS is its own): ``raw`` or ``sync``.

``python -m bench._phase raw BASE_URL`` / ``python -m bench._phase sync BASE_URL STORE_URL [INTEGRATION_ID]``
prints one JSON line: the phase's figures plus ``max_rss_mb`` from ``getrusage(RUSAGE_SELF)``.
Set ``BENCH_PROFILE=file.html`` to profile the sync phase with pyinstrument.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any

__all__ = ["INTEGRATION_ID", "main", "run_figures"]

INTEGRATION_ID = "moodle:BenchIntegration000000000000"


def run_figures(run: Any, wall: float) -> dict[str, Any]:
    """What a benchmark reports of a finished sync run: wall seconds, calls, records read and
    written, seconds per model, retries, warnings (``SystemExit`` if it failed)."""
    if run.status != "succeeded":
        raise SystemExit(f"sync failed: {run.error}")
    stats = run.stats
    return {
        "wall_s": wall,
        "calls": {m: s["calls"] for m, s in stats.items()},
        "records": {m: s["created"] + s["updated"] + s["unchanged"] for m, s in stats.items()},
        "written": {m: s["created"] + s["updated"] + s["deleted"] for m, s in stats.items()},
        "seconds": {m: s["seconds"] for m, s in stats.items()},
        "retries": sum(s.get("retries", 0) for s in stats.values()),
        "warnings": len(run.warnings),
    }


def _sync(base_url: str, store_url: str, token: str, integration_id: str = INTEGRATION_ID) -> dict[str, Any]:
    from engine.store import open_store
    from engine.store.base import Integration
    from engine.sync import SyncEngine

    store = open_store(store_url)
    store.migrate()
    if store.get_integration(integration_id) is None:
        settings = json.loads(os.environ.get("BENCH_SETTINGS") or "{}")  # e.g. the report route's enrolment_report_id
        store.add_integration(Integration(id=integration_id, connector="moodle", base_url=base_url, credentials={"token": token},
                                          settings=settings))
    engine = SyncEngine(store)
    rss: dict[str, float] = {}

    def on_progress(progress: Any) -> None:
        if progress.done:
            rss[progress.model] = _vm("VmHWM")

    started = time.perf_counter()
    run = engine.sync(integration_id, os.environ.get("BENCH_KIND", "FULL"), on_progress=on_progress)
    wall = time.perf_counter() - started
    store.close()
    return {**run_figures(run, wall), "peak_rss_mb_after": rss}


def _vm(field: str) -> float:
    """A VmHWM/VmRSS figure of this process in MB (Linux), 0 elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main(argv: list[str]) -> None:
    """Run one phase and print its JSON line."""
    from bench._sim import ADMIN_TOKEN

    kind, base_url = argv[0], argv[1]
    if kind == "raw":
        from bench._raw import run_raw
        result = run_raw(base_url, ADMIN_TOKEN, report_id=int(argv[2]) if len(argv) > 2 else None)
    else:
        profile = os.environ.get("BENCH_PROFILE")
        if profile:
            from pyinstrument import Profiler
            with Profiler(interval=0.002) as prof:
                result = _sync(base_url, argv[2], ADMIN_TOKEN, *argv[3:])
            with open(profile, "w") as fh:
                fh.write(prof.output_text(unicode=False, show_all=False))
        else:
            result = _sync(base_url, argv[2], ADMIN_TOKEN, *argv[3:])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["max_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
