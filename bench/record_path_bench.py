"""The record path alone: map + validate + change detection, in records/s on one core.

    .venv/bin/python bench/record_path_bench.py [--users 5000 --courses 200 --enrolments-per-course 50] [--report] [--profile]

Reads a generated simulator site once (in-process, over loopback) and keeps every enriched raw
record of every model; then, with no network involved, times on one thread (CPU time):
``RecordMapper.map`` (field expressions, JSON Schema validation, ids, ``remote_data``, the
two canonical hashes) and the writer's change detection (the hash comparison against the
stored hashes, here those of an identical previous read, i.e. the re-sync case).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, create_app, run_in_thread  # noqa: E402
from connectors.moodle.simulator._reportbuilder import add_participants_report  # noqa: E402
from engine.mapper import RecordMapper  # noqa: E402
from engine.runner import iter_enriched  # noqa: E402
from engine.store import open_store  # noqa: E402
from engine.store.base import Integration  # noqa: E402
from engine.sync import SyncEngine  # noqa: E402

IID = "moodle:RecordPathBench0000000000000"
REPORT_SORTING = ("course:courseshortnamewithlink", "user:username")


def collect(users: int, courses: int, per_course: int, report: bool = False) -> tuple[SyncEngine, object, dict[str, list[dict]]]:
    """Every enriched raw record per model, read once from a simulator site (with *report*:
    course_progressions from a sorted participants report, the report route)."""
    site = MoodleSite.generate(seed=1, users=users, courses=courses, enrolments_per_course=per_course)
    settings = {}
    if report:
        settings["enrolment_report_id"] = add_participants_report(site, sorting=REPORT_SORTING).id
    tmp = tempfile.mkdtemp()
    store = open_store(f"sqlite://{tmp}/rp.sqlite3")
    store.migrate()
    raws: dict[str, list[dict]] = {}
    with run_in_thread(create_app(site)) as base:
        integration = Integration(id=IID, connector="moodle", base_url=base, credentials={"token": ADMIN_TOKEN},
                                  settings=settings)
        store.add_integration(integration)
        engine = SyncEngine(store)
        transport = engine.transport(integration)
        ctx = engine.context(integration, transport)
        for model in ctx.specset.order(None):
            raws[model] = list(iter_enriched(ctx, ctx.specset.specs[model]))
        transport.close()
    return engine, ctx, raws


def run_path(ctx, raws: dict[str, list[dict]], existing: dict[str, dict[str, tuple[str, str]]] | None,
             per_model: dict[str, float] | None = None) -> tuple[int, float, dict]:
    """Map every record (on fresh copies) and classify it; return (records, CPU seconds, hashes)."""
    work = {m: copy.deepcopy(rs) for m, rs in raws.items()}
    hashes: dict[str, dict[str, tuple[str, str]]] = {}
    changed = 0
    started = time.process_time()
    for model, records in work.items():
        model_started = time.process_time()
        mapper = RecordMapper(ctx.specset.specs[model], ctx, IID, [ADMIN_TOKEN])
        seen = hashes[model] = {}
        old = (existing or {}).get(model, {})
        for raw in records:
            rec = mapper.map(raw)
            seen[rec.id] = (rec.content_hash, rec.raw_hash)
            if old.get(rec.id) != seen[rec.id]:
                changed += 1
        if per_model is not None:
            per_model[model] = min(per_model.get(model, 1e9), time.process_time() - model_started)
    cpu = time.process_time() - started
    return sum(map(len, work.values())), cpu, hashes


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--courses", type=int, default=200)
    parser.add_argument("--enrolments-per-course", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="course_progressions from a report (the report route)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    _, ctx, raws = collect(args.users, args.courses, args.enrolments_per_course, args.report)
    print("records per model: " + ", ".join(f"{m} {len(r)}" for m, r in raws.items()))
    _, _, hashes = run_path(ctx, raws, None)  # warm-up (and the "stored" hashes of the re-sync case)
    best = None
    per_model: dict[str, float] = {}
    for _ in range(args.rounds):
        n, cpu, _ = run_path(ctx, raws, hashes, per_model)
        best = cpu if best is None else min(best, cpu)
    print(f"record path: {n} records in {best:.2f} s CPU (best of {args.rounds}) = {n / best:,.0f} records/s on one core")
    print("per model (µs per record): " + ", ".join(f"{m} {per_model[m] / max(1, len(r)) * 1e6:.0f}" for m, r in raws.items()))
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run_path(ctx, raws, hashes)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    return 0


if __name__ == "__main__":
    sys.exit(main())
