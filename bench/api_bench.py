"""API read throughput, alone and under load while a sync writes.

    .venv/bin/python bench/api_bench.py --db /tmp/large.sqlite3     # a store synced by
        bench/sync_bench.py --size large --keep-db /tmp/large.sqlite3 (without --db: synced here)

1. One client pages through every course progression at page_size=250 (the API serves from
   uvicorn in a child process; the client is httpx on keep-alive, decoding with orjson so the
   figure is the API's, not the client's JSON parser's). Three runs: the first after the
   server started (embedded user/revision summaries not yet in the server's memory), a second
   (summaries kept, see ``engine.store._summaries``), and a third decoding with the stdlib
   ``json`` (``response.json()``), as a plain Python client would.
2. 50 concurrent clients (asyncio + httpx) page through the progressions over and over while,
   in another child process, a full sync of a second integration (a ``medium`` simulated
   site) writes into the same store. Reported: requests/s, records/s, p50/p99 latency, errors
   (any non-200 answer or transport error; must be 0) and the sync's own wall time.
3. With ``--rounds N``: N rounds of ``--clients`` pooled httpx clients (kept across rounds) each
   paging ``--requests`` pages, with ``--pause`` idle seconds between rounds (longer than the
   clients' 5 s keep-alive expiry, and than the 10 s after which idle server worker threads
   retire). Per round: errors (must be 0), the server's store connections (SQLite: its open
   descriptors on the database files, from /proc/<pid>/fd; PostgreSQL: its sessions in
   pg_stat_activity, by application_name ``lmsync:<schema>``), all its open descriptors and its
   RSS. They must stay flat (bounded by ``LMSYNC_DB_POOL_SIZE``).

    .venv/bin/python bench/api_bench.py --size small --skip-load --rounds 10
    .venv/bin/python bench/api_bench.py --size small --skip-load --rounds 10 \
        --store-url 'postgresql://postgres@127.0.0.1:5432/postgres?schema=lmsync_bench'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._sim import SIZES, SimProcess  # noqa: E402
from engine.api import create_api_key  # noqa: E402
from engine.store import open_store  # noqa: E402

PATH = "/v1/lms/course-progressions"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _build_db(store_url: str, size: str) -> None:
    with SimProcess(SIZES[size], 0, 1) as sim:
        subprocess.run([sys.executable, "-m", "bench._phase", "sync", sim.base_url, store_url], cwd=ROOT, env=ENV,
                       check=True, capture_output=True)


def _proc_figures(pid: int, db: str | None) -> tuple[int, int, float]:
    """(descriptors open on the database files, all open descriptors, RSS MB) of process *pid*."""
    fd_dir = Path(f"/proc/{pid}/fd")
    targets = []
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            targets.append(os.readlink(fd))
    on_db = sum(1 for t in targets if db and t.startswith(db))
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return on_db, len(targets), rss / 1024


def _pg_sessions(store_url: str) -> int:
    """Sessions of the store's schema (application_name ``lmsync:<schema>``) in pg_stat_activity."""
    import psycopg

    from engine.store.postgres import PostgresStore

    store = open_store(store_url)
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store._dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            [store.application_name]).fetchone()[0]


async def _round(clients: list[httpx.AsyncClient], requests: int) -> tuple[int, int]:
    """Each client pages *requests* pages (restarting at the end); (requests, errors)."""
    async def one(client: httpx.AsyncClient) -> tuple[int, int]:
        done = errors = 0
        cursor = ""
        for _ in range(requests):
            try:
                r = await client.get(PATH, params={"page_size": 250, "cursor": cursor})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                errors += 1
                cursor = ""
                continue
            done += 1
            cursor = orjson.loads(r.content)["data"]["next"] or ""
        return done, errors

    results = await asyncio.gather(*(one(c) for c in clients))
    return sum(r[0] for r in results), sum(r[1] for r in results)


async def _rounds(base: str, headers: dict[str, str], args: argparse.Namespace, pid: int, store_url: str,
                  db: str | None) -> int:
    clients = [httpx.AsyncClient(base_url=base, headers=headers, timeout=120) for _ in range(args.clients)]
    total_errors = 0
    try:
        for n in range(1, args.rounds + 1):
            started = time.perf_counter()
            done, errors = await _round(clients, args.requests)
            wall = time.perf_counter() - started
            total_errors += errors
            on_db, fds, rss = _proc_figures(pid, db)
            conns = f"db fds {on_db:3d}" if db else f"pg sessions {_pg_sessions(store_url):3d}"
            print(f"round {n:2d}: {done} requests in {wall:.1f} s, errors {errors}, server {conns},"
                  f" all fds {fds:3d}, RSS {rss:.0f} MB", flush=True)
            if n < args.rounds:
                await asyncio.sleep(args.pause)
    finally:
        for client in clients:
            await client.aclose()
    print(f"rounds: {args.rounds} x {args.clients} clients x {args.requests} pages, errors {total_errors}")
    return total_errors


def _page_all(base: str, headers: dict[str, str], stdlib_json: bool = False) -> tuple[int, int, float]:
    pages = records = 0
    cursor = ""
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        while True:
            r = client.get(PATH, params={"page_size": 250, "cursor": cursor})
            r.raise_for_status()
            data = (r.json() if stdlib_json else orjson.loads(r.content))["data"]
            pages += 1
            records += len(data["results"])
            cursor = data["next"]
            if not cursor:
                return pages, records, time.perf_counter() - started


