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
"""

from __future__ import annotations

import argparse
import asyncio
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


def _build_db(db: str, size: str) -> None:
    with SimProcess(SIZES[size], 0, 1) as sim:
        subprocess.run([sys.executable, "-m", "bench._phase", "sync", sim.base_url, f"sqlite://{db}"], cwd=ROOT, env=ENV,
                       check=True, capture_output=True)


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/api.sqlite3"
        if args.db:
            shutil.copy(args.db, db)
        else:
            _build_db(db, args.size)
        store = open_store(f"sqlite://{db}")
        iid = store.list_integrations()[0].id
        headers = {"Authorization": f"Bearer {create_api_key(store, 'bench', [iid])}", "X-Integration-Id": iid}
        store.close()
        server = subprocess.Popen([sys.executable, "-m", "bench._api_server", f"sqlite://{db}"], cwd=ROOT, env=ENV,
                                  stdout=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
            time.sleep(0.5)
            for label, stdlib_json in (("first", False), ("again", False), ("stdlib json client", True)):
                pages, records, wall = _page_all(base, headers, stdlib_json)
                print(f"paging ({label}): {records} progressions in {pages} pages of 250: {wall:.2f} s"
                      f" ({records / wall:,.0f} records/s, {pages / wall:.0f} pages/s)")
            with SimProcess(SIZES[args.writer_size], 0, 1) as sim:
                writer = subprocess.Popen([sys.executable, "-m", "bench._phase", "sync", sim.base_url, f"sqlite://{db}",
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
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
