"""Sync benchmark: the raw limit vs lmsync (full sync, then re-sync) on one simulated Moodle site.

    .venv/bin/python bench/sync_bench.py --size large --latency-ms 0 [--route standard|report] [--store postgres] [--sim-workers 1]

The simulator runs in its own process tree (``bench._sim``); each phase runs in its own child
process (``bench._phase``), so each phase's peak RSS is its own (``getrusage``). Phases, on the
same data, one after the other: the raw limit (plain httpx, the same calls at the same
concurrency, JSON parsed, nothing else), the lmsync full sync, the lmsync re-sync (nothing
changed), then a DELTA after 1 % of the enrolments made progress (every criteria activity
completed, the completion cron run): its calls and Moodle-side cost against the FULL's. On the
report route the integration has report_delta_filters (the report's date filters narrow a DELTA
to the changed rows); ``--route report-scan`` leaves it off (a DELTA reads the whole report). The counted lmsync calls are checked against the formula in the README (Performance).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._sim import SIZES, SimProcess  # noqa: E402

MODELS = ("users", "skills", "courses", "course_revisions", "revision_skills", "course_progressions")
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PAGE = 1000


def expected_calls(f: dict[str, Any]) -> dict[str, int]:
    """The call formula (README, Performance) evaluated on the quantities the raw phase read."""
    pages = lambda n: n // PAGE + 1  # noqa: E731 - short-page stop: a full last page costs one empty page
    return {
        "users": 1,
        "skills": 1 + sum(pages(k) for k in f["K"]),
        "courses": 1,
        "course_revisions": 0,
        "revision_skills": f["C"],
        "course_progressions": (1 + -(-f["R"] // f["P"]) if "R" in f  # report route: a reset, then ⌈R / P⌉ pages
                                else sum(pages(e) for e in f["E"]) + sum(pages(s) for s in f["S"]) + f["U"] + f["X"]),
    }


def _phase(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench._phase", *args], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if out.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _store_url(kind: str, tmp: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite://{tmp}/bench.sqlite3", None
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    return f"{PG_URL}?schema={schema}", schema


def _drop_schema(schema: str) -> None:
    import psycopg
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(size: str, latency_ms: float, store: str, workers: int, profile: str | None,
        keep_db: str | None = None, route: str = "standard") -> dict[str, Any]:
    """Run the three phases; return every figure."""
    spec = SIZES[size]
    result: dict[str, Any] = {"size": size, "latency_ms": latency_ms, "store": store, "sim_workers": workers, "site": spec,
                              "route": route}
    with tempfile.TemporaryDirectory() as tmp, SimProcess(spec, latency_ms, workers) as sim:
        result["sim_generate_s"] = sim.generate_s
        url, schema = _store_url(store, tmp)
        report = [str(sim.report_id)] if route.startswith("report") else []
        settings = {"BENCH_SETTINGS": json.dumps({"enrolment_report_id": sim.report_id,
                                                  "report_delta_filters": route == "report"})} if report else {}
        try:
            for name, args, env in (("raw", ["raw", sim.base_url, *report], None),
                                    ("lmsync", ["sync", sim.base_url, url], {**settings, **({"BENCH_PROFILE": profile} if profile else {})}),
                                    ("resync", ["sync", sim.base_url, url], settings),
                                    ("delta", ["sync", sim.base_url, url], {**settings, "BENCH_KIND": "DELTA"})):
                if name == "delta":
                    result["changed_enrolments"] = sim.change_progress()
                before = sim.counters()
                figures = _phase(args, env)
                after = sim.counters()
                figures["sim_requests"] = after[0] - before[0]
                figures["sim_busy_s"] = after[1] - before[1]
                figures["sim_cpu_s"] = after[2] - before[2]
                figures["moodle_s"] = after[3] - before[3]
                result[name] = figures
                print(f"  {name}: {figures['wall_s']:.2f} s", file=sys.stderr, flush=True)
            if keep_db and store == "sqlite":
                import sqlite3
                src = sqlite3.connect(url[len("sqlite://"):])
                with sqlite3.connect(keep_db) as dst:
                    src.backup(dst)
                src.close()
        finally:
            if schema:
                _drop_schema(schema)
    result["expected_calls"] = expected_calls(result["raw"]["formula_inputs"])
    return result


def _table(r: dict[str, Any]) -> str:
    raw = r["raw"]
    total = sum(raw["records"].values())
    lines = [f"size={r['size']} route={r['route']} latency={r['latency_ms']:g} ms store={r['store']} simulator workers={r['sim_workers']}"
             f" (site generated in {r['sim_generate_s']:.1f} s)",
             f"{'phase':<10}{'wall s':>9}{'records/s':>11}{'calls':>8}{'peak RSS MB':>13}{'CPU s':>8}"
             f"{'sim req/s':>11}{'sim CPU s':>11}{'Moodle s':>10}{'x raw':>7}"]
    for name in ("raw", "lmsync", "resync", "delta"):
        p = r[name]
        calls = sum(p["calls"].values())
        lines.append(f"{name:<10}{p['wall_s']:>9.2f}{total / p['wall_s']:>11,.0f}{calls:>8}{p['max_rss_mb']:>13.0f}"
                     f"{p['cpu_s']:>8.1f}{p['sim_requests'] / p['wall_s']:>11,.0f}{p['sim_cpu_s']:>11.1f}"
                     f"{p['moodle_s']:>10.1f}{p['wall_s'] / raw['wall_s']:>7.2f}")
    lines.append(f"raw phase: {raw['wait_s']:.1f} s waiting on responses (summed over 8 threads)")
    lines.append(f"{'model':<22}{'records':>9}{'formula':>9}{'raw':>7}{'lmsync':>8}{'resync':>8}{'delta':>8}{'  check':<8}")
    ok = True
    for m in MODELS:
        exp = r["expected_calls"][m]
        got = (raw["calls"][m], r["lmsync"]["calls"][m], r["resync"]["calls"][m])
        good = all(g == exp for g in got)
        ok &= good
        lines.append(f"{m:<22}{raw['records'][m]:>9}{exp:>9}{got[0]:>7}{got[1]:>8}{got[2]:>8}{r['delta']['calls'][m]:>8}"
                     f"  {'ok' if good else 'MISMATCH'}")
    f = raw["formula_inputs"]
    tail = f" report rows R={f['R']} page P={f['P']}" if "R" in f else f" sum E={sum(f['E'])} sum S={sum(f['S'])} X={f['X']}"
    lines.append(f"formula inputs: U={f['U']} C={f['C']} F={f['F']} sum K={sum(f['K'])}{tail}")
    lines.append("Moodle s: the simulator's estimate of the PHP time a real Moodle spends on these calls (BULK-READS.md timings)")
    lines.append(f"DELTA after {r.get('changed_enrolments', 0):,} enrolments progressed: {sum(r['delta']['calls'].values())} calls, "
                 f"{sum(r['delta']['calls'].values()) / sum(r['lmsync']['calls'].values()):.3f} of the FULL's; "
                 f"Moodle s {r['delta']['moodle_s']:.1f} vs {r['lmsync']['moodle_s']:.1f}")
    written = sum(r["resync"]["written"].values())
    lines.append(f"calls match formula: {'yes' if ok else 'NO'}; re-sync wrote {written} records"
                 f" ({'ok' if written == 0 else 'EXPECTED 0'}); re-sync/full = {r['resync']['wall_s'] / r['lmsync']['wall_s']:.2f}")
    lines.append("lmsync peak RSS (MB) after each model: "
                 + ", ".join(f"{m} {v:.0f}" for m, v in r["lmsync"].get("peak_rss_mb_after", {}).items()))
    lines.append("lmsync seconds per model: " + ", ".join(f"{m} {r['lmsync']['seconds'][m]:.2f}" for m in MODELS))
    return "\n".join(lines)


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--sim-workers", type=int, default=1, help="uvicorn worker processes of the simulator")
    parser.add_argument("--profile", help="write a pyinstrument text profile of the lmsync phase to this file")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument("--keep-db", help="copy the synced SQLite store to this file (input of api_bench.py)")
    parser.add_argument("--route", choices=("standard", "report", "report-scan"), default="standard",
                        help="course_progressions through the standard functions or the report-builder report")
    args = parser.parse_args()
    result = run(args.size, args.latency_ms, args.store, args.sim_workers, args.profile, args.keep_db, args.route)
    print(_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
