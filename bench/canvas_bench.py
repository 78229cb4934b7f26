"""Canvas sync benchmark: the raw limit vs lmsync (full sync, then re-sync) on one generated site.

    .venv/bin/python bench/canvas_bench.py --size small|medium [--latency-ms 0] [--json out.json]

The simulator (``CanvasSite.generate``, throttling off) is served by uvicorn in a thread of this
process, which only waits while a phase runs; each phase runs in its own child process, so its
peak RSS and CPU time are its own (``getrusage``). Phases, on the same data, one after the other:

* **raw**: plain httpx making exactly the calls lmsync's Canvas specs make — same endpoints,
  parameters and ``per_page``, every ``Link: rel="next"`` followed, the same concurrency (8 per
  fan-out or look-up), each answer parsed with orjson — and nothing else (no mapping, no store);
* **lmsync**: ``SyncEngine.sync`` (FULL) into a fresh SQLite store;
* **resync**: the same again on the synced store (nothing changed, nothing written).

The simulator counts the calls of each phase per endpoint; the raw phase must match lmsync's
counts endpoint by endpoint, and both the call formula of docs/canvas.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["SIZES", "run", "run_raw", "expected_calls", "main"]

# users, courses, student enrollments per course
SIZES: dict[str, dict[str, int]] = {
    "small": {"users": 1_000, "courses": 100, "enrolments_per_course": 20},
    "medium": {"users": 5_000, "courses": 400, "enrolments_per_course": 40},
}
MODELS = ("users", "skills", "courses", "course_revisions", "revision_skills", "course_progressions")
INTEGRATION_ID = "canvas:BenchIntegration000000000000"
PER_PAGE = 100
CONCURRENCY = 8
ENROLLMENT_STATES = ("active", "invited", "creation_pending", "inactive", "completed", "rejected")
COURSE_STATES = ("created", "claimed", "available", "completed")


# --- the raw limit ---------------------------------------------------------------------------
class _Raw:
    """httpx with the token header; counts calls per endpoint template, follows Link headers."""

    def __init__(self, base_url: str, token: str) -> None:
        limits = httpx.Limits(max_connections=2 * CONCURRENCY, max_keepalive_connections=2 * CONCURRENCY)
        self.http = httpx.Client(timeout=120, limits=limits, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.base = base_url
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def get(self, template: str, path: str, params: list[tuple[str, Any]] | None) -> httpx.Response:
        response = self.http.get(self.base + path if path.startswith("/") else path, params=params)
        with self.lock:
            self.calls[template] += 1
        return response

    def pages(self, template: str, path: str, params: list[tuple[str, Any]]) -> list[dict]:
        """Every page of a list endpoint (``Link: rel="next"`` followed as given); a 400 answer
        (bulk progress of a course that is not module based) is an empty list, as in lmsync."""
        out: list[dict] = []
        response = self.get(template, path, [*params, ("per_page", PER_PAGE)])
        while True:
            if response.status_code == 400:
                return out
            out.extend(orjson.loads(response.content))
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return out
            response = self.get(template, nxt, None)


def run_raw(base_url: str, token: str) -> dict[str, Any]:
    """Make every call of a FULL sync; wall seconds, calls per model, records per model and the
    quantities of the call formula (U, L, C, L_c, E_c, S_c)."""
    raw = _Raw(base_url, token)
    pool = ThreadPoolExecutor(CONCURRENCY)
    calls: dict[str, int] = {}
    records: dict[str, int] = {}
    t0 = time.perf_counter()

    def mark(model: str, before: int) -> None:
        calls[model] = sum(raw.calls.values()) - before

    n = sum(raw.calls.values())
    users = raw.pages("GET /api/v1/accounts/{account_id}/users", "/api/v1/accounts/1/users",
                      [("include[]", "email"), ("sort", "id")])
    logins = list(pool.map(lambda u: orjson.loads(raw.get("GET /api/v1/users/{user_id}/logins", f"/api/v1/users/{u['id']}/logins",
                                                          [("per_page", 100)]).content), users))
    records["users"] = len(users)
    mark("users", n)

    n = sum(raw.calls.values())
    links = raw.pages("GET /api/v1/accounts/{account_id}/outcome_group_links", "/api/v1/accounts/1/outcome_group_links",
                      [("outcome_style", "full")])
    records["skills"] = len({link["outcome"]["id"] for link in links})
    mark("skills", n)

    n = sum(raw.calls.values())
    courses = raw.pages("GET /api/v1/accounts/{account_id}/courses", "/api/v1/accounts/1/courses",
                        [("include[]", "syllabus_body"), *(("state[]", s) for s in COURSE_STATES)])
    records["courses"] = records["course_revisions"] = len(courses)
    mark("courses", n)
    calls["course_revisions"] = 0

    n = sum(raw.calls.values())
    course_links = list(pool.map(lambda c: raw.pages("GET /api/v1/courses/{course_id}/outcome_group_links",
                                                     f"/api/v1/courses/{c['id']}/outcome_group_links", []), courses))
    records["revision_skills"] = sum(1 for ls in course_links for x in ls if x["outcome"].get("context_type") != "Course")
    mark("revision_skills", n)

    n = sum(raw.calls.values())
    enrollments = list(pool.map(lambda c: raw.pages(
        "GET /api/v1/courses/{course_id}/enrollments", f"/api/v1/courses/{c['id']}/enrollments",
        [("type[]", "StudentEnrollment"), *(("state[]", s) for s in ENROLLMENT_STATES)]), courses))
    progress = list(pool.map(lambda c: raw.pages("GET /api/v1/courses/{course_id}/bulk_user_progress",
                                                 f"/api/v1/courses/{c['id']}/bulk_user_progress", []), courses))
    records["course_progressions"] = sum(map(len, enrollments))
    mark("course_progressions", n)
    wall = time.perf_counter() - t0
    pool.shutdown()
    raw.http.close()
    assert len(logins) == len(users)
    formula = {"U": len(users), "L": len(links), "C": len(courses), "L_c": [len(x) for x in course_links],
               "E_c": [len(x) for x in enrollments], "S_c": [len(x) for x in progress]}
    return {"wall_s": wall, "calls": calls, "records": records, "formula_inputs": formula}


def expected_calls(f: dict[str, Any], per_page: int = PER_PAGE) -> dict[str, int]:
    """The call formula of docs/canvas.md (⌈x/P⌉, at least 1) on the quantities the raw phase read."""
    pages = lambda n: max(1, math.ceil(n / per_page))  # noqa: E731
    return {"users": pages(f["U"]) + f["U"], "skills": pages(f["L"]), "courses": pages(f["C"]), "course_revisions": 0,
            "revision_skills": sum(map(pages, f["L_c"])),
            "course_progressions": sum(map(pages, f["E_c"])) + sum(map(pages, f["S_c"]))}


# --- the lmsync phases -----------------------------------------------------------------------
def _sync(base_url: str, store_url: str, token: str) -> dict[str, Any]:
    from bench._phase import run_figures
    from engine.store import open_store
    from engine.store.base import Integration
    from engine.sync import SyncEngine

    store = open_store(store_url)
    store.migrate()
    if store.get_integration(INTEGRATION_ID) is None:
        store.add_integration(Integration(id=INTEGRATION_ID, connector="canvas", base_url=base_url, credentials={"token": token}))
    engine = SyncEngine(store)
    started = time.perf_counter()
    run = engine.sync(INTEGRATION_ID, "FULL")
    wall = time.perf_counter() - started
    store.close()
    return run_figures(run, wall)


def _phase_main(argv: list[str]) -> None:
    """Child process: run one phase, print its JSON line (with peak RSS and CPU seconds)."""
    from connectors.canvas.simulator import ADMIN_TOKEN

    kind, base_url = argv[0], argv[1]
    result = run_raw(base_url, ADMIN_TOKEN) if kind == "raw" else _sync(base_url, argv[2], ADMIN_TOKEN)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["max_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result), flush=True)


def _phase(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--phase", *args], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(size: str, latency_ms: float = 0.0) -> dict[str, Any]:
    """Generate the site, serve it, run the three phases; every figure."""
    from connectors.canvas.simulator import CanvasSite, create_app, run_in_thread

    spec = SIZES[size]
    started = time.perf_counter()
    site = CanvasSite.generate(seed=1, **spec)
    site.throttle.enabled = False  # throughput, not Canvas's rate limit (tests/canvas/faults cover throttling)
    result: dict[str, Any] = {"size": size, "site": spec, "latency_ms": latency_ms, "generate_s": time.perf_counter() - started}
    app = create_app(site, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as tmp, run_in_thread(app) as url:
        store_url = f"sqlite://{tmp}/bench.sqlite3"
        for name, args in (("raw", ["raw", url]), ("lmsync", ["sync", url, store_url]), ("resync", ["sync", url, store_url])):
            before = Counter(app.calls)
            figures = _phase(args)
            figures["endpoint_calls"] = {f"{m} {t}": n for (m, t), n in (Counter(app.calls) - before).items()}
            result[name] = figures
            print(f"  {name}: {figures['wall_s']:.2f} s", file=sys.stderr, flush=True)
    result["expected_calls"] = expected_calls(result["raw"]["formula_inputs"])
    return result


def _table(r: dict[str, Any]) -> str:
    raw = r["raw"]
    total = sum(raw["records"].values())
    lines = [f"size={r['size']} {r['site']} latency={r['latency_ms']:g} ms store=sqlite (site generated in {r['generate_s']:.2f} s)",
             f"{'phase':<10}{'wall s':>9}{'records/s':>11}{'calls':>8}{'calls/s':>9}{'peak RSS MB':>13}{'CPU s':>8}{'x raw':>7}"]
    for name in ("raw", "lmsync", "resync"):
        p = r[name]
        calls = sum(p["endpoint_calls"].values())
        lines.append(f"{name:<10}{p['wall_s']:>9.2f}{total / p['wall_s']:>11,.0f}{calls:>8}{calls / p['wall_s']:>9,.0f}"
                     f"{p['max_rss_mb']:>13.0f}{p['cpu_s']:>8.1f}{p['wall_s'] / raw['wall_s']:>7.2f}")
    lines.append(f"{'model':<22}{'records':>9}{'formula':>9}{'raw':>7}{'lmsync':>8}{'resync':>8}  check")
    ok = True
    for m in MODELS:
        exp = r["expected_calls"][m]
        got = (raw["calls"][m], r["lmsync"]["calls"][m], r["resync"]["calls"][m])
        good = all(g == exp for g in got)
        ok &= good
        lines.append(f"{m:<22}{raw['records'][m]:>9}{exp:>9}{got[0]:>7}{got[1]:>8}{got[2]:>8}  {'ok' if good else 'MISMATCH'}")
    same = r["raw"]["endpoint_calls"] == r["lmsync"]["endpoint_calls"] == r["resync"]["endpoint_calls"]
    written = sum(r["resync"]["written"].values())
    lines.append(f"calls match formula: {'yes' if ok else 'NO'}; raw = lmsync per endpoint: {'yes' if same else 'NO'};"
                 f" re-sync wrote {written} records ({'ok' if written == 0 else 'EXPECTED 0'});"
                 f" re-sync/full = {r['resync']['wall_s'] / r['lmsync']['wall_s']:.2f}")
    lines.append("lmsync seconds per model: " + ", ".join(f"{m} {r['lmsync']['seconds'][m]:.2f}" for m in MODELS))
    if not same:
        for name in ("raw", "lmsync"):
            lines.append(f"{name} per endpoint: {json.dumps(r[name]['endpoint_calls'], sort_keys=True)}")
    return "\n".join(lines)


def main() -> int:
    """Command line."""
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        _phase_main(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated Canvas latency per request")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    args = parser.parse_args()
    result = run(args.size, args.latency_ms)
    print(_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
