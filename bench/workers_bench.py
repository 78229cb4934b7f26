"""Syncs per hour of many small integrations with 1, 2 and 4 Celery workers.

Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (user postgres). Each round
uses a fresh PG schema and a fresh Redis DB number, starts W ``lmsync worker --pool solo``
processes, queues one FULL sync per integration and times until all succeeded.

The simulated sites answer with ``--latency-ms`` per call (a remote Moodle is a network hop
away); the simulators run in this process, so on a small machine they share its CPU.

    .venv/bin/python bench/workers_bench.py --integrations 24 --workers 1 2 4 --latency-ms 25
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, SimControl, create_app, run_in_thread  # noqa: E402
from engine.ids import random_id  # noqa: E402
from engine.secrets import generate_key  # noqa: E402
from engine.store import open_store  # noqa: E402
from engine.store.base import Integration  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _free_redis_db() -> int:
    for db in range(15, 0, -1):
        client = redis.Redis(db=db)
        if client.dbsize() == 0:
            return db
    raise SystemExit("no empty Redis DB number")


def _start_workers(n: int, env: dict[str, str], logdir: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        log = open(logdir / f"w{i}.log", "wb")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "worker", "--pool", "solo", "-c", "1", "-n", f"w{i}@bench",
             "--loglevel", "INFO"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    deadline = time.monotonic() + 60
    while not all("ready" in (logdir / f"w{i}.log").read_text(errors="replace") for i in range(n)):
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
        time.sleep(0.2)
    return procs


def one_round(workers: int, urls: list[str]) -> float:
    """Seconds to sync every integration once with *workers* worker processes."""
    schema = "lmsync_bench_" + random_id().lower()
    db = _free_redis_db()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LMSYNC_SECRET_KEY": generate_key(),
           "LMSYNC_DATABASE_URL": f"{PG}?schema={schema}", "LMSYNC_BROKER_URL": f"redis://127.0.0.1:6379/{db}",
           "LMSYNC_QUEUE": f"bench-{schema}"}
    os.environ.update({k: env[k] for k in ("LMSYNC_SECRET_KEY", "LMSYNC_DATABASE_URL", "LMSYNC_BROKER_URL", "LMSYNC_QUEUE")})
    store = open_store(env["LMSYNC_DATABASE_URL"])
    store.migrate()
    ids = []
    for n, url in enumerate(urls):
        iid = f"moodle:bench{n:04d}"
        store.add_integration(Integration(id=iid, connector="moodle", base_url=url, credentials={"token": ADMIN_TOKEN}))
        ids.append(iid)
    from engine.worker import CelerySyncQueue

    with tempfile.TemporaryDirectory() as logdir:
        procs = _start_workers(workers, env, Path(logdir))
        try:
            queue = CelerySyncQueue(store)
            started = time.perf_counter()
            for iid in ids:
                queue.force_sync(iid, "FULL")
            while True:
                done = [r for iid in ids for r in store.list_runs(iid, 1) if r.status in ("succeeded", "failed")]
                if len(done) == len(ids):
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            failed = [r.id for r in done if r.status != "succeeded"]
            if failed:
                raise SystemExit(f"{len(failed)} syncs failed")
            queue.close()
        finally:
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                p.wait(timeout=30)
    store.close()
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    redis.Redis(db=db).flushdb()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrations", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--courses", type=int, default=4)
    args = parser.parse_args()
    control = SimControl(latency_ms=args.latency_ms)
    sites = [MoodleSite.generate(seed=n, users=args.users, courses=args.courses, enrolments_per_course=5)
             for n in range(args.integrations)]
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(run_in_thread(create_app(site, control))) for site in sites]
        control.reset_calls()
        print(f"{args.integrations} integrations ({args.users} users, {args.courses} courses each), "
              f"{args.latency_ms:g} ms per Moodle call, {os.cpu_count()} CPUs")
        print("| workers | seconds for all | syncs per hour | speed-up |")
        print("|---|---|---|---|")
        base = None
        for w in args.workers:
            secs = one_round(w, urls)
            rate = args.integrations / secs * 3600
            base = base or rate
            print(f"| {w} | {secs:.1f} | {rate:,.0f} | {rate / base:.2f}x |", flush=True)
        calls = sum(control.calls.values()) / (args.integrations * len(args.workers))
        print(f"(about {calls:.0f} Moodle calls per sync)")


if __name__ == "__main__":
    main()