async def _client(base: str, headers: dict[str, str], stop: asyncio.Event, lat: list[float], stats: dict[str, int]) -> None:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        cursor = ""
        while not stop.is_set():
            t = time.perf_counter()
            try:
                r = await client.get(PATH, params={"page_size": 250, "cursor": cursor})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            lat.append(time.perf_counter() - t)
            if not ok:
                stats["errors"] += 1
                cursor = ""
                continue
            data = orjson.loads(r.content)["data"]
            stats["requests"] += 1
            stats["records"] += len(data["results"])
            cursor = data["next"] or ""


async def _load(base: str, headers: dict[str, str], writer: subprocess.Popen, clients: int) -> dict[str, float]:
    stop = asyncio.Event()
    lat: list[float] = []
    stats = {"requests": 0, "records": 0, "errors": 0}
    started = time.perf_counter()
    tasks = [asyncio.create_task(_client(base, headers, stop, lat, stats)) for _ in range(clients)]
    while writer.poll() is None:
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    lat.sort()
    return {"wall_s": wall, "requests_per_s": stats["requests"] / wall, "records_per_s": stats["records"] / wall,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
            "errors": stats["errors"], "requests": stats["requests"], "sync_rc": writer.returncode}


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="an lmsync SQLite store holding a synced integration (copied, not changed)")
    parser.add_argument("--size", default="large", choices=sorted(SIZES), help="site to sync when --db is not given")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--writer-size", default="medium", choices=sorted(SIZES), help="site the concurrent sync reads")
    parser.add_argument("--store-url", help="serve this store instead of a temporary SQLite file (synced at --size if empty;"
                                            " the concurrent-sync phase needs SQLite)")
    parser.add_argument("--skip-paging", action="store_true", help="skip phase 1")
    parser.add_argument("--skip-load", action="store_true", help="skip phase 2 (50 clients while a sync writes)")
    parser.add_argument("--rounds", type=int, default=0, help="phase 3: this many rounds of concurrent clients")
    parser.add_argument("--requests", type=int, default=20, help="pages each client reads per round")
    parser.add_argument("--pause", type=float, default=11.0, help="idle seconds between rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = None if args.store_url else f"{tmp}/api.sqlite3"
        store_url = args.store_url or f"sqlite://{db}"
        if args.db and db:
            shutil.copy(args.db, db)
        store = open_store(store_url)
        store.migrate()
        if not store.list_integrations():
            store.close()
            _build_db(store_url, args.size)
            store = open_store(store_url)
        iid = store.list_integrations()[0].id
        headers = {"Authorization": f"Bearer {create_api_key(store, 'bench', [iid])}", "X-Integration-Id": iid}
        store.close()
        server = subprocess.Popen([sys.executable, "-m", "bench._api_server", store_url], cwd=ROOT, env=ENV,
                                  stdout=subprocess.PIPE, text=True)
        errors = 0
        try:
            base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
            time.sleep(0.5)
            if args.rounds:
                on_db, fds, rss = _proc_figures(server.pid, db)
                conns = f"db fds {on_db}" if db else f"pg sessions {_pg_sessions(store_url)}"
                print(f"server at start: {conns}, all fds {fds}, RSS {rss:.0f} MB")
            for label, stdlib_json in () if args.skip_paging else (("first", False), ("again", False), ("stdlib json client", True)):
                pages, records, wall = _page_all(base, headers, stdlib_json)
                print(f"paging ({label}): {records} progressions in {pages} pages of 250: {wall:.2f} s"
                      f" ({records / wall:,.0f} records/s, {pages / wall:.0f} pages/s)")
            if not args.skip_load:
                errors += _load_phase(args, base, headers, store_url)
            if args.rounds:
                errors += asyncio.run(_rounds(base, headers, args, server.pid, store_url, db))
        finally:
            server.terminate()
            server.wait(10)
    return 1 if errors else 0


def _load_phase(args: argparse.Namespace, base: str, headers: dict[str, str], store_url: str) -> int:
    """Phase 2; returns its error count."""
    with SimProcess(SIZES[args.writer_size], 0, 1) as sim:
        writer = subprocess.Popen([sys.executable, "-m", "bench._phase", "sync", sim.base_url, store_url,
                                   "moodle:BenchWriter0000000000000000"], cwd=ROOT, env=ENV,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        load = asyncio.run(_load(base, headers, writer, args.clients))
        out, err = writer.communicate()
    sync = json.loads(out.strip().splitlines()[-1]) if writer.returncode == 0 else {"error": err[-2000:]}
    print(f"load: {args.clients} clients paging for {load['wall_s']:.1f} s while a {args.writer_size} sync wrote"
          f" {sum(sync.get('written', {}).values())} records (sync exit {load['sync_rc']},"
          f" {sync.get('wall_s', 0):.1f} s): {load['requests_per_s']:.0f} requests/s,"
          f" {load['records_per_s']:,.0f} records/s, p50 {load['p50_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms,"
          f" errors {load['errors']}")
    if "error" in sync:
        print(sync["error"])
    return int(load["errors"])


if __name__ == "__main__":
    sys.exit(main())
